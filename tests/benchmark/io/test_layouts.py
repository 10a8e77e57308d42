"""The layouts: detection, file names, dataset.json."""

from __future__ import annotations

import json

import numpy as np
import pytest

from benchmark.case import InvalidCaseError
from benchmark.io.cases import discover
from benchmark.io.layouts import detect_layout, write_dataset_json
from benchmark.io.writing import write_case
from tests.benchmark.io.helpers import make_volumes, write


# --- detection ------------------------------------------------------------------------


def test_brats2018_is_told_from_brats2021_by_grade_folders_or_name(tmp_path):
    modalities, label, _ = make_volumes()
    write_case(tmp_path / "flat18", "brats2018", "Brats18_2013_2_1", modalities, label, np.eye(4))
    write_case(tmp_path / "flat21", "brats2021", "BraTS2021_00000", modalities, label, np.eye(4))
    assert detect_layout(tmp_path / "flat18") == "brats2018"
    assert detect_layout(tmp_path / "flat21") == "brats2021"
    write_case(tmp_path / "graded" / "LGG", "brats2018", "any_name", modalities, label, np.eye(4))
    assert detect_layout(tmp_path / "graded") == "brats2018"
    assert [ref.case_id for ref in discover(tmp_path / "graded")] == ["any_name"]


def test_an_unrecognisable_folder_says_what_was_looked_for(tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "readme.txt").write_text("hello")
    with pytest.raises(InvalidCaseError, match=str(tmp_path)) as error:
        discover(tmp_path)
    for expected in ("dataset.json", "flair", "t2f", "HGG"):
        assert expected in str(error.value)


def test_mixed_brats_naming_needs_an_explicit_layout(tmp_path):
    modalities, label, _ = make_volumes()
    write_case(tmp_path, "brats2021", "old", modalities, label, np.eye(4))
    write_case(tmp_path, "brats2023", "new", modalities, label, np.eye(4))
    with pytest.raises(InvalidCaseError, match="explicitly"):
        detect_layout(tmp_path)
    assert [ref.case_id for ref in discover(tmp_path, "brats2023")] == ["new"]


def test_a_misspelt_layout_gets_a_suggestion(tmp_path):
    with pytest.raises(ValueError, match="did you mean 'brats2021'"):
        discover(tmp_path, "Brats2021")


def test_images_without_dataset_json_are_refused_naming_it(tmp_path):
    root = write(tmp_path, "msd")
    (root / "dataset.json").unlink()
    with pytest.raises(InvalidCaseError, match="dataset.json"):
        discover(root)


# --- file names and dataset.json ------------------------------------------------------


def test_brats2023_files_are_named_by_the_2023_modality_suffixes(tmp_path):
    paths = write_case(tmp_path, "brats2023", "BraTS-GLI-00000-000", *make_volumes()[:2], np.eye(4))
    assert [p.name.rsplit("-", 1)[1] for p in paths] == ["t2f.nii.gz", "t1n.nii.gz", "t1c.nii.gz", "t2w.nii.gz", "seg.nii.gz"]


def test_dataset_json_only_for_msd_and_nnunet(tmp_path):
    assert write_dataset_json(tmp_path, "brats2023", ["c"]) is None
    content = json.loads(write_dataset_json(tmp_path, "nnunet", ["b", "a"]).read_text())
    assert content["numTraining"] == 2 and content["file_ending"] == ".nii.gz"
    content = json.loads(write_dataset_json(tmp_path, "msd", ["b", "a"]).read_text())
    assert [t["image"] for t in content["training"]] == ["./imagesTr/a.nii.gz", "./imagesTr/b.nii.gz"]
