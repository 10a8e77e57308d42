import numpy as np
import pytest
from scipy import ndimage as ndi

from benchmark.errors import core_voxel, error_components, error_masks
from tests.helpers import ball, corrupted_ball, last_erosion


def _case(seed):
    return corrupted_ball(seed, radii=(8, 13))


def test_error_masks_split_disagreement_by_sign():
    label, pred = _case(0)
    under, over = error_masks(label, pred)
    assert np.array_equal(under, label & ~pred) and np.array_equal(over, pred & ~label)


@pytest.mark.parametrize("seed", range(4))
def test_components_match_scipy_labelling(seed):
    label, pred = _case(seed)
    ec = error_components(label, pred)
    under, over = error_masks(label, pred)
    expected = []
    for err, sign in ((under, True), (over, False)):
        lab, n = ndi.label(err, structure=np.ones((3, 3, 3)))
        for i, sl in enumerate(ndi.find_objects(lab), start=1):
            comp = lab == i
            expected.append((int(comp.sum()), sign, tuple((s.start, s.stop) for s in sl), comp))
    assert ec.n == len(expected)
    assert sorted(ec.sizes[1:].tolist()) == sorted(e[0] for e in expected)
    assert ec.under_volume == under.sum() and ec.over_volume == over.sum()
    for size, sign, box, comp in expected:
        i = int(ec.labels[tuple(np.argwhere(comp)[0])])
        assert np.array_equal(ec.labels == i, comp)
        assert ec.sizes[i] == size and ec.positive[i] == sign
        assert tuple((s.start, s.stop) for s in ec.box(i)) == box


def test_largest_first_orders_and_filters():
    label, pred = _case(1)
    ec = error_components(label, pred)
    ids = ec.largest_first(min_size=20)
    assert np.all(np.diff(ec.sizes[ids]) <= 0)
    assert set(ids.tolist()) == {i for i in range(1, ec.n + 1) if ec.sizes[i] >= 20}


def test_no_error_gives_no_components():
    label, _ = _case(2)
    ec = error_components(label, label.copy())
    assert ec.n == 0 and ec.largest_first().size == 0 and ec.labels.shape == label.shape


@pytest.mark.parametrize("seed", range(4))
def test_core_is_in_last_erosion_of_each_component(seed):
    label, pred = _case(seed)
    ec = error_components(label, pred)
    for i in ec.largest_first():
        core = ec.core(i)
        comp = ec.labels == i
        assert last_erosion(comp)[core], (i, core)
        assert core_voxel(comp) == core


def test_core_of_a_shifted_shell_is_in_its_thickest_part():
    shape = (60, 60, 60)
    shell = ball(shape, (30, 30, 30), 20) & ~ball(shape, (33, 30, 30), 20)
    core = core_voxel(shell)
    assert shell[core] and last_erosion(shell)[core]
    assert core[0] < 20  # the shell is thickest opposite the shift


def test_core_tie_rule_prefers_the_centre_then_lowest_index():
    mask = np.zeros((9, 9, 9), bool)
    mask[2:7, 2:7, 2:7] = True  # odd cube: unique centre
    assert core_voxel(mask) == (4, 4, 4)
    mask = np.zeros((9, 9, 9), bool)
    mask[1:3, 1:3, 1:3] = True  # 2x2x2: every voxel is deepest and equally central
    assert core_voxel(mask) == (1, 1, 1)


def test_core_counts_the_volume_border_as_background():
    mask = np.zeros((10, 10, 10), bool)
    mask[:5] = True  # a slab against the x = 0 face: depth 3 only at x = 2
    assert core_voxel(mask)[0] == 2 and last_erosion(mask)[core_voxel(mask)]


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="prediction"):
        error_components(np.zeros((4, 4, 4), bool), np.zeros((4, 4, 4), np.uint8))
    with pytest.raises(ValueError, match="same shape"):
        error_masks(np.zeros((4, 4, 4), bool), np.zeros((4, 4, 5), bool))
    with pytest.raises(ValueError, match="empty"):
        core_voxel(np.zeros((4, 4, 4), bool))


@pytest.mark.parametrize("radius", [3, 9.5, 14])
def test_core_of_deep_and_shallow_components_matches_erosion(radius):
    # Depths below and beyond the sparse erosions exercise both ways to the maximum.
    shape = (34, 36, 32)
    blob = ball(shape, (16.3, 17.6, 15.2), radius) | ball(shape, (12, 10, 9), radius * 0.6)
    core = core_voxel(blob)
    assert last_erosion(blob)[core]
    deepest = np.argwhere(last_erosion(blob))
    offset = len(deepest) * deepest - deepest.sum(0)
    assert core == tuple(deepest[np.argmin((offset**2).sum(1))])
