"""Where a prediction is wrong: error masks, their 3D components, and component cores.

Shared by the simulated users. Under-segmentation is ``label & ~prediction`` (tumour
the prediction missed: positive edits), over-segmentation is ``prediction & ~label``
(negative edits).

Speed matters here (the user step runs once per round on 240x240x155 volumes), so the
analysis does one pass over the volume to find the error voxels and works on their
bounding box from then on: one 26-connected cc3d pass over a uint8 map (1 = under,
255 = over) labels both error kinds at once (cc3d never joins voxels of different
values), component sizes and bounding boxes come from the error voxels only.
"""

from __future__ import annotations

from dataclasses import dataclass

import cc3d
import numpy as np
from scipy import ndimage as ndi

Voxel = tuple[int, int, int]

#: Connectivity of error components (voxels touching at faces, edges or corners).
CONNECTIVITY = 26

_UNDER, _OVER = 1, 255  # values of the uint8 error map: label - prediction, wrapped


def check_pair(label: np.ndarray, prediction: np.ndarray) -> None:
    """Raise ValueError unless both are bool [X, Y, Z] arrays of one shape."""
    for name, a in (("label", label), ("prediction", prediction)):
        if not isinstance(a, np.ndarray) or a.dtype != bool or a.ndim != 3:
            raise ValueError(
                f"{name} must be a bool numpy array [X, Y, Z], got "
                f"{getattr(a, 'dtype', type(a).__name__)} {getattr(a, 'shape', '')}"
            )
    if label.shape != prediction.shape:
        raise ValueError(f"label {label.shape} and prediction {prediction.shape} must have the same shape")


def error_masks(label: np.ndarray, prediction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Under- and over-segmentation.

    Args:
        label: bool [X, Y, Z], ground truth.
        prediction: bool [X, Y, Z], the segmentation to judge.

    Returns:
        (under, over): bool [X, Y, Z] each; under = label & ~prediction,
        over = prediction & ~label.
    """
    check_pair(label, prediction)
    return label & ~prediction, prediction & ~label


@dataclass(frozen=True, eq=False)
class ErrorComponents:
    """The 26-connected components of a prediction's errors.

    Per-component arrays are indexed by component id (1..n); entry 0 stands for the
    correct voxels and holds size 0, positive False and an empty box. The arrays are
    read-only.

    Attributes:
        labels: uint16/uint32/uint64 [X, Y, Z], component id of each error voxel, 0
            where the prediction is right. Under- and over-segmentation never share a
            component.
        sizes: int64 [n + 1], voxels per component.
        positive: bool [n + 1], True for under-segmentation (a positive edit fixes it).
        bboxes: int64 [n + 1, 2, 3], per component the lowest (inclusive) and highest
            (exclusive) voxel index along X, Y, Z.
        n: number of components.
    """

    labels: np.ndarray
    sizes: np.ndarray
    positive: np.ndarray
    bboxes: np.ndarray
    n: int

    @property
    def under_volume(self) -> int:
        """Voxels of under-segmentation."""
        return int(self.sizes[self.positive].sum())

    @property
    def over_volume(self) -> int:
        """Voxels of over-segmentation."""
        return int(self.sizes[~self.positive].sum())

    def largest_first(self, min_size: int = 1) -> np.ndarray:
        """int64 [m]: ids of the components with at least ``min_size`` voxels, largest
        first (equal sizes: lower id first, i.e. first in raster order)."""
        ids = np.arange(1, self.n + 1)
        ids = ids[self.sizes[1:] >= min_size]
        return ids[np.argsort(-self.sizes[ids], kind="stable")]

    def box(self, i: int) -> tuple[slice, slice, slice]:
        """The slices of component ``i``'s bounding box."""
        self._check_id(i)
        lo, hi = self.bboxes[i]
        return tuple(slice(int(a), int(b)) for a, b in zip(lo, hi))  # type: ignore[return-value]

    def mask(self, i: int) -> tuple[np.ndarray, Voxel]:
        """Component ``i`` cropped to its bounding box.

        Returns:
            (mask, origin): bool [bx, by, bz] and the full-volume index of mask[0, 0, 0].
        """
        box = self.box(i)
        return self.labels[box] == i, tuple(s.start for s in box)  # type: ignore[return-value]

    def core(self, i: int) -> Voxel:
        """The core voxel of component ``i`` (see :func:`core_voxel`), full-volume indices."""
        mask, origin = self.mask(i)
        return tuple(int(c + o) for c, o in zip(_core_of_box(mask), origin))  # type: ignore[return-value]

    def _check_id(self, i: int) -> None:
        if not 1 <= i <= self.n:
            raise IndexError(f"component id {i} out of range 1..{self.n}")


def error_components(label: np.ndarray, prediction: np.ndarray) -> ErrorComponents:
    """Label the 26-connected components of under- and over-segmentation together.

    Args:
        label: bool [X, Y, Z], ground truth.
        prediction: bool [X, Y, Z], the segmentation to judge.

    Returns:
        ErrorComponents with ids in cc3d's raster order.
    """
    check_pair(label, prediction)
    shape = label.shape
    wrong = np.flatnonzero(label ^ prediction)
    if len(wrong) == 0:
        return ErrorComponents(
            np.zeros(shape, np.uint16), np.zeros(1, np.int64), np.zeros(1, bool), np.zeros((1, 2, 3), np.int64), 0
        )
    coords = np.stack(np.unravel_index(wrong, shape), axis=1)
    lo, hi = coords.min(0), coords.max(0) + 1
    crop = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi))
    kind = label[crop].view(np.uint8) - prediction[crop].view(np.uint8)  # 1 under, 255 over
    crop_labels, n = cc3d.connected_components(kind, connectivity=CONNECTIVITY, return_N=True)
    labels = np.zeros(shape, crop_labels.dtype)
    labels[crop] = crop_labels

    ids = labels.ravel()[wrong].astype(np.intp)
    sizes = np.bincount(ids, minlength=n + 1).astype(np.int64)
    positive = np.zeros(n + 1, bool)
    positive[ids] = label.ravel()[wrong]
    bboxes = np.zeros((n + 1, 2, 3), np.int64)
    bboxes[1:, 0] = np.iinfo(np.int64).max
    for axis in range(3):
        np.minimum.at(bboxes[:, 0, axis], ids, coords[:, axis])
        np.maximum.at(bboxes[:, 1, axis], ids, coords[:, axis] + 1)
    bboxes[0] = 0
    for array in (labels, sizes, positive, bboxes):
        array.setflags(write=False)
    return ErrorComponents(labels, sizes, positive, bboxes, int(n))


def core_voxel(mask: np.ndarray) -> Voxel:
    """The voxel that repeated erosion of ``mask`` leaves last: its deepest voxel.

    Repeated binary erosion with the 6-connected cross (scipy's default structure),
    with everything outside ``mask`` and outside the array counting as background,
    removes voxels in order of their taxicab (city-block) distance to the background;
    the last non-empty erosion is the set of voxels of maximal taxicab distance. (The
    Euclidean maximum is not always in that set.) The distance is computed in voxel
    units (erosion ignores spacing) on the mask's bounding box padded by one voxel.

    Tie rule (deterministic): among the voxels of maximal depth, the one nearest (in
    voxel units) to the centroid of that set; remaining ties go to the lowest index in
    C order, i.e. lexicographically smallest (x, y, z).

    Args:
        mask: bool [X, Y, Z], non-empty; usually one connected component (for several,
            the deepest voxel over all of them).

    Returns:
        (x, y, z) indices into ``mask``.
    """
    mask = np.asarray(mask)
    if mask.dtype != bool or mask.ndim != 3:
        raise ValueError(f"mask must be a bool array [X, Y, Z], got {mask.dtype} {mask.shape}")
    box = ndi.find_objects(mask.view(np.uint8))
    if not box:
        raise ValueError("mask is empty: a core voxel needs at least one True voxel")
    core = _core_of_box(mask[box[0]])
    return tuple(int(c + s.start) for c, s in zip(core, box[0]))  # type: ignore[return-value]


def _core_of_box(mask: np.ndarray) -> np.ndarray:
    """int [3]: :func:`core_voxel` of a non-empty bool mask cropped to its bounding box."""
    deepest = _deepest_voxels(mask)
    if len(deepest) == 1:
        return deepest[0]
    # Distance to the centroid, scaled by the set's size to stay in exact integers.
    offset = len(deepest) * deepest.astype(np.int64) - deepest.sum(0)
    return deepest[np.argmin(np.einsum("ij,ij->i", offset, offset))]


#: Erosions done sparsely (on the surviving voxels only) before a dense transform of
#: what is left takes over. Thin components (a shifted boundary gives a shell a few
#: voxels thick across the whole tumour's box) finish within them at a fraction of the
#: cost of a transform of their box; deep solid ones finish faster densely.
SPARSE_EROSIONS = 8


def _deepest_voxels(mask: np.ndarray) -> np.ndarray:
    """int [m, 3], C order: the voxels of maximal taxicab depth of a non-empty mask.

    Each erosion keeps the voxels whose six face neighbours are all in the set.
    Eroding k times leaves the voxels deeper than k, whose depth in the remainder is
    their depth minus k, so the dense transform of the remainder has the same maxima.
    """
    padded = np.pad(mask, 1)
    alive = padded.ravel()  # a view: clearing it erodes ``padded``
    steps = (padded.shape[1] * padded.shape[2], padded.shape[2], 1)
    voxels = np.flatnonzero(alive)
    for _ in range(SPARSE_EROSIONS):
        inner = np.ones(len(voxels), bool)
        for step in steps:
            inner &= alive[voxels + step]
            inner &= alive[voxels - step]
        if not inner.any():
            return np.stack(np.unravel_index(voxels, padded.shape), axis=1) - 1
        alive[voxels[~inner]] = False
        voxels = voxels[inner]
    box = ndi.find_objects(padded.view(np.uint8))[0]
    depth = ndi.distance_transform_cdt(np.pad(padded[box], 1), metric="taxicab")
    return np.argwhere(depth == depth.max()) - 1 + [s.start - 1 for s in box]
