"""Bad NIfTI files: each problem is an InvalidCaseError naming the file, raised on load."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.io.cases import discover
from tests.benchmark.io.helpers import SHAPE, expect_error, make_volumes, one_case, save


def test_a_missing_modality_names_the_expected_file(tmp_path):
    ref = one_case(tmp_path)
    ref.image_paths[2].unlink()
    (again,) = discover(tmp_path)  # still listed: discover reads no content
    expect_error(again, tmp_path / "c" / "c_t1ce.nii.gz", "not found")


def test_a_missing_label_names_the_expected_file(tmp_path):
    ref = one_case(tmp_path, "msd")
    ref.label_path.unlink()
    expect_error(ref, ref.label_path, "not found")


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
