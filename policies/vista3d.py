"""VISTA3D's simulated click for iterative point evaluation: the centre of the largest eroded error.

The rule of ``get_next_points_val`` (its ``use_center=True`` branch) in
``vista3d/scripts/utils/workflow_utils.py``, with ``erode3d`` from
``vista3d/scripts/utils/trans_utils.py``, of github.com/Project-MONAI/VISTA, commit
f73d7c20a73b5e6371f2879e38919d71fee34cf8, and MONAI's
``get_largest_connected_component_mask`` (``monai/transforms/utils.py``,
github.com/Project-MONAI/MONAI, commit d388d1c6fec8cb3a0eebee5b5a0b9776ca59ca83):

1. FN = label & ~prediction, FP = prediction & ~label.
2. Each is eroded with a 3x3x3 cube (``erode3d``: a 3D convolution with a box of
   ones, a voxel kept where the whole box is in the mask). ``erode3d`` pads the
   array with ones, so voxels outside the array count as *inside* the mask: an error
   touching the border is not eroded from that side.
3. Each eroded mask is reduced to its largest connected component
   (``get_largest_connected_component_mask``: ``skimage.measure.label`` with full
   connectivity, 26 in 3D; kept: ``argsort(bincount(labels))[::-1][0]``).
4. FN's component when its size is >= FP's (a tie goes to FN), else FP's. When the
   chosen one is empty (both are: erosion removed every error) there is no point.
5. The point: the component's voxel nearest (Euclidean, voxel units) to the mean of
   its voxels' coordinates (``torch.sort`` of the squared distances, first entry).
6. Sign: positive for FN.

VISTA's iterative evaluation script (``vista3d/scripts/validation/
val_multigpu_point_iterative.py``) retries with a (3, 3, 1) erosion, in-plane on the
axial slices of its RAS arrays, when the 3D erosion left no point, and stops clicking
when that leaves none either. :class:`Vista3dClick` does the same (simedit's arrays
are RAS+ too, so the third axis is z).

Choices where the originals leave the result open:

- Equal-sized largest components: ``argsort(...)[::-1]`` keeps the *highest* label
  among them when the sort is stable, as numpy's default quicksort is on up to 16
  entries (insertion sort, in numpy 1.24, which VISTA pins; beyond that the order of
  ties is unspecified). skimage numbers components in C order of their first voxel, so
  the kept one is the tied component whose first voxel comes last in C order.
- Voxels equally near the centroid: the first in C order (``torch.nonzero`` lists
  voxels in C order; ``torch.sort`` without ``stable=True`` leaves ties unordered).
  Distances are compared exactly here (VISTA compares float32 values).
- The script itself calls ``get_next_points_val`` with ``use_center=False``: a
  uniformly random voxel of the chosen component (Python's ``random.choices``).
  ``Vista3dClick(use_center=False)`` does that with the session rng; the default is
  the deterministic centre point.

Distances are in voxels (VISTA resamples to 1.5 mm first; simedit does not).
"""

from __future__ import annotations

import cc3d
import numpy as np
from scipy import ndimage as ndi

from benchmark.edits import Click
from benchmark.errors import check_pair
from benchmark.policy import RoundState

#: erode3d's box: 3D, and the script's fallback, in-plane (x, y) only.
EROSION_3D = (3, 3, 3)
EROSION_2D = (3, 3, 1)


def _grown_box(mask: np.ndarray) -> tuple[slice, ...]:
    """The bounding box of a non-empty bool [X, Y, Z] mask, grown by one voxel where
    the array allows: the voxels outside it are all False, as they are in the array."""
    box = []
    for axis, n in enumerate(mask.shape):
        hit = np.flatnonzero(mask.any(axis=tuple(a for a in range(mask.ndim) if a != axis)))
        box.append(slice(max(int(hit[0]) - 1, 0), min(int(hit[-1]) + 2, n)))
    return tuple(box)


def erode(mask: np.ndarray, erosion: tuple[int, int, int] = EROSION_3D) -> np.ndarray:
    """bool, ``mask`` eroded with a box of shape ``erosion``, the outside of the array
    counting as in the mask (as ``erode3d``'s padding with ones)."""
    return ndi.binary_erosion(mask, structure=np.ones(erosion, bool), border_value=1)


def largest_component(mask: np.ndarray) -> np.ndarray:
    """bool, the largest 26-connected component of ``mask`` (empty if it is); among
    equal sizes, the one whose first voxel in C order comes last."""
    labels = cc3d.connected_components(np.ascontiguousarray(mask, dtype=np.uint8), connectivity=26)
    flat = labels.ravel()
    where = np.flatnonzero(flat)
    if len(where) == 0:
        return np.zeros(mask.shape, bool)
    ids, first, sizes = np.unique(flat[where], return_index=True, return_counts=True)
    tied = np.flatnonzero(sizes == sizes.max())
    keep = ids[tied[np.argmax(where[first[tied]])]]
    return labels == keep


def centre_voxel(points: np.ndarray) -> int:
    """Index of the row of ``points`` (int [N, 3], C order) nearest to their mean,
    compared exactly; the first among equals."""
    n, total = len(points), points.sum(0)
    q = ((points - total / n) ** 2).sum(1)
    best = q.min()
    near = np.flatnonzero(q <= best + 1e-9 * (1.0 + best))
    if len(near) == 1:
        return int(near[0])
    # n^2 * squared distance, in Python integers (exact, no overflow)
    exact = [sum((n * int(c) - int(t)) ** 2 for c, t in zip(points[i], total)) for i in near]
    return int(near[int(np.argmin(exact))])


def vista3d_click(
    label: np.ndarray,
    prediction: np.ndarray,
    erosion: tuple[int, int, int] = EROSION_3D,
    use_center: bool = True,
    rng: np.random.Generator | None = None,
) -> Click | None:
    """VISTA3D's next point (steps 1-6 of the module docstring); None without error or
    when erosion leaves none.

    Args:
        label, prediction: bool [X, Y, Z].
        erosion: the erosion box, :data:`EROSION_3D` or the script's :data:`EROSION_2D`.
        use_center: the voxel nearest the component's centroid (deterministic), or
            else a uniformly random voxel of the component, drawn with ``rng``.
    """
    check_pair(label, prediction)
    wrong = label ^ prediction
    if not wrong.any():
        return None
    box = _grown_box(wrong)
    lab, pred = label[box], prediction[box]
    fn = largest_component(erode(lab & ~pred, erosion))
    fp = largest_component(erode(pred & ~lab, erosion))
    positive = np.count_nonzero(fn) >= np.count_nonzero(fp)
    points = np.argwhere(fn if positive else fp)
    if len(points) == 0:
        return None
    if use_center:
        i = centre_voxel(points)
    elif rng is None:
        raise ValueError("a random point (use_center=False) needs an rng")
    else:
        i = int(rng.integers(len(points)))
    return Click(tuple(int(c + s.start) for c, s in zip(points[i], box)), bool(positive))


class Vista3dClick:
    """VISTA3D's simulated user: one click per round at the centre of the largest
    eroded error, with the evaluation script's in-plane fallback; none when even that
    finds no point."""

    name = "vista3d"

    def __init__(self, fallback_2d: bool = True, use_center: bool = True) -> None:
        self.fallback_2d = fallback_2d
        self.use_center = use_center

    def propose(self, state: RoundState, rng: np.random.Generator) -> list[Click]:
        """One click (``rng`` is used only with ``use_center=False``)."""
        args = (state.label, state.prediction)
        click = vista3d_click(*args, EROSION_3D, self.use_center, rng)
        if click is None and self.fallback_2d:
            click = vista3d_click(*args, EROSION_2D, self.use_center, rng)
        return [] if click is None else [click]
