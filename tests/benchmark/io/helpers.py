"""Shared by the tests of benchmark.io: small volumes, cases written in a layout, bad-file checks."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from benchmark.case import InvalidCaseError
from benchmark.io.cases import CaseRef, discover, load_case
from benchmark.io.layouts import MODALITIES, write_dataset_json
from benchmark.io.writing import write_case

SHAPE = (12, 10, 8)
LPS = np.array([[-1.0, 0, 0, 50], [0, -1.0, 0, 40], [0, 0, 2.0, -10], [0, 0, 0, 1]])
# File axes (i, j, k) hold (S, L, A) with spacings 3, 1.5, 2 mm: a permuted, flipped grid.
PERMUTED = np.array([[0, -1.5, 0, 20], [0, 0, 2.0, -5], [3.0, 0, 0, 7], [0, 0, 0, 1]])

# BraTS 2018 label -> the layout's label (independent of benchmark.io.layouts' tables).
EXPECTED_LABELS = {
    "brats2018": {0: 0, 1: 1, 2: 2, 4: 4},
    "brats2021": {0: 0, 1: 1, 2: 2, 4: 4},
    "brats2023": {0: 0, 1: 1, 2: 2, 4: 3},
    "msd": {0: 0, 1: 2, 2: 1, 4: 3},
    "nnunet": {0: 0, 1: 2, 2: 1, 4: 3},
}


def make_volumes(seed: int = 0, shape: tuple[int, int, int] = SHAPE):
    """Four distinct modalities (positive in a brain box, 0 outside) and a BraTS 2018 label."""
    rng = np.random.default_rng(seed)
    brain = np.zeros(shape, bool)
    brain[1:-1, 1:-1, 1:-1] = True
    modalities = {
        name: np.where(brain, rng.normal(100 * (i + 1), 10 * (i + 1), shape), 0).astype(np.float32)
        for i, name in enumerate(MODALITIES)
    }
    label = np.zeros(shape, np.uint8)
    label[3:7, 3:7, 2:6] = 2
    label[4:6, 4:6, 3:5] = 1
    label[5, 5, 4] = 4
    return modalities, label, brain


def write(root: Path, layout: str, case_ids=("case_b", "case_a"), affine=np.eye(4)):
    """Write cases in ``layout`` (brats2018 under HGG/), with dataset.json where needed."""
    modalities, label, _ = make_volumes()
    target = root / "HGG" if layout == "brats2018" else root
    for case_id in case_ids:
        write_case(target, layout, case_id, modalities, label, affine)
    write_dataset_json(root, layout, list(case_ids))
    return root


def save(path: Path, data: np.ndarray, affine=np.eye(4)) -> None:
    nib.save(nib.Nifti1Image(data, affine), path)


def reference_zscore(volume: np.ndarray) -> np.ndarray:
    out = np.zeros(volume.shape)
    brain = volume != 0
    values = volume[brain].astype(np.float64)
    out[brain] = (values - values.mean()) / values.std()
    return out


def one_case(tmp_path: Path, layout: str = "brats2021") -> CaseRef:
    (ref,) = discover(write(tmp_path, layout, case_ids=("c",)))
    return ref


def expect_error(ref: CaseRef, path: Path, *fragments: str) -> str:
    with pytest.raises(InvalidCaseError) as error:
        load_case(ref)
    message = str(error.value)
    assert path.name in message and "\n" not in message
    for fragment in fragments:
        assert fragment in message
    return message
