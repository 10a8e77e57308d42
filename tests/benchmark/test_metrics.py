import math

import numpy as np
import pytest
from scipy import ndimage
from scipy.spatial.distance import cdist
from scipy.spatial.distance import dice as scipy_dice_dissimilarity

from benchmark.metrics import BRATS_HD95_PENALTY, auc, dice, hd95, noc, reached, surface_dice, volumes

SHAPE = (24, 22, 20)


def ball(center, radius, shape=SHAPE, spacing=(1.0, 1.0, 1.0)):
    grid = np.indices(shape).T * np.asarray(spacing)
    return (np.linalg.norm(grid - np.asarray(center) * np.asarray(spacing), axis=-1) <= radius).T


def random_blob(rng, shape=SHAPE, fill=0.3):
    """Irregular bool mask: smoothed noise thresholded, several components and holes."""
    noise = ndimage.gaussian_filter(rng.standard_normal(shape), 1.5)
    return noise > np.quantile(noise, 1 - fill)


def brute_distances(a, b, spacing):
    """Per-direction surface distances from all surface-point pairs (scipy erosion, cdist)."""
    cross = ndimage.generate_binary_structure(3, 1)
    points = [np.argwhere(m & ~ndimage.binary_erosion(m, cross, border_value=0)) * np.asarray(spacing) for m in (a, b)]
    pairwise = cdist(*points)
    return pairwise.min(axis=1), pairwise.min(axis=0)


# --- Dice -----------------------------------------------------------------------------


def test_dice_matches_literal_formula_and_scipy():
    rng = np.random.default_rng(0)
    for _ in range(5):
        a, b = random_blob(rng), random_blob(rng)
        literal = 2.0 * float((a & b).sum()) / (float(a.sum()) + float(b.sum()))
        assert dice(a, b) == pytest.approx(literal, abs=1e-12)
        assert dice(a, b) == pytest.approx(1.0 - scipy_dice_dissimilarity(a.ravel(), b.ravel()), abs=1e-12)
    assert dice(a, a) == 1.0
    assert type(dice(a, b)) is float  # plain floats serialise cleanly into result rows


def test_dice_empty_rules():
    empty, some = np.zeros(SHAPE, bool), ball((12, 11, 10), 4)
    assert dice(empty, empty) == 1.0
    assert dice(empty, some) == 0.0 and dice(some, empty) == 0.0


def test_masks_are_validated():
    some = ball((12, 11, 10), 4)
    with pytest.raises(TypeError, match="pred must be a bool"):
        dice(some.astype(np.uint8), some)
    with pytest.raises(ValueError, match="differs from gt shape"):
        hd95(some, some[:-1])
    with pytest.raises(ValueError, match="spacing"):
        surface_dice(some, some, (1.0, 0.0, 1.0))


# --- HD95 and NSD ---------------------------------------------------------------------

SPACINGS = [(1.0, 1.0, 1.0), (0.8, 1.3, 2.5)]


@pytest.mark.parametrize("spacing", SPACINGS)
def test_hd95_matches_brute_force(spacing):
    rng = np.random.default_rng(1)
    for _ in range(3):
        a, b = random_blob(rng), random_blob(rng)
        d_ab, d_ba = brute_distances(a, b, spacing)
        pooled = np.percentile(np.concatenate([d_ab, d_ba]), 95)
        directed = max(np.percentile(d_ab, 95), np.percentile(d_ba, 95))
        assert hd95(a, b, spacing) == pytest.approx(pooled, rel=1e-5)
        assert hd95(a, b, spacing, directed_max=True) == pytest.approx(directed, rel=1e-5)


def test_hd95_touching_the_volume_border_and_single_voxels():
    a = np.zeros(SHAPE, bool)
    a[:5, :, :3] = True  # touches five faces of the volume: those voxels are surface
    b = np.zeros(SHAPE, bool)
    b[20, 3, 19] = True
    for x, y in ((a, b), (b, a), (a, a[::-1])):
        d_ab, d_ba = brute_distances(x, y, (1.0, 2.0, 0.5))
        assert hd95(x, y, (1.0, 2.0, 0.5)) == pytest.approx(np.percentile(np.r_[d_ab, d_ba], 95), rel=1e-5)


def test_hd95_of_translated_sphere_is_about_the_shift():
    shape, spacing, shift_mm = (48, 48, 48), (1.0, 1.0, 2.0), 6.0
    a = ball((24, 24, 12), 14.0, shape, spacing)
    b = ball((24, 24, 12 + shift_mm / spacing[2]), 14.0, shape, spacing)
    assert hd95(a, b, spacing, directed_max=True) == pytest.approx(shift_mm, abs=1.0)
    assert hd95(a, a, spacing) == 0.0


def test_hd95_empty_rules():
    empty, some = np.zeros(SHAPE, bool), ball((12, 11, 10), 4)
    assert hd95(empty, empty) == 0.0
    assert math.isnan(hd95(empty, some)) and math.isnan(hd95(some, empty))
    assert hd95(some, empty, empty_penalty=BRATS_HD95_PENALTY) == 373.13


@pytest.mark.parametrize("spacing", SPACINGS)
@pytest.mark.parametrize("tolerance", [0.0, 1.0, 2.0, 3.5])
def test_surface_dice_matches_brute_force(spacing, tolerance):
    rng = np.random.default_rng(2)
    a, b = random_blob(rng), random_blob(rng)
    d_ab, d_ba = brute_distances(a, b, spacing)
    expected = (np.sum(d_ab <= tolerance) + np.sum(d_ba <= tolerance)) / (d_ab.size + d_ba.size)
    assert surface_dice(a, b, spacing, tolerance) == pytest.approx(expected, abs=1e-12)


def test_surface_dice_bounds_and_empty_rules():
    empty, some = np.zeros(SHAPE, bool), ball((12, 11, 10), 4)
    shifted = np.roll(some, 3, axis=0)
    assert surface_dice(some, some, (1.0, 1.0, 1.0), 0.0) == 1.0
    assert surface_dice(some, shifted, (1.0, 1.0, 1.0), 3.0) == 1.0
    assert 0.0 < surface_dice(some, shifted, (1.0, 1.0, 1.0), 1.0) < 1.0
    assert surface_dice(empty, empty, (1.0, 1.0, 1.0)) == 1.0
    assert surface_dice(empty, some, (1.0, 1.0, 1.0)) == 0.0 == surface_dice(some, empty, (1.0, 1.0, 1.0))


def test_volumes():
    rng = np.random.default_rng(3)
    a, b = random_blob(rng), random_blob(rng)
    v = volumes(a, b, (0.5, 1.0, 2.0))
    assert v == {"gt_mm3": b.sum() * 1.0, "over_mm3": (a & ~b).sum() * 1.0, "under_mm3": (b & ~a).sum() * 1.0}


# --- Session curves -------------------------------------------------------------------

CURVE = [0.70, 0.82, 0.80, 0.91, 0.93]
EDITS = [0, 1, 3, 4, 7]


def test_noc_and_reached_on_a_hand_worked_curve():
    assert noc(CURVE, EDITS, 0.80, budget=20) == 1  # round 1
    assert noc(CURVE, EDITS, 0.85, budget=20) == 4  # round 3; round 2 dipped below
    assert noc(CURVE, EDITS, 0.70, budget=20) == 0  # round 0 already good enough
    assert noc(CURVE, EDITS, 0.95, budget=20) == 20  # never: counts the budget
    assert noc(CURVE, EDITS, 0.93, budget=5) == 5  # reached only beyond the budget
    assert reached(CURVE, 0.93) and not reached(CURVE, 0.95)
    curves = [CURVE, [0.5, 0.6], [0.9]]
    assert sum(not reached(c, 0.85) for c in curves) == 1  # NoF@85


def test_auc_on_a_hand_worked_curve():
    # trapezoids: 1*(0.70+0.82)/2 + 2*(0.82+0.80)/2 + 1*(0.80+0.91)/2 + 3*(0.91+0.93)/2
    area = 0.76 + 1.62 + 0.855 + 2.76
    assert auc(CURVE, EDITS, normalise=False) == pytest.approx(area)
    assert auc(CURVE, EDITS, normalise=False) == pytest.approx(np.trapezoid(CURVE, EDITS))
    assert auc(CURVE, EDITS) == pytest.approx(area / 7)
    assert auc([0.4, 0.4], [2, 5]) == pytest.approx(0.4)
    assert auc([0.6], [0]) == 0.6 and auc([0.6], [0], normalise=False) == 0.0
    assert auc([0.6, 0.7], [3, 3]) == 0.7


def test_curves_are_validated():
    with pytest.raises(ValueError, match="one value per round"):
        noc([0.5, 0.6], [0], 0.9, 10)
    with pytest.raises(ValueError, match="non-decreasing"):
        auc([0.5, 0.6, 0.7], [0, 2, 1])
    with pytest.raises(ValueError, match="non-empty"):
        reached([], 0.9)
