"""NIfTI files: reading and writing them, and the checks of what one holds.

Every problem raises :class:`~benchmark.case.InvalidCaseError` naming the file. Arrays
are as nibabel returns them from the file (the file's voxel order, not reoriented).
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import nibabel as nib
import numpy as np
from nibabel.filebasedimages import ImageFileError
from nibabel.spatialimages import HeaderDataError

from benchmark.case import InvalidCaseError

#: Largest difference between two files' affines (mm) still taken as the same grid.
AFFINE_TOLERANCE_MM = 1e-3

_READ_ERRORS = (OSError, EOFError, zlib.error, ValueError, ImageFileError, HeaderDataError)
_GZIP_LEVEL = 6


def read_nifti(path: Path) -> tuple[np.ndarray, np.ndarray, tuple[float, ...]]:
    """(data as stored, affine [4, 4], header zooms) of the NIfTI file at ``path``."""
    try:
        image = nib.load(path)
        data = np.asanyarray(image.dataobj)  # reading it all surfaces truncation here
    except FileNotFoundError:
        raise InvalidCaseError(f"{path}: file not found; restore it or remove the case") from None
    except _READ_ERRORS as error:
        reason = " ".join(f"{type(error).__name__}: {error}".replace(str(path), "the file").split())
        raise InvalidCaseError(f"{path}: unreadable or truncated NIfTI ({reason}); re-download or re-export it") from error
    return data, image.affine, image.header.get_zooms()


def write_nifti(path: Path, data: np.ndarray, affine: np.ndarray) -> None:
    """Write ``data`` (any shape and dtype, in the file's voxel order) with float [4, 4]
    ``affine`` as gzip NIfTI in mm, creating the folder; the bytes depend on the inputs only."""
    image = nib.Nifti1Image(data, affine)
    image.header.set_xyzt_units("mm")
    path.parent.mkdir(parents=True, exist_ok=True)
    # mtime=0 and no file name in the gzip header: equal inputs give equal bytes.
    path.write_bytes(gzip.compress(image.to_bytes(), compresslevel=_GZIP_LEVEL, mtime=0))


def check_rank(path: Path, shape: tuple[int, ...], channels: int | None) -> None:
    """A 3D volume, or with ``channels`` a 4D one with that many volumes on the last axis."""
    if channels is None and len(shape) != 3:
        raise InvalidCaseError(f"{path}: expected a 3D volume, got shape {shape}; give one 3D file per modality")
    if channels is not None and (len(shape) != 4 or shape[3] != channels):
        raise InvalidCaseError(
            f"{path}: expected a 4D volume [X, Y, Z, {channels}], got shape {shape}; "
            "MSD images stack FLAIR, T1w, T1gd, T2w on the last axis"
        )


def check_label_values(path: Path, data: np.ndarray, allowed: tuple[int, ...] | None) -> None:
    """Values in ``allowed``; with None, any non-negative integer."""
    values = np.unique(data)
    if allowed is None:
        as_float = values.astype(np.float64)
        bad = values[~((as_float >= 0) & (as_float == np.round(as_float)))]
        expected = "non-negative integers; threshold probability maps first"
    else:
        bad = values[~np.isin(values, allowed)]
        expected = f"in {list(allowed)}; relabel the file or choose the right layout"
    if bad.size:
        listing = ", ".join(str(v) for v in bad[:10].tolist()) + (", ..." if bad.size > 10 else "")
        raise InvalidCaseError(f"{path}: label values [{listing}] are not {expected}")


def check_affine(path: Path, affine: np.ndarray, reference: np.ndarray, reference_name: str) -> None:
    """The float [4, 4] ``affine`` of ``path`` equals ``reference`` within AFFINE_TOLERANCE_MM."""
    difference = float(np.abs(np.asarray(affine) - np.asarray(reference)).max())
    if not difference <= AFFINE_TOLERANCE_MM:  # written so that NaN fails too
        raise InvalidCaseError(
            f"{path}: affine differs from {reference_name}'s by {difference:.3g} mm; "
            "put the files on one grid (resample, or fix the header)"
        )
