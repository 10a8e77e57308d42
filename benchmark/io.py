"""Reading and writing cases as NIfTI files in the BraTS, MSD and nnU-Net folder layouts.

Loading reorients every file to the closest canonical (RAS+) orientation, as nibabel's
``as_closest_canonical`` does, so arrays are (X, Y, Z) with axis 2 axial; images become
float32 [C, X, Y, Z] z-scored inside the brain. Every problem with a case's files raises
:class:`~benchmark.case.InvalidCaseError` naming the file, when the case is loaded:
:func:`discover` only lists paths, so one broken case never hides the others.
Where the files of each layout live, and what their labels mean: :mod:`benchmark.layouts`.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
from nibabel.filebasedimages import ImageFileError
from nibabel.orientations import apply_orientation, inv_ornt_aff, io_orientation
from nibabel.spatialimages import HeaderDataError

from benchmark.case import Case, CaseImage, InvalidCaseError
from benchmark.layouts import (
    BRATS_SUFFIXES,
    LABEL_VALUES,
    LAYOUTS,
    MODALITIES,
    brats_case_folders,
    brats_files,
    case_file_paths,
    check_layout,
    detect_layout,
    image_files,
    nifti_file,
    nnunet_case_ids,
    nnunet_channels,
    read_dataset_json,
    relabel_from_brats2018,
    stem,
    write_dataset_json,
)

__all__ = [
    "LAYOUTS", "MODALITIES", "AFFINE_TOLERANCE_MM", "CaseRef", "detect_layout", "discover",
    "load_case", "load_mask", "write_case", "write_dataset_json", "zscore_brain",
    "canonical_orientation", "to_canonical", "from_canonical_voxels",
]  # fmt: skip

#: Largest difference between two files' affines (mm) still taken as the same grid.
AFFINE_TOLERANCE_MM = 1e-3

_BRATS2018_LABELS = (0, 1, 2, 4)
_READ_ERRORS = (OSError, EOFError, zlib.error, ValueError, ImageFileError, HeaderDataError)
_GZIP_LEVEL = 6


@dataclass(frozen=True)
class CaseRef:
    """A case found on disk, loaded only when :meth:`load` is called.

    Attributes:
        case_id: the case folder's name (BraTS) or the file stem (MSD, nnU-Net).
        layout: one of LAYOUTS.
        image_paths: one file per modality in ``modalities`` order; for msd one 4D file.
        label_path: the expected label file (it may be missing: load() then says so);
            None where the case has no ground truth, which load() refuses.
        modalities: channel names in channel order.
        label_values: allowed label values; None means the layout's LABEL_VALUES.
    """

    case_id: str
    layout: str
    image_paths: tuple[Path, ...]
    label_path: Path | None
    modalities: tuple[str, ...] = MODALITIES
    label_values: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        check_layout(self.layout)
        expected = 1 if self.layout == "msd" else len(self.modalities)
        if len(self.image_paths) != expected:
            raise ValueError(
                f"CaseRef {self.case_id!r}: {self.layout} needs {expected} image path(s) for modalities "
                f"{self.modalities}, got {len(self.image_paths)}"
            )

    @property
    def source(self) -> str:
        """The case folder (BraTS layouts) or the label file (msd, nnunet), for messages."""
        where = self.label_path or self.image_paths[0]
        return str(where.parent if self.layout in BRATS_SUFFIXES else where)

    def load(self) -> Case:
        """Read, validate, reorient and normalise the case; see :func:`load_case`."""
        return load_case(self)


def discover(root: Path | str, layout: str | None = None, cases: Collection[str] | None = None) -> list[CaseRef]:
    """The cases under ``root``, sorted by case_id, without reading voxel data.

    Args:
        root: the data set folder (for BraTS the folder of case folders, or of HGG/ and
            LGG/; for msd and nnunet the folder with dataset.json).
        layout: one of LAYOUTS; detected with :func:`detect_layout` when None.
        cases: keep only these case ids (None: all).

    Raises:
        InvalidCaseError: no recognisable layout, an unusable dataset.json, no cases, or
            a case id in ``cases`` that is not there.
    """
    root = Path(root)
    layout = detect_layout(root) if layout is None else check_layout(layout)
    if not root.is_dir():
        raise InvalidCaseError(f"{root}: not a folder; pass the folder that holds the data set")
    if layout in BRATS_SUFFIXES:
        refs = [CaseRef(f.name, layout, *brats_files(f, layout)) for f in brats_case_folders(root, layout)]
    elif layout == "msd":
        refs = [
            CaseRef(stem(p), layout, (p,), nifti_file(root / "labelsTr" / stem(p)))
            for p in image_files(root)
        ]
    else:
        modalities, label_values, ending = nnunet_channels(root, read_dataset_json(root))
        refs = [
            CaseRef(
                case_id,
                layout,
                tuple(root / "imagesTr" / f"{case_id}_{i:04d}{ending}" for i in range(len(modalities))),
                root / "labelsTr" / f"{case_id}{ending}",
                modalities,
                label_values,
            )
            for case_id in nnunet_case_ids(image_files(root), ending)
        ]
    if not refs:
        raise InvalidCaseError(f"{root}: found no {layout} cases; check the folder and the layout")
    if cases is not None:
        missing = sorted(set(cases) - {ref.case_id for ref in refs})
        if missing:
            raise InvalidCaseError(f"{root}: no case(s) {missing}")
        refs = [ref for ref in refs if ref.case_id in set(cases)]
    return sorted(refs, key=lambda ref: ref.case_id)


def load_case(ref: CaseRef) -> Case:
    """Read one case: canonical orientation, z-scored float32 image, whole-tumour label.

    Returns a Case with image float32 [C, X, Y, Z] (C in ``ref.modalities`` order), label
    bool [X, Y, Z] (every label value > 0), raw_label uint8 [X, Y, Z] (int32 if a label
    value passes 255) in the layout's own label convention, spacing from the header
    zooms and the canonical affine.

    Raises:
        InvalidCaseError: a missing, unreadable or truncated file; a wrong rank or channel
            count; shapes or affines that disagree; label values outside the layout's set;
            NaN or Inf intensities. The message names the file.
    """
    if ref.label_path is None:
        raise InvalidCaseError(f"{ref.source}: case {ref.case_id!r} has no label file; simedit needs ground truth")
    allowed = ref.label_values if ref.label_values is not None else LABEL_VALUES[ref.layout]
    labels, affine, zooms = _read_nifti(ref.label_path)
    _check_rank(ref.label_path, labels.shape, channels=None)
    _check_label_values(ref.label_path, labels, allowed)
    ornt = canonical_orientation(affine)
    raw_label = to_canonical(labels, affine).astype(np.uint8 if max(allowed) < 256 else np.int32)

    image = np.empty((len(ref.modalities), *raw_label.shape), np.float32)
    channels = _image_channels(ref, labels.shape, affine)
    for c, (path, volume) in enumerate(channels):
        if volume.dtype.kind == "f" and not np.isfinite(volume).all():
            bad = volume.size - np.count_nonzero(np.isfinite(volume))
            raise InvalidCaseError(f"{path}: {bad} NaN or Inf intensities; replace them (e.g. with 0) and reload")
        image[c] = zscore_brain(to_canonical(volume, affine))
    return Case(
        case_id=ref.case_id,
        image=image,
        spacing=_canonical_zooms(zooms, ornt),
        affine=affine @ inv_ornt_aff(ornt, labels.shape),
        modalities=tuple(ref.modalities),
        label=raw_label > 0,
        raw_label=raw_label,
        source=ref.source,
    )


def load_mask(path: Path | str, like: CaseImage | None = None) -> np.ndarray:
    """A mask file (e.g. an initial segmentation) as bool [X, Y, Z] in canonical orientation.

    Voxels with a non-zero value are True; values must be non-negative integers (a label
    map or a binary mask, not probabilities). With ``like``, the canonical shape and
    affine must match that case's.
    """
    path = Path(path)
    data, file_affine, _ = _read_nifti(path)
    _check_rank(path, data.shape, channels=None)
    _check_label_values(path, data, None)
    mask = to_canonical(data, file_affine) != 0
    if like is not None:
        if mask.shape != like.shape:
            raise InvalidCaseError(
                f"{path}: shape {mask.shape} (canonical) differs from case {like.case_id!r}'s {like.shape}; "
                "resample the mask onto the case's grid"
            )
        affine = file_affine @ inv_ornt_aff(canonical_orientation(file_affine), data.shape)
        _check_affine(path, affine, like.affine, f"case {like.case_id!r}")
    return mask


def write_case(
    root: Path,
    layout: str,
    case_id: str,
    modalities: dict[str, np.ndarray],
    label: np.ndarray,
    affine: np.ndarray,
) -> list[Path]:
    """Write one case in ``layout``'s file names and label convention; returns the paths.

    Args:
        root: the data set folder (created if needed). brats2018 cases go straight under
            it; pass ``<data set>/HGG`` or ``/LGG`` to write the graded form.
        layout: one of LAYOUTS. msd and nnunet also need :func:`write_dataset_json`.
        case_id: the case folder's name (BraTS) or file stem (msd, nnunet).
        modalities: float32 [X, Y, Z] for each of "flair", "t1", "t1ce", "t2", in the voxel
            order the file should have (matching ``affine``).
        label: integer [X, Y, Z] in BraTS 2018 labels: 0 background, 1 necrosis or
            non-enhancing, 2 oedema, 4 enhancing; written renumbered as the layout wants.
        affine: float [4, 4] voxel-to-world matrix of the arrays.

    Images are written float32 (msd: one 4D file, channels flair, t1, t1ce, t2), labels
    uint8, as gzip NIfTI whose bytes depend on the inputs only.
    """
    check_layout(layout)
    if not case_id or Path(case_id).name != case_id:
        raise ValueError(f"case_id {case_id!r} must be a non-empty file name without folders")
    if sorted(modalities) != sorted(MODALITIES):
        raise ValueError(f"modalities must have exactly the keys {list(MODALITIES)}, got {sorted(modalities)}")
    label = np.asarray(label)
    if label.ndim != 3:
        raise ValueError(f"label must be [X, Y, Z], got shape {label.shape}")
    volumes = [np.asarray(modalities[name], np.float32) for name in MODALITIES]
    for name, volume in zip(MODALITIES, volumes):
        if volume.shape != label.shape:
            raise ValueError(f"modalities[{name!r}] has shape {volume.shape}, label has {label.shape}")
    unknown = np.setdiff1d(np.unique(label), _BRATS2018_LABELS)
    if unknown.size:
        raise ValueError(f"label has values {unknown.tolist()} outside BraTS 2018's {list(_BRATS2018_LABELS)}")
    affine = np.asarray(affine, np.float64)
    if affine.shape != (4, 4) or not np.isfinite(affine).all():
        raise ValueError(f"affine must be a finite [4, 4] matrix, got shape {affine.shape}")

    image_paths, label_path = case_file_paths(Path(root), layout, case_id)
    payloads = [np.stack(volumes, axis=-1)] if layout == "msd" else volumes
    for path, data in zip(image_paths, payloads):
        _write_nifti(path, data, affine)
    _write_nifti(label_path, relabel_from_brats2018(label.astype(np.uint8), layout), affine)
    return [*image_paths, label_path]


def zscore_brain(volume: np.ndarray) -> np.ndarray:
    """float32 copy of ``volume`` (any shape) z-scored over its non-zero voxels; zeros stay 0."""
    out = np.zeros(volume.shape, np.float32)
    brain = volume != 0
    values = volume[brain].astype(np.float64)
    if values.size:
        out[brain] = (values - values.mean()) / (values.std() or 1.0)
    return out


# --- orientation ----------------------------------------------------------------------


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


# --- helpers --------------------------------------------------------------------------


def _read_nifti(path: Path) -> tuple[np.ndarray, np.ndarray, tuple[float, ...]]:
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


def _image_channels(ref: CaseRef, shape: tuple[int, ...], affine: np.ndarray):
    """Yield (path, volume [X, Y, Z] as stored) per channel, each file checked against the label's grid."""
    channels = len(ref.modalities) if ref.layout == "msd" else None
    for path in ref.image_paths:
        data, file_affine, _ = _read_nifti(path)
        _check_rank(path, data.shape, channels)
        if data.shape[:3] != shape:
            raise InvalidCaseError(
                f"{path}: shape {data.shape[:3]} differs from {ref.label_path.name}'s {shape}; put the files on one grid"
            )
        _check_affine(path, file_affine, affine, ref.label_path.name)
        if channels is None:
            yield path, data
        else:
            yield from ((path, data[..., c]) for c in range(channels))


def _check_rank(path: Path, shape: tuple[int, ...], channels: int | None) -> None:
    """A 3D volume, or with ``channels`` a 4D one with that many volumes on the last axis."""
    if channels is None and len(shape) != 3:
        raise InvalidCaseError(f"{path}: expected a 3D volume, got shape {shape}; give one 3D file per modality")
    if channels is not None and (len(shape) != 4 or shape[3] != channels):
        raise InvalidCaseError(
            f"{path}: expected a 4D volume [X, Y, Z, {channels}], got shape {shape}; "
            "MSD images stack FLAIR, T1w, T1gd, T2w on the last axis"
        )


def _check_label_values(path: Path, data: np.ndarray, allowed: tuple[int, ...] | None) -> None:
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


def _check_affine(path: Path, affine: np.ndarray, reference: np.ndarray, reference_name: str) -> None:
    difference = float(np.abs(np.asarray(affine) - np.asarray(reference)).max())
    if not difference <= AFFINE_TOLERANCE_MM:  # written so that NaN fails too
        raise InvalidCaseError(
            f"{path}: affine differs from {reference_name}'s by {difference:.3g} mm; "
            "put the files on one grid (resample, or fix the header)"
        )


def _canonical_zooms(zooms: tuple[float, ...], ornt: np.ndarray) -> tuple[float, float, float]:
    spacing = [0.0, 0.0, 0.0]
    for axis, target in enumerate(ornt[:, 0].astype(int)):
        spacing[target] = float(zooms[axis])
    return tuple(spacing)  # type: ignore[return-value]


def _write_nifti(path: Path, data: np.ndarray, affine: np.ndarray) -> None:
    image = nib.Nifti1Image(data, affine)
    image.header.set_xyzt_units("mm")
    path.parent.mkdir(parents=True, exist_ok=True)
    # mtime=0 and no file name in the gzip header: equal inputs give equal bytes.
    path.write_bytes(gzip.compress(image.to_bytes(), compresslevel=_GZIP_LEVEL, mtime=0))
