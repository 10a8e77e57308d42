"""Finding and loading cases: round trips in every layout, normalisation, case lists, masks."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from benchmark.case import InvalidCaseError
from benchmark.io.cases import discover, load_image, load_mask
from benchmark.io.layouts import LAYOUTS, MODALITIES, detect_layout
from benchmark.io.writing import write_case
from tests.benchmark.io.helpers import (
    EXPECTED_LABELS,
    LPS,
    SHAPE,
    expect_error,
    make_volumes,
    one_case,
    reference_zscore,
    save,
    write,
)


# --- round trips ----------------------------------------------------------------------


@pytest.mark.parametrize("layout", LAYOUTS)
def test_round_trip_in_every_layout(tmp_path, layout):
    root = write(tmp_path, layout)
    assert detect_layout(root) == layout
    refs = discover(root)
    assert [ref.case_id for ref in refs] == ["case_a", "case_b"]
    assert all(ref.layout == layout for ref in refs)

    case = refs[0].load()
    modalities, label, brain = make_volumes()
    assert case.modalities == MODALITIES
    assert case.image.dtype == np.float32 and case.image.shape == (4, *SHAPE)
    for c, name in enumerate(MODALITIES):  # the modalities differ, so this checks their order
        np.testing.assert_allclose(case.image[c], reference_zscore(modalities[name]), atol=1e-5)
    assert case.label.dtype == bool
    np.testing.assert_array_equal(case.label, label > 0)
    expected_raw = np.vectorize(EXPECTED_LABELS[layout].get)(label)
    np.testing.assert_array_equal(case.raw_label, expected_raw)
    assert case.spacing == (1.0, 1.0, 1.0)
    assert Path(case.source).exists()


@pytest.mark.parametrize("layout", LAYOUTS)
def test_load_image_reads_what_load_case_gives_methods_without_the_label(tmp_path, layout):
    root = write(tmp_path, layout)
    ref = discover(root)[1]
    seen = ref.load().without_label()
    if ref.label_path is not None:
        ref.label_path.unlink()  # replay needs no ground truth
    image = load_image(ref)
    np.testing.assert_array_equal(image.image, seen.image)
    np.testing.assert_array_equal(image.affine, seen.affine)
    np.testing.assert_array_equal(image.orientation, seen.orientation)
    assert (image.case_id, image.spacing, image.modalities) == (seen.case_id, seen.spacing, seen.modalities)


def test_normalisation_is_zero_mean_unit_std_inside_the_brain_and_keeps_zeros(tmp_path):
    case = discover(write(tmp_path, "brats2021"))[0].load()
    _, _, brain = make_volumes()
    for channel in case.image:
        inside = channel[brain].astype(np.float64)
        assert abs(inside.mean()) < 1e-5 and abs(inside.std() - 1) < 1e-5
        assert not channel[~brain].any()


def test_msd_loads_the_4d_channels_in_flair_t1_t1ce_t2_order(tmp_path):
    root = write(tmp_path, "msd")
    case = discover(root)[0].load()
    modalities, _, _ = make_volumes()
    stored = nib.load(root / "imagesTr" / "case_a.nii.gz").get_fdata()
    assert stored.shape == (*SHAPE, 4)
    for c, name in enumerate(MODALITIES):
        np.testing.assert_array_equal(stored[..., c], modalities[name])
        np.testing.assert_allclose(case.image[c], reference_zscore(modalities[name]), atol=1e-5)


def test_msd_ignores_macos_resource_fork_files(tmp_path):
    root = write(tmp_path, "msd")
    (root / "imagesTr" / "._case_a.nii.gz").write_bytes(b"\x00\x05\x16\x07")
    assert [ref.case_id for ref in discover(root)] == ["case_a", "case_b"]


def test_nnunet_follows_dataset_json_channel_order_names_and_region_labels(tmp_path):
    root = write(tmp_path, "nnunet", case_ids=("x",))
    content = json.loads((root / "dataset.json").read_text())
    content["channel_names"] = {"0": "T1", "1": "T1Gd", "2": "ADC", "3": "Flair"}
    content["labels"] = {"background": 0, "whole tumor": [1, 2, 3], "tumor core": [2, 3], "enhancing": 3}
    (root / "dataset.json").write_text(json.dumps(content))
    (ref,) = discover(root)
    assert ref.modalities == ("t1", "t1ce", "ADC", "flair")
    assert ref.label_values == (0, 1, 2, 3)
    case = ref.load()
    modalities, label, _ = make_volumes()
    for c in range(4):  # channel c is file _000c, whatever it is called
        expected = nib.load(root / "imagesTr" / f"x_{c:04d}.nii.gz").get_fdata()
        np.testing.assert_allclose(case.image[c], reference_zscore(expected), atol=1e-5)
    np.testing.assert_array_equal(case.label, label > 0)


def test_nnunet_labels_outside_dataset_json_are_refused(tmp_path):
    root = write(tmp_path, "nnunet", case_ids=("x",))
    content = json.loads((root / "dataset.json").read_text())
    content["labels"] = {"background": 0, "tumour": 1}
    (root / "dataset.json").write_text(json.dumps(content))
    with pytest.raises(InvalidCaseError, match=r"x\.nii\.gz.*\[2, 3\]"):
        discover(root)[0].load()


def test_uncompressed_nii_files_are_read(tmp_path):
    modalities, label, _ = make_volumes()
    folder = tmp_path / "BraTS20_Training_001"
    folder.mkdir()
    for name, volume in {**modalities, "seg": label}.items():
        save(folder / f"{folder.name}_{name}.nii", volume)
    (ref,) = discover(tmp_path)
    assert ref.image_paths[0].name == "BraTS20_Training_001_flair.nii"
    np.testing.assert_array_equal(ref.load().label, label > 0)


def test_discover_keeps_the_cases_asked_for_and_names_missing_ones(tmp_path):
    label = np.zeros((12, 10, 8), np.uint8)
    label[4:7, 4:7, 3:5] = 2
    image = np.ones((12, 10, 8), np.float32)
    for cid in ("BraTS2021_00000", "BraTS2021_00001", "BraTS2021_00002"):
        write_case(tmp_path, "brats2021", cid, dict.fromkeys(("flair", "t1", "t1ce", "t2"), image), label, np.eye(4))
    refs = discover(tmp_path, cases=["BraTS2021_00002", "BraTS2021_00000"])
    assert [r.case_id for r in refs] == ["BraTS2021_00000", "BraTS2021_00002"]
    with pytest.raises(InvalidCaseError, match=r"no case\(s\) \['BraTS2021_00009'\]"):
        discover(tmp_path, cases=["BraTS2021_00009"])


# --- bad inputs -----------------------------------------------------------------------


def test_shapes_that_disagree(tmp_path):
    ref = one_case(tmp_path)
    save(ref.image_paths[1], np.ones((12, 10, 9), np.float32))
    expect_error(ref, ref.image_paths[1], "(12, 10, 9)")


def test_nan_intensities(tmp_path):
    ref = one_case(tmp_path)
    modalities, _, _ = make_volumes()
    modalities["flair"][5, 5, 5] = np.nan
    modalities["flair"][5, 5, 6] = np.inf
    save(ref.image_paths[0], modalities["flair"])
    expect_error(ref, ref.image_paths[0], "2 NaN or Inf")


def test_a_broken_case_does_not_hide_the_others(tmp_path):
    root = write(tmp_path, "brats2023", case_ids=("bad", "good"))
    (root / "bad" / "bad-t1n.nii.gz").write_text("garbage")
    refs = discover(root)
    assert [ref.case_id for ref in refs] == ["bad", "good"]
    with pytest.raises(InvalidCaseError, match="bad-t1n.nii.gz"):
        refs[0].load()
    assert refs[1].load().label.any()


# --- masks ----------------------------------------------------------------------------


def test_load_mask_reorients_and_checks_the_grid(tmp_path):
    root = write(tmp_path, "brats2021", case_ids=("c",), affine=LPS)
    case = discover(root)[0].load()
    _, label, _ = make_volumes()
    path = tmp_path / "initial.nii.gz"
    save(path, label, LPS)
    np.testing.assert_array_equal(load_mask(path, like=case), case.label)

    save(path, label, np.eye(4))
    with pytest.raises(InvalidCaseError, match="initial.nii.gz.*affine"):
        load_mask(path, like=case)
    save(path, label[:, :, :4], LPS)
    with pytest.raises(InvalidCaseError, match="initial.nii.gz.*shape"):
        load_mask(path, like=case)
    save(path, np.full(SHAPE, 0.5, np.float32), LPS)
    with pytest.raises(InvalidCaseError, match=r"initial.nii.gz.*\[0.5\].*threshold"):
        load_mask(path)
