"""The cases of a data set: finding them on disk, and loading one case or a mask.

Loading reorients every file to the closest canonical (RAS+) orientation, as nibabel's
``as_closest_canonical`` does, so arrays are (X, Y, Z) with axis 2 axial; images become
float32 [C, X, Y, Z] z-scored inside the brain. Every problem with a case's files raises
:class:`~benchmark.case.InvalidCaseError` naming the file, when the case is loaded:
:func:`discover` only lists paths, so one broken case never hides the others.
Where the files of each layout live, and what their labels mean: :mod:`benchmark.io.layouts`.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from nibabel.orientations import inv_ornt_aff

from benchmark.case import Case, CaseImage, InvalidCaseError
from benchmark.io.layouts import (
    BRATS_SUFFIXES,
    LABEL_VALUES,
    MODALITIES,
    brats_case_folders,
    brats_files,
    check_layout,
    detect_layout,
    image_files,
    nifti_file,
    nnunet_case_ids,
    nnunet_channels,
    read_dataset_json,
    stem,
)
from benchmark.io.nifti import check_affine, check_label_values, check_rank, read_nifti
from benchmark.io.orientation import canonical_orientation, canonical_zooms, to_canonical


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
    labels, affine, zooms = read_nifti(ref.label_path)
    check_rank(ref.label_path, labels.shape, channels=None)
    check_label_values(ref.label_path, labels, allowed)
    ornt = canonical_orientation(affine)
    raw_label = to_canonical(labels, affine).astype(np.uint8 if max(allowed) < 256 else np.int32)

    image = _image(ref, labels.shape, affine, ref.label_path.name, raw_label.shape)
    return Case(
        case_id=ref.case_id,
        image=image,
        spacing=canonical_zooms(zooms, ornt),
        affine=affine @ inv_ornt_aff(ornt, labels.shape),
        modalities=tuple(ref.modalities),
        orientation=ornt,
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
    data, file_affine, _ = read_nifti(path)
    check_rank(path, data.shape, channels=None)
    check_label_values(path, data, None)
    mask = to_canonical(data, file_affine) != 0
    if like is not None:
        if mask.shape != like.shape:
            raise InvalidCaseError(
                f"{path}: shape {mask.shape} (canonical) differs from case {like.case_id!r}'s {like.shape}; "
                "resample the mask onto the case's grid"
            )
        affine = file_affine @ inv_ornt_aff(canonical_orientation(file_affine), data.shape)
        check_affine(path, affine, like.affine, f"case {like.case_id!r}")
    return mask


def zscore_brain(volume: np.ndarray) -> np.ndarray:
    """float32 copy of ``volume`` (any shape) z-scored over its non-zero voxels; zeros stay 0."""
    out = np.zeros(volume.shape, np.float32)
    brain = volume != 0
    values = volume[brain].astype(np.float64)
    if values.size:
        out[brain] = (values - values.mean()) / (values.std() or 1.0)
    return out


def load_image(ref: CaseRef) -> CaseImage:
    """Read a case's image alone, as :func:`load_case` does, on the first image file's
    grid: what a method is given, for re-running predictions (``simedit replay``) where
    the labels are not needed or not there.

    Raises:
        InvalidCaseError: as :func:`load_case`, for the image files.
    """
    first = ref.image_paths[0]
    data, affine, zooms = read_nifti(first)
    shape = data.shape[:3]
    ornt = canonical_orientation(affine)
    canonical = tuple(int(n) for n in np.asarray(shape)[np.argsort(ornt[:, 0])])
    image = _image(ref, shape, affine, first.name, canonical)
    return CaseImage(ref.case_id, image, canonical_zooms(zooms[:3], ornt), affine @ inv_ornt_aff(ornt, shape),
                     tuple(ref.modalities), ornt)


def _image(ref: CaseRef, shape: tuple[int, ...], affine: np.ndarray, grid: str,
           canonical: tuple[int, ...]) -> np.ndarray:
    """float32 [C, *canonical]: every channel checked against ``shape`` and ``affine``,
    reoriented and z-scored."""
    image = np.empty((len(ref.modalities), *canonical), np.float32)
    for c, (path, volume) in enumerate(_image_channels(ref, shape, affine, grid)):
        if volume.dtype.kind == "f" and not np.isfinite(volume).all():
            bad = volume.size - np.count_nonzero(np.isfinite(volume))
            raise InvalidCaseError(f"{path}: {bad} NaN or Inf intensities; replace them (e.g. with 0) and reload")
        image[c] = zscore_brain(to_canonical(volume, affine))
    return image


def _image_channels(ref: CaseRef, shape: tuple[int, ...], affine: np.ndarray, grid: str):
    """Yield (path, volume [X, Y, Z] as stored) per channel, each file checked against
    the grid of the file named ``grid`` (the label's, or the first image's)."""
    channels = len(ref.modalities) if ref.layout == "msd" else None
    for path in ref.image_paths:
        data, file_affine, _ = read_nifti(path)
        check_rank(path, data.shape, channels)
        if data.shape[:3] != shape:
            raise InvalidCaseError(
                f"{path}: shape {data.shape[:3]} differs from {grid}'s {shape}; put the files on one grid"
            )
        check_affine(path, file_affine, affine, grid)
        if channels is None:
            yield path, data
        else:
            yield from ((path, data[..., c]) for c in range(channels))
