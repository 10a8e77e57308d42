"""benchmark.edit_quality against brute-force references on small generated volumes."""

import math

import numpy as np
import pytest
from scipy import ndimage

from benchmark import edit_quality
from benchmark.edit_quality import component_errors, edit_voxels, fixed_broken, locality, monotonicity
from benchmark.edits import Adjustment, Box, Click, Stroke
from tests.helpers import ball

SHAPE = (20, 18, 16)
SPACINGS = [(1.0, 1.0, 1.0), (0.8, 1.3, 2.5)]


def blob(rng, shape=SHAPE, fill=0.15, sigma=1.2):
    """Irregular bool mask: several components of varied shape, some at the border."""
    noise = ndimage.gaussian_filter(rng.standard_normal(shape), sigma)
    return noise > np.quantile(noise, 1 - fill)


def pairs(seed, n=6):
    """(before, after, label) triples: after is before with random blobs flipped."""
    rng = np.random.default_rng(seed)
    for _ in range(n):
        label, before = blob(rng), blob(rng)
        after = before ^ (blob(rng, fill=0.05) & (rng.random(SHAPE) < 0.7))
        yield before, after, label


# --- fixed / broken -------------------------------------------------------------------


def brute_fixed_broken(before, after, label):
    fixed = broken = 0
    for index in np.ndindex(label.shape):
        was_right, is_right = before[index] == label[index], after[index] == label[index]
        fixed += (not was_right) and is_right
        broken += was_right and not is_right
    return fixed, broken


def test_fixed_broken_matches_a_voxel_loop():
    for before, after, label in pairs(0, n=3):
        assert fixed_broken(before, after, label) == brute_fixed_broken(before, after, label)
        fixed, broken = fixed_broken(before, after, label)
        assert fixed - broken == np.count_nonzero(before ^ label) - np.count_nonzero(after ^ label)
        assert type(fixed) is int and type(broken) is int


def test_fixed_broken_edge_cases():
    label = ball(SHAPE, (10, 9, 8), 4)
    empty = np.zeros(SHAPE, bool)
    assert fixed_broken(label, label, label) == (0, 0)  # nothing changed
    assert fixed_broken(empty, label, label) == (int(label.sum()), 0)
    assert fixed_broken(label, empty, label) == (0, int(label.sum()))
    assert fixed_broken(empty, label, empty) == (0, int(label.sum()))  # empty label


# --- autoPET component volumes --------------------------------------------------------


def brute_component_errors(pred, label, spacing):
    """autoPET's loop over 18-connected components (scipy labels), one component at a time."""
    structure = ndimage.generate_binary_structure(3, 2)  # 18-connectivity
    voxel_ml = np.prod(spacing) / 1000
    volumes = []
    for mask, other in ((pred, label), (label, pred)):
        components, n = ndimage.label(mask, structure)
        missed = 0
        for idx in range(1, n + 1):
            component = components == idx
            if not (component & other).any():
                missed += int(component.sum())
        volumes.append(missed * voxel_ml)
    return volumes[0], (volumes[1] if label.any() else math.nan)


@pytest.mark.parametrize("spacing", SPACINGS)
def test_component_errors_match_scipy_component_loop(spacing):
    for before, after, label in pairs(1):
        for pred in (before, after):
            expected = brute_component_errors(pred, label, spacing)
            assert component_errors(pred, label, spacing) == pytest.approx(expected, abs=1e-12)


def test_component_errors_use_18_connectivity():
    label = np.zeros(SHAPE, bool)
    label[2:5, 2:5, 2:5] = True
    pred = np.zeros(SHAPE, bool)
    pred[4, 4, 4] = True  # overlaps the label
    pred[5, 5, 4] = True  # edge neighbour of (4, 4, 4): same 18-component, found
    pred[6, 6, 5] = True  # corner neighbour of (5, 5, 4) only: its own component, false positive
    fp, fn = component_errors(pred, label, (1.0, 1.0, 2.0))
    assert fp == pytest.approx(2 / 1000) and fn == 0.0


def test_component_errors_empty_and_border_components():
    spacing = (1.0, 1.0, 1.0)
    empty = np.zeros(SHAPE, bool)
    label = ball(SHAPE, (10, 9, 8), 4)
    corner = ball(SHAPE, (0, 0, 0), 3)  # touches three faces of the volume
    far = ball(SHAPE, (19, 17, 15), 2)
    assert component_errors(empty, label, spacing) == (0.0, pytest.approx(label.sum() / 1000))
    fp, fn = component_errors(corner | far, empty, spacing)
    assert fp == pytest.approx((corner | far).sum() / 1000) and math.isnan(fn)
    fp, fn = component_errors(empty, empty, spacing)
    assert fp == 0.0 and math.isnan(fn)
    fp, fn = component_errors(label | corner, label | far, spacing)
    assert fp == pytest.approx(corner.sum() / 1000) and fn == pytest.approx(far.sum() / 1000)
    assert component_errors(label, label, spacing) == (0.0, 0.0)


# --- locality -------------------------------------------------------------------------


def brute_locality(before, after, seeds, spacing, radius_mm):
    changed = np.argwhere(before != after) * np.asarray(spacing)
    seeds = np.asarray(seeds) * np.asarray(spacing)
    distances = np.sqrt(((changed[:, None, :] - seeds[None, :, :]) ** 2).sum(-1)).min(axis=1)
    return float(np.mean(distances > radius_mm)), float(np.percentile(distances, 95))


def random_seeds(rng, n):
    return np.stack([rng.integers(0, s, n) for s in SHAPE], axis=1)


@pytest.mark.parametrize("spacing", SPACINGS)
@pytest.mark.parametrize("path", ["edt", "kdtree"])
def test_locality_matches_pairwise_distances(spacing, path, monkeypatch):
    if path == "kdtree":
        monkeypatch.setattr(edit_quality, "EDT_MAX_VOXELS", 0)
    rng = np.random.default_rng(2)
    for (before, after, _), n, radius in zip(pairs(2), (1, 3, 10, 40, 1, 7), (0.0, 2.0, 3.5, 5.0, 10.0, 4.0)):
        seeds = random_seeds(rng, n)
        if n % 2:  # some edits on changed voxels, as a real edit's own change is
            changed = np.argwhere(before != after)
            seeds = np.concatenate([seeds, changed[rng.choice(len(changed), 3)]])
        got = locality(before, after, seeds, spacing, radius)
        expected = brute_locality(before, after, seeds, spacing, radius)
        assert got[0] == pytest.approx(expected[0], abs=1e-12)
        assert got[1] == pytest.approx(expected[1], rel=1e-5)


def test_locality_crop_is_exact_when_edits_and_changes_are_apart():
    # Changes in one corner, edits near the opposite one, so the box spans the volume's
    # diagonal; and changes that surround a single edit voxel in the box's interior.
    spacing = (0.8, 1.3, 2.5)
    before = np.zeros(SHAPE, bool)
    after = ball(SHAPE, (1, 1, 1), 2.5)
    seeds = np.array([[18, 16, 14], [15, 17, 13]])
    assert locality(before, after, seeds, spacing, 20.0) == pytest.approx(
        brute_locality(before, after, seeds, spacing, 20.0), rel=1e-6)
    after = ball(SHAPE, (10, 9, 8), 5, spacing) ^ ball(SHAPE, (10, 9, 8), 2, spacing)
    seeds = np.array([[10, 9, 8]])
    assert locality(before, after, seeds, spacing, 3.0) == pytest.approx(
        brute_locality(before, after, seeds, spacing, 3.0), rel=1e-6)


def test_locality_nan_cases_and_change_at_the_edit():
    before = ball(SHAPE, (10, 9, 8), 4)
    after = before.copy()
    seeds = np.array([[10, 9, 8]])
    share, reach = locality(before, after, seeds, (1.0, 1.0, 1.0))  # nothing changed
    assert math.isnan(share) and math.isnan(reach)
    after[10, 9, 8] = False
    assert locality(before, after, seeds, (1.0, 1.0, 1.0)) == (0.0, 0.0)  # only the edit voxel changed
    share, reach = locality(before, after, np.empty((0, 3), int), (1.0, 1.0, 1.0))  # no edit voxels
    assert math.isnan(share) and math.isnan(reach)


def test_locality_of_a_box_edit_and_an_adjustment_round():
    spacing = (1.0, 1.0, 2.0)
    before = ball(SHAPE, (10, 9, 8), 4)
    box = Box((6, 5, 5), (14, 13, 11))
    after = before | box.mask(SHAPE)
    after[0, 0, 0] = True  # one change outside the box, far from it
    voxels = edit_voxels([box], SHAPE)
    assert locality(before, after, voxels, spacing, 5.0) == pytest.approx(
        brute_locality(before, after, voxels, spacing, 5.0), rel=1e-6)
    assert locality(before, after, voxels, spacing, 5.0)[0] == pytest.approx(1 / np.count_nonzero(before != after))
    share, reach = locality(before, ~before, edit_voxels([Adjustment(0.2)], SHAPE), spacing)
    assert math.isnan(share) and math.isnan(reach)


# --- edit voxels ----------------------------------------------------------------------


def test_edit_voxels_of_each_tool():
    stroke = Stroke(np.array([[3, 4, 5], [4, 4, 5], [5, 4, 5]]), True)
    box = Box((17, 15, 14), (25, 16, 14))  # reaches past the volume on X: clipped
    voxels = edit_voxels([Click((1, 2, 3), True), Adjustment(-0.1), stroke, box], SHAPE)
    expected_box = {(x, y, 14) for x in range(17, 20) for y in (15, 16)}
    assert voxels.dtype == np.intp and voxels.shape == (1 + 3 + len(expected_box), 3)
    assert voxels[:4].tolist() == [[1, 2, 3], [3, 4, 5], [4, 4, 5], [5, 4, 5]]
    assert set(map(tuple, voxels[4:].tolist())) == expected_box
    assert set(map(tuple, voxels[4:].tolist())) == set(map(tuple, np.argwhere(box.mask(SHAPE)).tolist()))
    assert edit_voxels([Adjustment(0.3)], SHAPE).shape == (0, 3)
    assert edit_voxels([], SHAPE).shape == (0, 3)


# --- monotonicity ---------------------------------------------------------------------


def brute_monotonicity(dice):
    drops = [prev - cur for prev, cur in zip(dice, dice[1:]) if cur < prev]
    return {"falls": len(drops), "largest_fall": max(drops, default=0.0),
            "ended_below_best": dice[-1] < max(dice), "monotone": not drops}


def test_monotonicity_matches_a_loop():
    rng = np.random.default_rng(3)
    curves = [[0.5], [0.2, 0.2, 0.4], [0.6, 0.5, 0.7, 0.65], [0.9, 0.8], list(rng.random(12))]
    for curve in curves:
        got = monotonicity(curve)
        expected = brute_monotonicity(curve)
        assert got.keys() == expected.keys()
        assert got["largest_fall"] == pytest.approx(expected["largest_fall"], abs=1e-12)
        assert {k: got[k] for k in ("falls", "ended_below_best", "monotone")} == \
            {k: expected[k] for k in ("falls", "ended_below_best", "monotone")}
    assert monotonicity([0.6, 0.5, 0.7, 0.65]) == {
        "falls": 2, "largest_fall": pytest.approx(0.1), "ended_below_best": True, "monotone": False}
    assert monotonicity([0.2, 0.2, 0.4])["monotone"] is True


# --- validation -----------------------------------------------------------------------


def test_bad_input_raises_value_errors():
    mask = ball(SHAPE, (10, 9, 8), 4)
    seeds = np.array([[10, 9, 8]])
    with pytest.raises(ValueError, match="before must be a bool"):
        fixed_broken(mask.astype(np.uint8), mask, mask)
    with pytest.raises(ValueError, match="differ in shape"):
        fixed_broken(mask, mask, mask[:-1])
    with pytest.raises(ValueError, match="label must be a bool"):
        component_errors(mask, mask.astype(float), (1, 1, 1))
    with pytest.raises(ValueError, match="spacing"):
        component_errors(mask, mask, (1, 0, 1))
    with pytest.raises(ValueError, match="radius_mm"):
        locality(mask, ~mask, seeds, (1, 1, 1), -1.0)
    with pytest.raises(ValueError, match="radius_mm"):
        locality(mask, ~mask, seeds, (1, 1, 1), math.nan)
    with pytest.raises(ValueError, match="outside the volume"):
        locality(mask, ~mask, np.array([[20, 0, 0]]), (1, 1, 1))
    with pytest.raises(ValueError, match="shape \\(N, 3\\)"):
        locality(mask, ~mask, np.array([[1.0, 2.0, 3.0]]), (1, 1, 1))
    with pytest.raises(ValueError, match="outside the volume"):
        edit_voxels([Click((0, 18, 0), True)], SHAPE)
    with pytest.raises(ValueError, match="Click, Stroke"):
        edit_voxels(["click"], SHAPE)
    with pytest.raises(ValueError, match="finite"):
        monotonicity([0.5, math.nan])
    with pytest.raises(ValueError, match="non-empty"):
        monotonicity([])
