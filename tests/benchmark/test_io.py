"""Reading and writing the NIfTI layouts: round trips, orientation, detection, bad files."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from benchmark.case import InvalidCaseError
from benchmark.io import (
    LAYOUTS,
    MODALITIES,
    CaseRef,
    detect_layout,
    discover,
    from_canonical_voxels,
    load_case,
    load_mask,
    to_canonical,
    write_case,
    write_dataset_json,
)

SHAPE = (12, 10, 8)
LPS = np.array([[-1.0, 0, 0, 50], [0, -1.0, 0, 40], [0, 0, 2.0, -10], [0, 0, 0, 1]])
# File axes (i, j, k) hold (S, L, A) with spacings 3, 1.5, 2 mm: a permuted, flipped grid.
PERMUTED = np.array([[0, -1.5, 0, 20], [0, 0, 2.0, -5], [3.0, 0, 0, 7], [0, 0, 0, 1]])

# BraTS 2018 label -> the layout's label (independent of benchmark.layouts' tables).
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


def test_normalisation_is_zero_mean_unit_std_inside_the_brain_and_keeps_zeros(tmp_path):
    case = discover(write(tmp_path, "brats2021"))[0].load()
    _, _, brain = make_volumes()
    for channel in case.image:
        inside = channel[brain].astype(np.float64)
        assert abs(inside.mean()) < 1e-5 and abs(inside.std() - 1) < 1e-5
        assert not channel[~brain].any()


def test_brats2023_files_are_named_by_the_2023_modality_suffixes(tmp_path):
    paths = write_case(tmp_path, "brats2023", "BraTS-GLI-00000-000", *make_volumes()[:2], np.eye(4))
    assert [p.name.rsplit("-", 1)[1] for p in paths] == ["t2f.nii.gz", "t1n.nii.gz", "t1c.nii.gz", "t2w.nii.gz", "seg.nii.gz"]


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


# --- orientation ----------------------------------------------------------------------


def test_lps_case_loads_flipped_to_ras(tmp_path):
    root = write(tmp_path, "brats2021", case_ids=("lps",), affine=LPS)
    case = discover(root)[0].load()
    modalities, label, _ = make_volumes()
    np.testing.assert_array_equal(case.raw_label, np.flip(label, (0, 1)))
    np.testing.assert_allclose(case.image[0], np.flip(reference_zscore(modalities["flair"]), (0, 1)), atol=1e-5)
    assert case.spacing == (1.0, 1.0, 2.0)
    assert nib.aff2axcodes(case.affine) == ("R", "A", "S")
    # The canonical affine maps canonical voxels to the same world points as the file's.
    world = nib.affines.apply_affine(LPS, [0, 0, 0])
    np.testing.assert_allclose(nib.affines.apply_affine(case.affine, [SHAPE[0] - 1, SHAPE[1] - 1, 0]), world)


def test_permuted_case_matches_nibabel_closest_canonical_and_axis_2_is_axial(tmp_path):
    root = write(tmp_path, "nnunet", case_ids=("p",), affine=PERMUTED)
    case = discover(root)[0].load()
    stored = nib.load(root / "labelsTr" / "p.nii.gz")
    reference = nib.as_closest_canonical(stored)
    np.testing.assert_array_equal(case.raw_label, np.asarray(reference.dataobj))
    np.testing.assert_allclose(case.affine, reference.affine)
    assert nib.aff2axcodes(case.affine) == ("R", "A", "S")  # axis 2 runs inferior -> superior
    assert case.spacing == tuple(float(z) for z in reference.header.get_zooms())
    assert case.spacing == (1.5, 2.0, 3.0)


@pytest.mark.parametrize("affine", [LPS, PERMUTED, np.eye(4)], ids=["lps", "permuted", "ras"])
def test_from_canonical_voxels_inverts_to_canonical(affine):
    stored = np.arange(np.prod(SHAPE), dtype=np.int32).reshape(SHAPE)
    canonical = to_canonical(stored, affine)
    np.testing.assert_array_equal(canonical, np.asarray(nib.as_closest_canonical(nib.Nifti1Image(stored, affine)).dataobj))
    voxels = np.argwhere(np.ones(canonical.shape, bool))
    file_voxels = from_canonical_voxels(voxels, affine, SHAPE)
    np.testing.assert_array_equal(stored[tuple(file_voxels.T)], canonical[tuple(voxels.T)])


def test_from_canonical_voxels_refuses_voxels_outside_the_volume():
    with pytest.raises(ValueError, match="inside"):
        from_canonical_voxels(np.array([[12, 0, 0]]), np.eye(4), SHAPE)
    with pytest.raises(ValueError, match=r"\[N, 3\]"):
        from_canonical_voxels(np.array([1.0, 2.0, 3.0]), np.eye(4), SHAPE)


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


# --- determinism ----------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["brats2021", "msd", "nnunet"])
def test_written_bytes_depend_on_the_input_only(tmp_path, layout):
    first = write(tmp_path / "one", layout, case_ids=("c",))
    second = write(tmp_path / "two", layout, case_ids=("c",))
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert files and files == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    for relative in files:
        data = (first / relative).read_bytes()
        assert data == (second / relative).read_bytes(), relative
        if relative.name.endswith(".gz"):
            assert data[4:8] == b"\0\0\0\0" and data[3] & 0x08 == 0  # no mtime, no file name


# --- bad inputs -----------------------------------------------------------------------


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


def test_a_missing_modality_names_the_expected_file(tmp_path):
    ref = one_case(tmp_path)
    ref.image_paths[2].unlink()
    (again,) = discover(tmp_path)  # still listed: discover reads no content
    expect_error(again, tmp_path / "c" / "c_t1ce.nii.gz", "not found")


def test_a_missing_label_names_the_expected_file(tmp_path):
    ref = one_case(tmp_path, "msd")
    ref.label_path.unlink()
    expect_error(ref, ref.label_path, "not found")


def test_shapes_that_disagree(tmp_path):
    ref = one_case(tmp_path)
    save(ref.image_paths[1], np.ones((12, 10, 9), np.float32))
    expect_error(ref, ref.image_paths[1], "(12, 10, 9)")


def test_affines_that_disagree_beyond_the_tolerance(tmp_path):
    ref = one_case(tmp_path)
    modalities, _, _ = make_volumes()
    shifted = np.eye(4)
    shifted[0, 3] = 1e-5
    save(ref.image_paths[3], modalities["t2"], shifted)
    ref.load()  # within 1e-3 mm: the same grid
    shifted[0, 3] = 0.01
    save(ref.image_paths[3], modalities["t2"], shifted)
    expect_error(ref, ref.image_paths[3], "affine")


def test_label_values_outside_the_layout_are_listed(tmp_path):
    ref = one_case(tmp_path, "brats2023")
    _, label, _ = make_volumes()
    label[0, 0, 0], label[0, 0, 1] = 4, 7
    save(ref.label_path, label)
    expect_error(ref, ref.label_path, "[4, 7]")


def test_nan_intensities(tmp_path):
    ref = one_case(tmp_path)
    modalities, _, _ = make_volumes()
    modalities["flair"][5, 5, 5] = np.nan
    modalities["flair"][5, 5, 6] = np.inf
    save(ref.image_paths[0], modalities["flair"])
    expect_error(ref, ref.image_paths[0], "2 NaN or Inf")


def test_a_gzip_file_cut_in_half(tmp_path):
    ref = one_case(tmp_path)
    data = ref.image_paths[1].read_bytes()
    ref.image_paths[1].write_bytes(data[: len(data) // 2])
    expect_error(ref, ref.image_paths[1], "truncated")


def test_a_text_file_named_nii_gz(tmp_path):
    ref = one_case(tmp_path, "nnunet")
    ref.label_path.write_text("not an image\n")
    expect_error(ref, ref.label_path, "unreadable")


def test_a_2d_image(tmp_path):
    ref = one_case(tmp_path)
    save(ref.image_paths[0], np.ones((12, 10), np.float32))
    expect_error(ref, ref.image_paths[0], "3D")


@pytest.mark.parametrize("shape", [SHAPE, (*SHAPE, 3)], ids=["3d", "three-channels"])
def test_msd_images_must_be_4d_with_four_channels(tmp_path, shape):
    ref = one_case(tmp_path, "msd")
    save(ref.image_paths[0], np.ones(shape, np.float32))
    expect_error(ref, ref.image_paths[0], "4D")


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


# --- write_case's own checks ----------------------------------------------------------


def test_write_case_refuses_bad_arguments(tmp_path):
    modalities, label, _ = make_volumes()
    with pytest.raises(ValueError, match="label has values \\[3\\]"):
        write_case(tmp_path, "msd", "c", modalities, np.where(label == 4, 3, label), np.eye(4))
    with pytest.raises(ValueError, match="keys"):
        write_case(tmp_path, "msd", "c", {"flair": modalities["flair"]}, label, np.eye(4))
    with pytest.raises(ValueError, match="t2"):
        write_case(tmp_path, "msd", "c", {**modalities, "t2": modalities["t2"][:-1]}, label, np.eye(4))
    with pytest.raises(ValueError, match="case_id"):
        write_case(tmp_path, "msd", "a/b", modalities, label, np.eye(4))
    assert not any(tmp_path.iterdir())


def test_dataset_json_only_for_msd_and_nnunet(tmp_path):
    assert write_dataset_json(tmp_path, "brats2023", ["c"]) is None
    content = json.loads(write_dataset_json(tmp_path, "nnunet", ["b", "a"]).read_text())
    assert content["numTraining"] == 2 and content["file_ending"] == ".nii.gz"
    content = json.loads(write_dataset_json(tmp_path, "msd", ["b", "a"]).read_text())
    assert [t["image"] for t in content["training"]] == ["./imagesTr/a.nii.gz", "./imagesTr/b.nii.gz"]


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
