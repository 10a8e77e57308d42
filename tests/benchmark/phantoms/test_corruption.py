import numpy as np
import pytest

from benchmark.phantoms.corruption import simulate_prediction
from benchmark.metrics import dice


def _tumour(shape=(64, 64, 48), seed=0):
    rng = np.random.default_rng(seed)
    g = np.indices(shape)
    centre = np.array(shape).reshape(3, 1, 1, 1) / 2 + rng.uniform(-4, 4, (3, 1, 1, 1))
    radii = rng.uniform(9, 13, 3).reshape(3, 1, 1, 1)
    label = (((g - centre) / radii) ** 2).sum(0) <= 1
    brain = (((g - np.array(shape).reshape(3, 1, 1, 1) / 2) / (0.45 * np.array(shape).reshape(3, 1, 1, 1))) ** 2).sum(0) <= 1
    return label, brain


def test_same_generator_state_gives_same_prediction():
    label, brain = _tumour()
    a = simulate_prediction(label, np.random.default_rng(5), brain)
    b = simulate_prediction(label, np.random.default_rng(5), brain)
    c = simulate_prediction(label, np.random.default_rng(6), brain)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


@pytest.mark.parametrize("seed", range(5))
def test_severity_one_has_both_error_kinds_and_moderate_dice(seed):
    label, brain = _tumour(seed=seed)
    pred = simulate_prediction(label, np.random.default_rng(seed), brain)
    assert pred.dtype == bool and pred.shape == label.shape
    assert 0.55 <= dice(pred, label) <= 0.9
    assert (label & ~pred).any() and (pred & ~label).any()
    assert not (pred & ~label & ~brain).any()  # spurious blobs stay in the brain


def test_severity_scales_the_errors():
    label, brain = _tumour()
    scores = [dice(simulate_prediction(label, np.random.default_rng(1), brain, s), label) for s in (0.0, 0.5, 1.5)]
    assert scores[0] == 1.0 and scores[0] > scores[1] > scores[2]


def test_empty_label_gives_only_blobs_in_the_brain():
    label, brain = _tumour()
    pred = simulate_prediction(np.zeros_like(label), np.random.default_rng(0), brain)
    assert pred.any() and not (pred & ~brain).any()


def test_bad_inputs_are_named():
    label, brain = _tumour()
    with pytest.raises(ValueError, match="label"):
        simulate_prediction(label.astype(np.uint8), np.random.default_rng(0))
    with pytest.raises(ValueError, match="brain"):
        simulate_prediction(label, np.random.default_rng(0), brain[:-1])
    with pytest.raises(ValueError, match="severity"):
        simulate_prediction(label, np.random.default_rng(0), severity=-1)
