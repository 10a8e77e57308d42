import numpy as np
import pytest
from scipy import ndimage as ndi

from benchmark.policy import RoundState
from policies.deepgrow import (
    DeepgrowClick,
    deepgrow_click,
    deepgrow_distribution,
    deepgrow_probabilities,
    stable_weights,
)
from tests.helpers import corrupted_ball
from tests.policies.deepgrow_port import port_click, port_probabilities


def _box(shape, lower, upper):
    m = np.zeros(shape, bool)
    m[tuple(slice(a, b) for a, b in zip(lower, upper))] = True
    return m


def _cases():
    """name -> (label, prediction)."""
    shape = (14, 12, 10)
    empty = np.zeros(shape, bool)
    cases = {f"blob{s}": corrupted_ball(s, shape=(28, 30, 24), radii=(5, 8)) for s in range(3)}
    # an error that fills its bounding box: a crop without a margin would have no background
    cases["box-inside"] = (_box(shape, (3, 2, 2), (9, 8, 7)), empty)
    cases["box-border"] = (_box(shape, (0, 0, 0), (6, 12, 4)), empty)  # touches five faces
    cases["fp-border"] = (_box(shape, (5, 5, 5), (7, 7, 7)), _box(shape, (4, 0, 3), (14, 12, 10)))
    cases["whole-array"] = (np.ones(shape, bool), empty)  # no background at all: uniform
    cases["single-voxel"] = (_box(shape, (4, 5, 6), (5, 6, 7)), empty)
    tie = _box(shape, (1, 1, 1), (4, 4, 4))
    cases["fn-fp-tie"] = (tie, _box(shape, (8, 6, 5), (11, 9, 8)))  # 27 FN, 27 FP
    rng = np.random.default_rng(7)
    label = ndi.binary_dilation(rng.random(shape) < 0.04, iterations=2)
    cases["random"] = (label, ndi.binary_erosion(label) | (rng.random(shape) < 0.05))
    return cases


CASES = _cases()


@pytest.mark.parametrize("name", sorted(CASES))
def test_probabilities_equal_the_ports(name):
    label, pred = CASES[name]
    (positive, p), (port_positive, port_p) = deepgrow_probabilities(label, pred), port_probabilities(label, pred)
    assert positive == port_positive
    np.testing.assert_allclose(p, port_p, rtol=1e-12, atol=0)
    assert p.sum() == pytest.approx(1.0, abs=1e-12)


def test_the_special_cases_are_what_they_claim():
    label, pred = CASES["fn-fp-tie"]
    assert (label & ~pred).sum() == (pred & ~label).sum() == 27
    assert deepgrow_probabilities(label, pred)[0] is True  # a tie goes to FN
    _, p = deepgrow_probabilities(*CASES["whole-array"])
    assert np.allclose(p, 1 / p.size)
    _, p = deepgrow_probabilities(*CASES["single-voxel"])
    assert p[4, 5, 6] == 1.0
    # the array border is not background: d = min(6 - x, 4 - z), largest at the corner
    _, p = deepgrow_probabilities(*CASES["box-border"])
    assert p[0, 0, 0] == p[2, 11, 0] == p.max() > p[3, 0, 0] > p[4, 0, 1] > p[5, 0, 2]


@pytest.mark.parametrize("name", ["blob0", "blob1", "random", "fp-border", "whole-array"])
def test_same_seed_gives_the_ports_click(name):
    """The user draws as MONAI does (one uniform number, inverse CDF over the error
    voxels in C order); MONAI first draws whether to interact, skipped here."""
    label, pred = CASES[name]
    for seed in range(100):
        user_rng = np.random.default_rng(seed)
        user_rng.random()  # the port's will-interact draw (probability 1)
        click = deepgrow_click(label, pred, user_rng)
        assert (click.voxel, click.positive) == port_click(label, pred, np.random.default_rng(seed))


def test_draw_frequencies_match_the_probabilities():
    label = _box((9, 9, 8), (1, 1, 1), (7, 6, 6)) | (np.random.default_rng(3).random((9, 9, 8)) < 0.1)
    pred = np.zeros_like(label)
    positive, voxels, p = deepgrow_distribution(label, pred)
    assert len(voxels) > 100 and p.max() > 10 * p.min()
    rng = np.random.default_rng(1)
    n = 20000
    drawn = [np.ravel_multi_index(deepgrow_click(label, pred, rng).voxel, label.shape) for _ in range(n)]
    counts = np.bincount(np.searchsorted(voxels, drawn), minlength=len(voxels))
    assert np.isin(drawn, voxels).all()
    sigma = np.sqrt(p * (1 - p) / n)  # binomial standard error of each frequency
    assert (np.abs(counts / n - p) <= 5 * sigma).all()


@pytest.mark.parametrize("name", sorted(CASES))
def test_clicks_lie_in_the_chosen_error_with_its_sign(name):
    label, pred = CASES[name]
    fn, fp = label & ~pred, pred & ~label
    positive = fn.sum() >= fp.sum()
    rng = np.random.default_rng(0)
    for _ in range(20):
        (click,) = DeepgrowClick().propose(RoundState(label, pred), rng)
        assert click.positive == positive
        assert (fn if positive else fp)[click.voxel]


def test_perfect_prediction_gives_no_click():
    label, _ = CASES["blob0"]
    assert DeepgrowClick().propose(RoundState(label, label.copy()), np.random.default_rng(0)) == []
    assert deepgrow_probabilities(label, label.copy()) is None
    assert DeepgrowClick.name == "deepgrow"


def test_large_distances_do_not_overflow():
    """d up to 799: exp(d) overflows float64 (MONAI's weights become inf, its p NaN)."""
    label = np.ones((800, 800, 1), bool)
    label[0, 0, 0] = False
    pred = np.zeros_like(label)
    positive, voxels, p = deepgrow_distribution(label, pred)
    assert positive and np.isfinite(p).all() and p.sum() == pytest.approx(1.0)
    x, y, _ = np.unravel_index(voxels, label.shape)
    d = np.maximum(x, y)  # chessboard distance to the one background voxel
    assert p[d == 799].sum() == pytest.approx(1 - np.exp(-1), rel=1e-3)
    assert np.allclose(p[d == 799] / p[d == 799][0], 1) and p[d == 798][0] * np.e == pytest.approx(p[d == 799][0])
    click = deepgrow_click(label, pred, np.random.default_rng(0))
    assert max(click.voxel) >= 790


def test_stable_weights_are_exp_minus_one_scaled():
    d = np.array([1, 2, 3, 7, 20])
    w = stable_weights(d)
    np.testing.assert_allclose(w / w.sum(), (np.exp(d) - 1) / (np.exp(d) - 1).sum(), rtol=1e-14)
    assert np.isfinite(stable_weights(np.array([1, 5000]))).all()
