"""Reorientation: LPS and permuted files load as nibabel's closest canonical, and back."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from benchmark.io.cases import discover
from benchmark.io.orientation import from_canonical_voxels, to_canonical
from tests.benchmark.io.helpers import LPS, PERMUTED, SHAPE, make_volumes, reference_zscore, write


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


@pytest.mark.parametrize("affine", [LPS, PERMUTED, np.eye(4)], ids=["lps", "permuted", "ras"])
def test_the_files_own_grid_is_recovered_from_the_canonical_arrays(tmp_path, affine):
    from benchmark.io.orientation import file_zyx_to_canonical, to_file_order, to_file_zyx

    root = write(tmp_path, "nnunet", case_ids=("p",), affine=affine)
    case = discover(root)[0].load()
    stored = np.asarray(nib.load(root / "labelsTr" / "p.nii.gz").dataobj)
    np.testing.assert_array_equal(to_file_order(case.raw_label, case.orientation), stored)
    zyx = to_file_zyx(case.raw_label, case.orientation)  # what SimpleITK's GetArrayFromImage holds
    np.testing.assert_array_equal(zyx, stored.transpose(2, 1, 0))
    numbered = np.arange(case.label.size).reshape(case.label.shape)  # each canonical voxel its own value
    file_numbered = to_file_zyx(numbered, case.orientation)
    every = np.argwhere(np.ones(file_numbered.shape, bool))
    back = file_zyx_to_canonical(every, case.orientation, case.label.shape)
    np.testing.assert_array_equal(numbered[tuple(back.T)], file_numbered[tuple(every.T)])
    assert case.without_label().orientation is case.orientation
