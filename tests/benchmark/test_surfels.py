import math

import numpy as np
import pytest
from scipy import ndimage

from benchmark.metrics import surface_dice
from benchmark.surfels import _neighbour_codes, surfel_area_table, surfel_surface_dice
from tests.benchmark import challenge_port as port

SPACINGS = [(1.0, 1.0, 1.0), (0.8, 1.3, 2.5), (2.0, 0.5, 0.5), (0.9375, 0.9375, 5.0), (1.2, 1.6, 1.0)]
TOLERANCES = [0.0, 1.0, 2.0, 3.5]


def ball(shape, center, radius, spacing=(1.0, 1.0, 1.0)):
    """bool [X, Y, Z]: voxels whose centre lies within ``radius`` mm of ``center`` (voxels)."""
    grid = np.indices(shape).T * np.asarray(spacing)
    return (np.linalg.norm(grid - np.asarray(center) * np.asarray(spacing), axis=-1) <= radius).T


def blob(rng, shape, fill=None, sigma=None):
    """Irregular bool mask: smoothed noise thresholded (several components, holes)."""
    noise = ndimage.gaussian_filter(rng.standard_normal(shape), rng.uniform(0.6, 2.5) if sigma is None else sigma)
    return noise > np.quantile(noise, 1 - (rng.uniform(0.03, 0.6) if fill is None else fill))


def random_pair(rng):
    """A (pred, gt, spacing) of random kind: blobs, spheres, a perturbed copy, sparse voxels."""
    shape = tuple(int(s) for s in rng.integers(5, 28, 3))
    spacing = tuple(float(s) for s in rng.choice([0.5, 0.7, 0.8, 1.0, 1.2, 1.5, 2.0, 3.0], 3))
    kind = rng.integers(4)
    if kind == 0:
        return blob(rng, shape), blob(rng, shape), spacing
    if kind == 1:
        centers = [rng.uniform(0, s, 2) for s in shape]
        return tuple(ball(shape, [c[i] for c in centers], rng.uniform(1, 10), spacing) for i in range(2)) + (spacing,)
    if kind == 2:
        gt = blob(rng, shape)
        return gt ^ (rng.random(shape) < 0.05), gt, spacing
    return rng.random(shape) < 0.03, rng.random(shape) < 0.2, spacing


def port_nsd(pred, gt, spacing, tolerance):
    return port.compute_surface_dice_at_tolerance(port.compute_surface_distances(gt, pred, spacing), tolerance)


# --- the area table -------------------------------------------------------------------


@pytest.mark.parametrize("spacing", SPACINGS + [(0.31, 2.7, 1.9)])
def test_area_table_equals_deepminds_for_every_code(spacing):
    assert surfel_area_table(spacing) == pytest.approx(port.surface_area_table(spacing), abs=1e-12, rel=1e-12)


def test_area_table_basic_geometry():
    table = surfel_area_table((1.0, 2.0, 3.0))
    assert table[0] == 0.0 and table[255] == 0.0
    # a face of 4 voxels at x = 1 (codes 1, 2, 4, 8): a 2 x 3 mm square at x = 0.5
    assert table[0b1111] == pytest.approx(6.0)
    assert np.allclose(table, table[::-1])  # a code and its complement share their surface


def test_neighbour_codes_match_deepminds_correlation():
    rng = np.random.default_rng(5)
    mask = rng.random((6, 7, 5)) < 0.5
    padded = np.zeros(tuple(s + 1 for s in mask.shape), np.uint8)
    padded[:-1, :-1, :-1] = mask
    expected = ndimage.correlate(padded, port.KERNEL, mode="constant", cval=0)
    assert np.array_equal(_neighbour_codes(mask), expected)


# --- surface Dice against the port ------------------------------------------------------


def test_equals_the_port_on_random_masks():
    rng = np.random.default_rng(0)
    for _ in range(80):
        pred, gt, spacing = random_pair(rng)
        for tolerance in TOLERANCES:
            assert surfel_surface_dice(pred, gt, spacing, tolerance) == pytest.approx(
                port_nsd(pred, gt, spacing, tolerance), abs=1e-9)


@pytest.mark.parametrize("spacing", SPACINGS)
def test_equals_the_port_on_shifted_spheres(spacing):
    shape = (30, 28, 20)
    gt = ball(shape, (14, 13, 9), 8.0, spacing)
    for shift in ((0, 0, 0), (1, 0, 0), (2, 1, 0), (0, 0, 1), (3, 3, 2)):
        pred = ball(shape, np.add((14, 13, 9), shift), 7.0, spacing)
        for tolerance in TOLERANCES:
            assert surfel_surface_dice(pred, gt, spacing, tolerance) == pytest.approx(
                port_nsd(pred, gt, spacing, tolerance), abs=1e-9)


def test_equals_the_port_touching_the_border_and_thin_shapes():
    shape = (12, 10, 9)
    a = np.zeros(shape, bool)
    a[:5, :, :3] = True  # touches five faces of the volume
    b = np.zeros(shape, bool)
    b[11, 3, 8] = True  # a single voxel in a corner
    c = np.ones(shape, bool)  # fills the volume
    d = np.zeros(shape, bool)
    d[:, 4, :] = True  # a one-voxel slab across the volume
    rng = np.random.default_rng(1)
    e = blob(rng, shape, fill=0.7)  # most of the volume, cut by every face
    for x, y in ((a, b), (b, a), (a, c), (c, d), (d, e), (e, a), (a, a[::-1]), (b, b)):
        for spacing in SPACINGS[:3]:
            for tolerance in TOLERANCES:
                assert surfel_surface_dice(x, y, spacing, tolerance) == pytest.approx(
                    port_nsd(x, y, spacing, tolerance), abs=1e-9)


def test_a_distance_equal_to_the_tolerance_counts_as_within():
    shape, spacing = (20, 20, 20), (1.0, 1.0, 2.0)
    gt = np.zeros(shape, bool)
    gt[5:15, 5:15, 5:10] = True
    pred = np.roll(gt, 2, axis=0)  # the x faces move by exactly 2 mm
    assert surfel_surface_dice(pred, gt, spacing, 2.0) == 1.0 == port_nsd(pred, gt, spacing, 2.0)
    assert surfel_surface_dice(pred, gt, spacing, 1.999) < 1.0
    pred = np.roll(gt, 1, axis=2)  # the z faces move by exactly 2 mm
    assert surfel_surface_dice(pred, gt, spacing, 2.0) == 1.0


def test_empty_masks_as_deepmind():
    empty, some = np.zeros((8, 9, 10), bool), ball((8, 9, 10), (4, 4, 5), 3)
    assert math.isnan(surfel_surface_dice(empty, empty, (1.0, 1.0, 1.0)))
    assert math.isnan(port_nsd(empty, empty, (1.0, 1.0, 1.0), 2.0))
    for x, y in ((empty, some), (some, empty)):
        assert surfel_surface_dice(x, y, (1.0, 2.0, 1.0)) == 0.0 == port_nsd(x, y, (1.0, 2.0, 1.0), 2.0)
    assert surfel_surface_dice(some, some, (1.0, 2.0, 1.0), 0.0) == 1.0


def test_scores_above_voxel_nsd_on_a_shifted_sphere():
    # the figures quoted in benchmark.metrics.surface_dice's docstring
    shape = (48, 48, 48)
    gt = ball(shape, (24, 24, 24), 15.0)
    pred = ball(shape, (27, 24, 24), 15.0)
    assert surfel_surface_dice(pred, gt, (1.0, 1.0, 1.0), 2.0) == pytest.approx(0.83, abs=0.01)
    assert surface_dice(pred, gt, (1.0, 1.0, 1.0), 2.0) == pytest.approx(0.68, abs=0.01)


def test_inputs_are_validated():
    some = ball((8, 9, 10), (4, 4, 5), 3)
    with pytest.raises(TypeError, match="pred must be a bool"):
        surfel_surface_dice(some.astype(np.uint8), some, (1.0, 1.0, 1.0))
    with pytest.raises(ValueError, match="differs from gt shape"):
        surfel_surface_dice(some, some[:-1], (1.0, 1.0, 1.0))
    with pytest.raises(ValueError, match="spacing"):
        surfel_surface_dice(some, some, (1.0, -1.0, 1.0))
    with pytest.raises(ValueError, match="tolerance_mm"):
        surfel_surface_dice(some, some, (1.0, 1.0, 1.0), -1.0)
