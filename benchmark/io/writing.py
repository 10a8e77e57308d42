"""Writing one case as NIfTI files in any of the layouts, with bytes that depend on the inputs only.

The file names and label conventions are :mod:`benchmark.io.layouts`'; msd and nnunet
data sets also need :func:`benchmark.io.layouts.write_dataset_json`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmark.io.layouts import MODALITIES, case_file_paths, check_layout, relabel_from_brats2018
from benchmark.io.nifti import write_nifti

_BRATS2018_LABELS = (0, 1, 2, 4)


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
        write_nifti(path, data, affine)
    write_nifti(label_path, relabel_from_brats2018(label.astype(np.uint8), layout), affine)
    return [*image_paths, label_path]
