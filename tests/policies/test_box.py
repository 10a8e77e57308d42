"""BoxUser against a port of the CVPR 2025 challenge's get_boxes.py (tests/policies/cvpr25_port.py)."""

import numpy as np
import pytest

from benchmark.edits import Box, EditHistory
from benchmark.io.orientation import IDENTITY, canonical_orientation, to_canonical
from benchmark.policy import RoundState
from policies.box import KEYS, BoxUser, box_from_challenge, challenge_box, cvpr25_box, tight_box
from tests.policies.cvpr25_port import blobs, mask3D_to_bbox, random_affine, random_shape


def label_case(seed):
    """A blob label in the file's nibabel order and its affine; every third case has wide,
    thin slices (the challenge's shift is int(shift * size / 256): 0 below 52 voxels)."""
    rng = np.random.default_rng(seed)
    shape = random_shape(rng)
    if seed % 3 == 0:
        shape = (int(rng.integers(52, 140)), int(rng.integers(52, 140)), int(rng.integers(3, 8)))
    label = blobs(rng, shape, rng.uniform(0.01, 0.2))
    return label, random_affine(rng) if seed % 4 else np.eye(4)


def zyx_mask(shape_zyx, d, plane_only=False):
    mask = np.zeros(shape_zyx, bool)
    z = slice(d["z_mid"], d["z_mid"] + 1) if plane_only else slice(d["z_min"], d["z_max"] + 1)
    mask[z, d["z_mid_y_min"]:d["z_mid_y_max"] + 1, d["z_mid_x_min"]:d["z_mid_x_max"] + 1] = True
    return mask


@pytest.mark.parametrize("seed", range(80))
def test_cvpr25_box_is_the_challenges_for_the_same_shift(seed):
    label, affine = label_case(seed)
    ornt = canonical_orientation(affine)
    canonical = to_canonical(label, affine)
    ours_rng, their_rng = np.random.default_rng(seed), np.random.default_rng(seed)
    (box,) = BoxUser().propose(RoundState(canonical, canonical.copy(), orientation=ornt), ours_rng)
    shift = int(their_rng.integers(0, 6))  # the one draw the user makes
    assert ours_rng.bit_generator.state == their_rng.bit_generator.state
    zyx = np.ascontiguousarray(label.T)  # SimpleITK's (z, y, x) of the file
    theirs = {k: int(v) for k, v in mask3D_to_bbox(zyx, shift).items()}
    assert challenge_box(zyx, shift) == theirs and tuple(theirs) == KEYS
    # the canonical Box covers the same voxels, and its plane is their z_mid slice
    assert np.array_equal(box.mask(canonical.shape), to_canonical(zyx_mask(zyx.shape, theirs).T, affine))
    plane = to_canonical(zyx_mask(zyx.shape, theirs, plane_only=True).T, affine)
    axis, index = box.plane
    assert np.array_equal(np.flatnonzero(plane.any(axis=tuple(a for a in range(3) if a != axis))), [index])
    assert axis == int(ornt[2, 0]) and box.positive


@pytest.mark.parametrize("shift", range(6))
def test_the_shift_is_scaled_by_the_slice_size_and_clamped(shift):
    label = np.zeros((5, 100, 300), bool)  # (z, y, x)
    label[1:4, 2:60, 150:299] = True
    d = challenge_box(label, shift)
    sx, sy = int(shift * 300 / 256), int(shift * 100 / 256)
    assert d == {"z_min": 1, "z_max": 3, "z_mid": 2, "z_mid_x_min": 150 - sx, "z_mid_y_min": max(0, 2 - sy),
                 "z_mid_x_max": min(299, 298 + sx), "z_mid_y_max": 59 + sy}
    assert d == {k: int(v) for k, v in mask3D_to_bbox(label, shift).items()}


def test_z_mid_is_the_median_distinct_slice_not_the_median_voxel():
    label = np.zeros((10, 20, 20), bool)
    label[1, :, :] = True  # a thick slice: the median voxel lies on it
    label[[2, 5, 8]] |= np.pad(np.ones((2, 2), bool), 9)
    assert challenge_box(label, 0)["z_mid"] == 5  # distinct z 1, 2, 5, 8 -> [4 // 2]


def test_the_challenges_box_may_cut_off_other_slices():
    """Issue #5's flaw, reproduced: the middle slice's 2D box extended over the z range."""
    label = np.zeros((9, 30, 30), bool)
    for z in range(9):
        r = 2 + abs(z - 2) * 2  # a cone, narrow at z = 2, wide at z = 8
        label[z, 15 - r:15 + r, 15 - r:15 + r] = True
    d = challenge_box(label, 5)
    assert label.sum() > (zyx_mask(label.shape, d) & label).sum()


@pytest.mark.parametrize("seed", range(40))
def test_tight_box_is_the_labels_extent(seed):
    label, affine = label_case(1000 + seed)
    canonical = to_canonical(label, affine)
    rng = np.random.default_rng(seed)
    (box,) = BoxUser(style="tight").propose(RoundState(canonical, np.zeros_like(canonical)), rng)
    voxels = np.argwhere(canonical)
    zs = np.unique(voxels[:, 2])
    assert box == Box(tuple(voxels.min(0)), tuple(voxels.max(0)), True, (2, int(zs[len(zs) // 2])))
    assert box == tight_box(canonical)
    assert rng.bit_generator.state == np.random.default_rng(seed).bit_generator.state  # no draw


@pytest.mark.parametrize("style", ["cvpr25", "tight"])
def test_one_box_then_done_and_nothing_for_an_empty_label(style):
    label, affine = label_case(7)
    canonical = to_canonical(label, affine)
    state = RoundState(canonical, np.zeros_like(canonical), orientation=canonical_orientation(affine))
    user = BoxUser(style=style)
    first = user.propose(state, np.random.default_rng(0))
    assert len(first) == 1 and isinstance(first[0], Box)
    later = RoundState(canonical, canonical.copy(), EditHistory().add(first), round=2)
    assert user.propose(later, np.random.default_rng(0)) == []
    empty = np.zeros_like(canonical)
    assert user.propose(RoundState(empty, empty.copy()), np.random.default_rng(0)) == []


@pytest.mark.parametrize("style", ["cvpr25", "tight"])
def test_numpys_global_random_state_is_untouched(style):
    np.random.seed(11)
    before = np.random.get_state()
    for seed in range(3):
        label, affine = label_case(seed)
        BoxUser(style).propose(RoundState(label, label.copy(), orientation=canonical_orientation(affine)),
                               np.random.default_rng(seed))
    assert all(np.array_equal(a, b) for a, b in zip(before, np.random.get_state()))


def test_pure_functions_check_their_input():
    with pytest.raises(ValueError, match="label is empty"):
        cvpr25_box(np.zeros((3, 4, 5), bool), np.random.default_rng(0))
    with pytest.raises(ValueError, match="shift must be an integer in 0..5"):
        challenge_box(np.ones((3, 4, 5), bool), 6)
    with pytest.raises(ValueError, match="label is empty"):
        tight_box(np.zeros((3, 4, 5), bool))
    with pytest.raises(ValueError, match="choose one of: cvpr25, tight"):
        BoxUser(style="loose")
    d = challenge_box(np.ones((3, 4, 5), bool), 0)
    assert box_from_challenge(d, IDENTITY, (5, 4, 3)) == Box((0, 0, 0), (4, 3, 2), True, (2, 1))


def test_the_registry_builds_it_from_a_spec():
    from benchmark.registry import make_user

    assert make_user("box:style=tight").style == "tight" and make_user("box").name == "box"
