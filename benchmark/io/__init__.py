"""Reading and writing cases as NIfTI files in the BraTS, MSD and nnU-Net folder layouts.

Loading reorients every file to the closest canonical (RAS+) orientation, as nibabel's
``as_closest_canonical`` does, so arrays are (X, Y, Z) with axis 2 axial; images become
float32 [C, X, Y, Z] z-scored inside the brain. Every problem with a case's files raises
:class:`~benchmark.case.InvalidCaseError` naming the file, when the case is loaded:
:func:`discover` only lists paths, so one broken case never hides the others.

The parts:

- :mod:`benchmark.io.cases`: finding cases (:class:`CaseRef`, :func:`discover`), loading
  one (:func:`load_case`; its image alone: :func:`load_image`) or a mask (:func:`load_mask`), :func:`zscore_brain`.
- :mod:`benchmark.io.layouts`: where the files of each layout live and what their labels
  mean; :func:`detect_layout`, :func:`write_dataset_json`. No voxel data.
- :mod:`benchmark.io.nifti`: reading and writing one NIfTI file, and the checks of its rank,
  label values and affine (:data:`AFFINE_TOLERANCE_MM`).
- :mod:`benchmark.io.orientation`: to the closest canonical orientation and back.
- :mod:`benchmark.io.writing`: :func:`write_case`.

The names below are re-exported here; code inside this package imports from the defining
module.
"""

from __future__ import annotations

from benchmark.io.cases import CaseRef, discover, load_case, load_image, load_mask, zscore_brain
from benchmark.io.layouts import LAYOUTS, MODALITIES, detect_layout, write_dataset_json
from benchmark.io.nifti import AFFINE_TOLERANCE_MM
from benchmark.io.orientation import canonical_orientation, from_canonical_voxels, to_canonical
from benchmark.io.writing import write_case

__all__ = [
    "LAYOUTS", "MODALITIES", "AFFINE_TOLERANCE_MM", "CaseRef", "detect_layout", "discover",
    "load_case", "load_image", "load_mask", "write_case", "write_dataset_json", "zscore_brain",
    "canonical_orientation", "to_canonical", "from_canonical_voxels",
]  # fmt: skip
