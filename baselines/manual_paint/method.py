"""Manual paint: edits applied literally to a first segmentation, with no intelligence.

The lower bar every editing method must beat. In history order:

- a click fills (positive) or erases (negative) a ball of ``click_radius_mm``;
- a stroke paints (or erases) its voxels dilated by two voxels, as the paper's brush
  channel encodes them;
- an adjustment K moves the whole surface outwards (K > 0) or inwards (K < 0), by one
  distance everywhere, to the volume the paper's K implies. The simulated user types
  K = -(V_over - V_under) / V_gt = (V_gt - V) / V_gt for a prediction of volume V, so
  the volume it asks for is V_gt = V / (1 - K): K = -0.5 shrinks to 2/3 of the volume,
  K = 0.5 doubles it. (Reading K as a change of K x V instead emptied the mask whenever
  a prediction was more than twice too large (K <= -1); moving the surface by K x the
  equivalent radius changed the volume about three times too much.)
- a box says where the tumour is: a positive box erases everything outside it ("the
  tumour is inside"), a negative one everything inside it. It adds nothing: inside a
  positive box the first mask (and the later edits) stand as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import edt
import numpy as np

from benchmark.case import CaseImage
from benchmark.edits import TOOLS, Adjustment, Box, Click, EditHistory, Stroke, stamp
from benchmark.registry import MethodContext, method_factory
from baselines.initial import FlairThreshold, FolderMasks, InitialMask


def paint_ball(mask: np.ndarray, centre: tuple[int, int, int], radius_mm: float,
               spacing: tuple[float, float, float], value: bool) -> None:
    """Set voxels within ``radius_mm`` of ``centre`` to ``value``, in place. mask: bool [X,Y,Z]."""
    half = [int(np.floor(radius_mm / s)) for s in spacing]
    lo = [max(c - h, 0) for c, h in zip(centre, half)]
    hi = [min(c + h + 1, n) for c, h, n in zip(centre, half, mask.shape)]
    grids = np.ogrid[tuple(slice(a, b) for a, b in zip(lo, hi))]
    d2 = sum(((g - c) * s) ** 2 for g, c, s in zip(grids, centre, spacing))
    view = mask[tuple(slice(a, b) for a, b in zip(lo, hi))]
    view[d2 <= radius_mm**2] = value


def adjust_surface(mask: np.ndarray, k: float, spacing: tuple[float, float, float]) -> np.ndarray:
    """Move the surface of ``mask`` uniformly until its volume is ``volume / (1 - k)``.

    Grows (k > 0) by adding the outside voxels nearest to the mask, or shrinks (k < 0) by
    removing the inside voxels nearest to the outside, in order of Euclidean distance
    (mm), exactly as many as the new volume needs (round(V k / (1 - k)) of them).
    Voxels at the same distance (a whole shell of them on a thin or speckled mask, where
    one shell can exceed the mask's own volume) are taken nearest to the mask's centre
    of mass first when growing and farthest from it first when shrinking, so the change
    stays even around the mask and K below one shell still has an effect. k >= 1 asks
    for an unbounded volume: every voxel the distance transform reaches is added. An
    empty mask stays empty.

    Args:
        mask: bool [X, Y, Z].
        k: the adjustment K, (V_gt - V) / V_gt as the user estimates it.
        spacing: voxel size in mm along X, Y, Z.

    Returns:
        bool [X, Y, Z].
    """
    volume = np.count_nonzero(mask)
    if volume == 0 or k == 0:
        return mask.copy()
    grow = k > 0
    n = np.count_nonzero(~mask) if k >= 1 else int(round(abs(volume * k / (1 - k))))
    if n == 0:
        return mask.copy()
    region = ~mask if grow else mask
    depth = edt.edt(np.ascontiguousarray(region, dtype=np.uint8), anisotropy=spacing, black_border=not grow)
    index = np.flatnonzero(region)
    candidates = depth.ravel()[index]
    n = min(n, candidates.size)
    threshold = np.partition(candidates, n - 1)[n - 1]
    near = candidates <= threshold  # the shells that are taken, the last one maybe in part
    index, candidates = index[near], candidates[near]
    if index.size > n:
        coords = np.stack(np.unravel_index(index, mask.shape), axis=1)
        centre = np.argwhere(mask).mean(axis=0)
        from_centre = (((coords - centre) * np.asarray(spacing)) ** 2).sum(axis=1)
        order = np.lexsort((from_centre if grow else -from_centre, candidates))
        index = index[order[:n]]
    out = mask.copy().ravel()
    out[index] = grow
    return out.reshape(mask.shape)


@dataclass(frozen=True)
class ManualPaint:
    """The literal-editing reference method (see module docstring)."""

    initial: InitialMask = field(default_factory=FlairThreshold)
    click_radius_mm: float = 5.0
    name: str = "manual-paint"
    tools: frozenset[str] = frozenset(TOOLS)
    _first: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def first_mask(self, image: CaseImage) -> np.ndarray:
        """The initial segmentation, computed once per case (a session asks every round)."""
        key = (image.case_id, id(image.image))
        if key not in self._first:
            self._first.clear()
            self._first[key] = np.asarray(self.initial(image), dtype=bool)
        return self._first[key]

    def predict(self, image: CaseImage, history: EditHistory) -> np.ndarray:
        mask = self.first_mask(image).copy()
        for edit in history.edits:
            if isinstance(edit, Click):
                paint_ball(mask, edit.voxel, self.click_radius_mm, image.spacing, edit.positive)
            elif isinstance(edit, Stroke):
                painted = stamp([edit], mask.shape)
                mask[painted != 0] = edit.positive
            elif isinstance(edit, Adjustment):
                mask = adjust_surface(mask, edit.k, image.spacing)
            elif isinstance(edit, Box):
                mask &= edit.mask(mask.shape) if edit.positive else ~edit.mask(mask.shape)
        return mask


@method_factory(argument="none", tools=TOOLS,
                usage="manual-paint (first masks from --initial DIR, else a FLAIR threshold)")
def make(context: MethodContext, *, click_radius_mm: float = 5.0) -> ManualPaint:
    """Edits applied literally to a first mask (--initial DIR, else a FLAIR threshold)."""
    initial = FolderMasks(context.initial) if context.initial else FlairThreshold()
    return ManualPaint(initial=initial, click_radius_mm=float(click_radius_mm))
