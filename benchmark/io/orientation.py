"""Reorientation to the closest canonical (RAS+) orientation and back, as nibabel does it.

Canonical arrays are (X, Y, Z) with X running right, Y anterior and Z superior (axis 2
axial); a file's own voxel order is whatever its affine says.
"""

from __future__ import annotations

import numpy as np
from nibabel.orientations import apply_orientation, io_orientation


def canonical_orientation(affine: np.ndarray) -> np.ndarray:
    """nibabel orientation array [3, 2] taking a file's voxel axes to closest canonical RAS+.

    Row i says where file axis i goes (column 0) and whether it is flipped (column 1 = -1).
    """
    affine = np.asarray(affine, np.float64)
    if affine.shape != (4, 4):
        raise ValueError(f"affine must be [4, 4], got shape {affine.shape}")
    return io_orientation(affine)


def to_canonical(array: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """Reorient an array as nibabel returns it from a file to closest canonical (RAS+).

    Args:
        array: [X, Y, Z, ...] in the file's voxel order; trailing axes (e.g. channels of a
            4D file) are kept as they are.
        affine: float [4, 4], the file's affine.

    Returns:
        A C-contiguous array of the same dtype, the first three axes in canonical order,
        equal to ``nib.as_closest_canonical(img).dataobj``.
    """
    return np.ascontiguousarray(apply_orientation(array, canonical_orientation(affine)))


def from_canonical_voxels(voxels: np.ndarray, affine: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Indices into canonical arrays -> indices into the array as stored in the file.

    Args:
        voxels: int [N, 3], (x, y, z) indices into the canonical arrays.
        affine: float [4, 4], the file's affine.
        shape: the file's array shape (only the first three entries are used).

    Returns:
        int [N, 3] indices (i, j, k) into the array nibabel returns from that file.
    """
    voxels = np.asarray(voxels)
    if voxels.ndim != 2 or voxels.shape[1] != 3 or voxels.dtype.kind not in "iu":
        raise ValueError(f"voxels must be int [N, 3], got {voxels.dtype} {voxels.shape}")
    ornt = canonical_orientation(affine)
    file_shape = tuple(int(s) for s in shape[:3])
    canonical_shape = np.empty(3, int)
    canonical_shape[ornt[:, 0].astype(int)] = file_shape
    if voxels.size and ((voxels < 0).any() or (voxels >= canonical_shape).any()):
        raise ValueError(f"voxels must lie inside the canonical shape {tuple(canonical_shape)}")
    out = np.empty_like(voxels)
    for axis, (target, flip) in enumerate(ornt.astype(int)):
        out[:, axis] = voxels[:, target] if flip > 0 else file_shape[axis] - 1 - voxels[:, target]
    return out


def canonical_zooms(zooms: tuple[float, ...], ornt: np.ndarray) -> tuple[float, float, float]:
    """A file's header zooms (mm, file axis order) in canonical axis order, given its ``ornt`` [3, 2]."""
    spacing = [0.0, 0.0, 0.0]
    for axis, target in enumerate(ornt[:, 0].astype(int)):
        spacing[target] = float(zooms[axis])
    return tuple(spacing)  # type: ignore[return-value]


#: The orientation of a file whose voxel axes already are canonical (RAS+).
IDENTITY = np.array([[0.0, 1.0], [1.0, 1.0], [2.0, 1.0]])


def check_orientation(ornt: np.ndarray) -> np.ndarray:
    """``ornt`` as float [3, 2] if it is a nibabel orientation of 3 axes, else ValueError."""
    ornt = np.asarray(ornt, np.float64)
    if (ornt.shape != (3, 2) or sorted(ornt[:, 0].astype(int).tolist()) != [0, 1, 2]
            or not np.isin(ornt[:, 1], (-1.0, 1.0)).all()):
        raise ValueError(f"orientation must be a nibabel orientation [3, 2] (a permutation of axes 0-2, flips "
                         f"+-1), got {ornt.tolist()}")
    return ornt


def inverse_orientation(ornt: np.ndarray) -> np.ndarray:
    """The orientation [3, 2] taking canonical arrays back to the file's voxel order."""
    ornt = check_orientation(ornt)
    inverse = np.empty((3, 2))
    for axis, (target, flip) in enumerate(ornt.astype(int)):
        inverse[target] = (axis, flip)
    return inverse


def to_file_order(array: np.ndarray, ornt: np.ndarray) -> np.ndarray:
    """A canonical array [X, Y, Z, ...] as nibabel reads it from the file (inverse of :func:`to_canonical`).

    Args:
        array: [X, Y, Z, ...] in canonical order.
        ornt: the file's orientation [3, 2] (:func:`canonical_orientation` of its affine).
    """
    return np.ascontiguousarray(apply_orientation(array, inverse_orientation(ornt)))


def to_file_zyx(array: np.ndarray, ornt: np.ndarray) -> np.ndarray:
    """A canonical [X, Y, Z] array as SimpleITK holds the file: ``GetArrayFromImage``'s (k, j, i) order.

    SimpleITK's array axes are the file's voxel axes reversed (slowest first), so this is
    the file's nibabel array transposed; the CVPR 2025 challenge's npz files hold this.
    """
    return np.ascontiguousarray(np.transpose(to_file_order(array, ornt), (2, 1, 0)))


def file_zyx_to_canonical(voxels: np.ndarray, ornt: np.ndarray, canonical_shape: tuple[int, int, int]) -> np.ndarray:
    """Indices into :func:`to_file_zyx`'s array -> indices into the canonical arrays.

    Args:
        voxels: int [N, 3], (k, j, i) indices (SimpleITK's order of the file's grid).
        ornt: the file's orientation [3, 2].
        canonical_shape: (X, Y, Z) of the canonical arrays.

    Returns:
        int [N, 3] (x, y, z) canonical indices.
    """
    ornt = check_orientation(ornt)
    voxels = np.asarray(voxels, np.intp).reshape(-1, 3)[:, ::-1]  # (i, j, k): the file's nibabel order
    out = np.empty_like(voxels)
    for axis, (target, flip) in enumerate(ornt.astype(int)):
        n = int(canonical_shape[target])
        out[:, target] = voxels[:, axis] if flip > 0 else n - 1 - voxels[:, axis]
    return out
