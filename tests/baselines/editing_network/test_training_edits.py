import numpy as np
import pytest

from baselines.editing_network.training_edits import (EditedTarget, PredictionCache, draw_sample, draw_tools,
                                                      edited_targets, sample_history, shifted, simulate_tool_edits)
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


def test_shifted_moves_the_boundary_by_the_distance_in_mm():
    shape = (40, 40, 40)
    label = ball(shape, (20, 20, 20), 8.0)
    grown, shrunk = shifted(label, 2.0), shifted(label, -2.0)
    # brute force: a voxel joins when some label voxel lies within 2 mm, leaves when some background voxel does
    inside, outside = np.argwhere(label), np.argwhere(~label)
    for voxel in [(20, 20, 29), (20, 20, 30), (20, 20, 31), (20, 20, 27), (20, 20, 26), (20, 20, 25)]:
        d_in = np.min(np.linalg.norm(inside - voxel, axis=1))
        d_out = np.min(np.linalg.norm(outside - voxel, axis=1))
        assert grown[voxel] == (label[voxel] or d_in <= 2.0)
        assert shrunk[voxel] == (label[voxel] and d_out > 2.0)
    assert shrunk.sum() < label.sum() < grown.sum() and (shrunk <= label).all() and (label <= grown).all()
    # anisotropic voxels: 2 mm is one voxel along an axis of 2 mm voxels
    assert shifted(label, 2.0, (1.0, 1.0, 2.0))[20, 20, 29] and not shifted(label, 2.0, (1.0, 1.0, 2.0))[20, 20, 30]
    np.testing.assert_array_equal(shifted(label, 0.0), label)
    assert not shifted(np.zeros(shape, bool), 3.0).any()


def test_edited_targets_give_edits_of_both_signs_towards_each_truth():
    shape = (40, 40, 40)
    label = ball(shape, (20, 20, 20), 10.0)
    prediction = label.copy()  # F exactly right: only the shifted truths have errors
    pool = edited_targets(label, prediction, np.random.default_rng(0), shifts_mm=(0.0, -1.0, 1.0))
    assert [e.shift_mm for e in pool] == [0.0, -1.0, 1.0]
    ks = {e.shift_mm: sum(a.k for a in e.edits["adjustment"]) for e in pool}
    assert ks[0.0] == 0 and ks[-1.0] < 0 < ks[1.0]  # shrink towards the eroded truth, grow towards the dilated one
    for e in pool[1:]:  # the typed K is the one that turns F's volume into the truth's
        assert ks[e.shift_mm] == pytest.approx(1 - prediction.sum() / e.target.sum(), abs=1e-6)
    np.testing.assert_array_equal(pool[1].target, shifted(label, -1.0))
    # a 3 mm shift of a 10 mm ball asks for 0.34x or 2.2x: beyond the training clip of K (+-0.5), left out
    assert [e.shift_mm for e in edited_targets(label, prediction, np.random.default_rng(0),
                                               shifts_mm=(0.0, -3.0, 1.0, 3.0))] == [0.0, 1.0]
    tiny = ball(shape, (20, 20, 20), 1.0)  # erased by a 3 mm erosion: that truth is left out
    assert [e.shift_mm for e in edited_targets(tiny, tiny, np.random.default_rng(0), shifts_mm=(0.0, -3.0))] == [0.0]


def test_draw_sample_targets_the_truth_its_edits_point_to():
    label = np.zeros((8, 8, 8), bool)
    label[2:6, 2:6, 2:6] = True
    moved = np.ones_like(label)
    pool = (EditedTarget(moved, {"selection": (), "brush": (), "adjustment": (Adjustment(0.3),)}, 1.0),)
    rng = np.random.default_rng(0)
    history, target = draw_sample(label, pool, rng, tool_p=0.0)
    assert len(history) == 0 and target is label  # no tools: the ground truth
    draws = [draw_sample(label, pool, rng, tool_p=0.5) for _ in range(200)]
    for history, target in draws:  # a sample whose tools made no edit also targets the ground truth
        assert (target is moved) == (history.k_total == 0.3)
    assert any(t is moved for _, t in draws) and any(t is label for _, t in draws)


def test_with_shift_only_with_k_only_a_k_points_to_a_moved_truth():
    label = np.zeros((8, 8, 8), bool)
    label[2:6, 2:6, 2:6] = True
    moved = np.ones_like(label)
    click = Click((3, 3, 3), True)
    pool = (EditedTarget(label, {"selection": (click,), "brush": (), "adjustment": ()}),
            EditedTarget(moved, {"selection": (click,), "brush": (), "adjustment": (Adjustment(0.3),)}, 1.0))
    rng = np.random.default_rng(1)
    draws = [draw_sample(label, pool, rng, 0.5, shift_only_with_k=True) for _ in range(300)]
    assert all(target is label for history, target in draws if history.k_total == 0)
    assert any(target is moved for _, target in draws)
