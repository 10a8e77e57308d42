import numpy as np
import pytest

from benchmark.edits import Adjustment
from benchmark.policy import RoundState
from policies.adjustment import AdjustmentPolicy, measured_k

RNG = np.random.default_rng(0)


def _cubes(shift):
    label = np.zeros((30, 30, 30), bool)
    label[5:15, 5:15, 5:15] = True  # 1000 voxels
    pred = np.zeros_like(label)
    pred[5 + shift : 17 + shift, 5:15, 5:15] = True  # 1200 voxels, shifted along x
    return label, pred


def test_k_matches_a_hand_count():
    label, pred = _cubes(3)
    # over: x in 15..19 -> 5 * 100 = 500; under: x in 5..7 -> 3 * 100 = 300
    assert measured_k(label, pred) == pytest.approx((500 - 300) / 1000)
    assert measured_k(pred, label) == pytest.approx((300 - 500) / 1200)


def test_proposes_minus_k_so_a_large_prediction_is_shrunk():
    label, pred = _cubes(3)
    assert AdjustmentPolicy().propose(RoundState(label, pred), RNG) == [Adjustment(-0.2)]
    assert AdjustmentPolicy().propose(RoundState(pred, label), RNG)[0].k == pytest.approx(200 / 1200)


def test_train_clips_and_test_does_not():
    label = np.zeros((20, 20, 20), bool)
    label[5:10, 5:10, 5:10] = True
    pred = np.zeros_like(label)
    pred[2:14, 2:14, 2:14] = True  # K = 1728/125 - 1
    state = RoundState(label, pred)
    assert AdjustmentPolicy("test").propose(state, RNG)[0].k == pytest.approx(1 - 1728 / 125)
    assert AdjustmentPolicy("train").propose(state, RNG) == [Adjustment(-0.5)]
    assert AdjustmentPolicy("train").propose(RoundState(label, np.zeros_like(label)), RNG) == [Adjustment(0.5)]


def test_small_k_and_empty_ground_truth_give_no_edit():
    label, pred = _cubes(0)  # K = 0.2
    assert AdjustmentPolicy(min_abs_k=0.25).propose(RoundState(label, pred), RNG) == []
    assert np.isnan(measured_k(np.zeros_like(label), pred))
    assert AdjustmentPolicy(min_abs_k=0).propose(RoundState(np.zeros_like(label), pred), RNG) == []
    with pytest.raises(ValueError, match="mode"):
        AdjustmentPolicy("exam")
