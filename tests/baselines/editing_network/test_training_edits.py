import numpy as np

from baselines.editing_network.training_edits import PredictionCache, draw_tools, sample_history, simulate_tool_edits
from benchmark.digests import file_digest
from benchmark.edits import PAPER_TOOLS as TOOLS, Adjustment, Click, Stroke
from tests.helpers import ball


def test_cache_computes_once_and_is_keyed_by_digest(tmp_path):
    pred = np.zeros((5, 6, 7), bool)
    pred[1:3, 2:5, 0] = True
    calls = []

    def compute():
        calls.append(1)
        return pred

    cache = PredictionCache(tmp_path, "a" * 64)
    np.testing.assert_array_equal(cache.get("c1", pred.shape, compute), pred)
    np.testing.assert_array_equal(PredictionCache(tmp_path, "a" * 64).get("c1", pred.shape, compute), pred)
    assert len(calls) == 1
    PredictionCache(tmp_path, "b" * 64).get("c1", pred.shape, compute)  # another F: recomputed
    assert len(calls) == 2


def test_file_digest_changes_with_content(tmp_path):
    f = tmp_path / "x.pt"
    f.write_bytes(b"one")
    d1 = file_digest(f)
    f.write_bytes(b"two")
    assert d1 != file_digest(f) and len(d1) == 64


def test_draw_tools_probabilities():
    rng = np.random.default_rng(0)
    assert draw_tools(rng, 0.0) == ()
    assert draw_tools(rng, 1.0) == TOOLS
    draws = [draw_tools(rng, 0.5) for _ in range(2000)]
    assert 0.08 < np.mean([d == () for d in draws]) < 0.17  # 1/8 of samples without edits
    assert 0.45 < np.mean(["brush" in d for d in draws]) < 0.55


def test_simulated_edits_follow_the_training_limits():
    shape = (48, 48, 32)
    label = ball(shape, (20, 24, 16), 11.0) | ball(shape, (38, 12, 16), 6.0)
    prediction = ball(shape, (20, 24, 16), 11.0)  # misses the second focus (~900 voxels)
    edits = simulate_tool_edits(label, prediction, np.random.default_rng(0))
    assert set(edits) == set(TOOLS)
    (click,) = edits["selection"]
    assert isinstance(click, Click) and click.positive and label[click.voxel] and not prediction[click.voxel]
    assert len(edits["brush"]) <= 1 and all(isinstance(s, Stroke) and s.positive for s in edits["brush"])
    (adjust,) = edits["adjustment"]
    assert isinstance(adjust, Adjustment) and 0 < adjust.k <= 0.5  # under-segmented: grow, clipped


def test_sample_history_keeps_only_the_drawn_tools():
    edits = {"selection": (Click((1, 2, 3), True),), "brush": (), "adjustment": (Adjustment(0.2),)}
    assert len(sample_history(edits, ())) == 0
    h = sample_history(edits, ("selection", "brush"))
    assert h.edits == edits["selection"] and len(h.rounds) == 1
    assert sample_history(edits, TOOLS).k_total == 0.2
