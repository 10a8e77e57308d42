"""simedit's edits as nnInteractive interactions: pure functions, no nnInteractive import.

- A :class:`~benchmark.edits.Click` becomes a point interaction at its voxel, positive
  (``include_interaction=True``) or negative, the voxel clipped into the image (a point
  outside it crashes nnInteractive).
- A :class:`~benchmark.edits.Stroke` becomes a scribble interaction per axial slice it
  touches (simedit's brush draws on one slice, so normally one): a 0/1 mask of its voxels
  on that slice, widened in the slice's plane to nnInteractive's
  ``preferred_scribble_thickness`` (a round brush of that diameter, as nnInteractive's
  own viewers paint scribbles; 2 voxels for its models), one voxel thick across slices,
  passed as the crop of its bounding box with that box as ``interaction_bbox``.
- A :class:`~benchmark.edits.Box` becomes a bounding-box interaction of its 2D box on the
  plane it was drawn on (:meth:`~benchmark.edits.Box.rectangle`; nnInteractive prefers 2D
  boxes and its released models take no others), half-open, clipped into the image.
- Anything else (an :class:`~benchmark.edits.Adjustment`) has no interaction: nnInteractive
  has no prompt that grows or shrinks a whole segmentation.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from benchmark.edits import Box, Click, Edit, Stroke

#: The tools that become interactions.
TOOLS = frozenset({"selection", "brush", "box"})


@dataclass(frozen=True)
class Point:
    """``add_point_interaction(voxel, include_interaction=positive)``."""

    voxel: tuple[int, int, int]
    positive: bool


@dataclass(frozen=True, eq=False)
class Scribble:
    """``add_scribble_interaction(mask, include_interaction=positive, interaction_bbox=bbox)``.

    Attributes:
        mask: uint8 [dx, dy, 1], 1 on the scribble, 0 elsewhere.
        bbox: [[x0, x1], [y0, y1], [z, z + 1]], half-open, the size of ``mask``.
        positive: tumour (True) or not tumour.
    """

    mask: np.ndarray
    bbox: list[list[int]]
    positive: bool


@dataclass(frozen=True)
class BoxPrompt:
    """``add_bbox_interaction(bbox, include_interaction=positive)``.

    Attributes:
        bbox: [[x0, x1], [y0, y1], [z0, z1]], half-open, one voxel thick along one axis.
    """

    bbox: tuple[tuple[int, int], ...]
    positive: bool


Interaction = Point | Scribble | BoxPrompt


def box_prompt(box: Box, shape: Sequence[int]) -> BoxPrompt:
    """The 2D bounding-box interaction of ``box`` (its drawn plane), clipped into ``shape``."""
    flat = box.rectangle()
    lower = clip_voxel(flat.lower, shape)
    upper = clip_voxel(flat.upper, shape)
    return BoxPrompt(tuple((int(a), int(b) + 1) for a, b in zip(lower, upper)), box.positive)


def clip_voxel(voxel: Sequence[int], shape: Sequence[int]) -> tuple[int, int, int]:
    """``voxel`` moved onto the nearest voxel inside ``shape``."""
    return tuple(int(min(max(int(v), 0), int(n) - 1)) for v, n in zip(voxel, shape))  # type: ignore[return-value]


def brush(thickness: Sequence[float]) -> np.ndarray:
    """int [K, 2] in-plane offsets of a round brush of diameter ``thickness`` (x, y voxels).

    Offsets within half the diameter of the centre (an ellipse for unequal diameters);
    always at least the centre. Diameter 2 gives the centre and its four neighbours.
    """
    radii = [max(float(t), 1.0) / 2 for t in thickness[:2]]
    reach = [int(np.floor(r)) for r in radii]
    dx, dy = np.meshgrid(np.arange(-reach[0], reach[0] + 1), np.arange(-reach[1], reach[1] + 1), indexing="ij")
    inside = (dx / radii[0]) ** 2 + (dy / radii[1]) ** 2 <= 1.0 + 1e-9
    return np.stack([dx[inside], dy[inside]], axis=1).astype(np.intp)


def scribbles(stroke: Stroke, shape: Sequence[int], thickness: Sequence[float] = (2, 2, 2)) -> list[Scribble]:
    """The scribble interactions of ``stroke``: one per axial slice (z) it touches.

    Args:
        stroke: voxels int [N, 3] (x, y, z); those outside ``shape`` are clipped into it.
        shape: (X, Y, Z) of the image.
        thickness: nnInteractive's ``preferred_scribble_thickness`` (x, y, z); x and y
            are the brush's diameters in the slice's plane.

    Returns:
        Scribbles in order of slice, each a tight crop around the widened stroke.
    """
    voxels = np.asarray([clip_voxel(v, shape) for v in stroke.voxels], dtype=np.intp)
    offsets = brush(thickness)
    out = []
    for z in np.unique(voxels[:, 2]):
        xy = voxels[voxels[:, 2] == z, :2]
        painted = (xy[:, None, :] + offsets[None]).reshape(-1, 2)
        painted = painted[((painted >= 0) & (painted < np.asarray(shape[:2]))).all(axis=1)]
        lo, hi = painted.min(axis=0), painted.max(axis=0) + 1
        mask = np.zeros((*(hi - lo), 1), np.uint8)
        mask[painted[:, 0] - lo[0], painted[:, 1] - lo[1], 0] = 1
        bbox = [[int(lo[0]), int(hi[0])], [int(lo[1]), int(hi[1])], [int(z), int(z) + 1]]
        out.append(Scribble(mask, bbox, stroke.positive))
    return out


def interactions(edits: Iterable[Edit], shape: Sequence[int],
                 thickness: Sequence[float] = (2, 2, 2)) -> list[Interaction]:
    """The nnInteractive interactions of ``edits``, in order; edits of other tools give none."""
    out: list[Interaction] = []
    for edit in edits:
        if isinstance(edit, Click):
            out.append(Point(clip_voxel(edit.voxel, shape), edit.positive))
        elif isinstance(edit, Stroke):
            out.extend(scribbles(edit, shape, thickness))
        elif isinstance(edit, Box):
            out.append(box_prompt(edit, shape))
    return out


def new_rounds(seen: tuple | None, rounds: tuple) -> tuple | None:
    """The rounds of ``rounds`` past ``seen`` when ``rounds`` goes on from ``seen``, else None.

    None (start over) for a first call (``seen`` None), round 0 (no rounds), a shorter
    history, or one whose earlier rounds differ from what was seen; ``()`` for the same
    history again.
    """
    if seen is None or not rounds or len(rounds) < len(seen) or tuple(rounds[: len(seen)]) != tuple(seen):
        return None
    return tuple(rounds[len(seen):])
