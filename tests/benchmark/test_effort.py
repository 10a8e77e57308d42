import math

import numpy as np
import pytest

from benchmark.edits import Adjustment, Box, Click, Stroke
from benchmark.effort import EffortModel, opening_slice, round_effort, stroke_length_mm
from benchmark.session import SessionConfig, run_session
from tests.benchmark.test_session import Painter, Scripted
from tests.helpers import tumour_case

MODEL = EffortModel(click_s=2.0, stroke_s=3.0, stroke_mm_s=0.5, adjustment_s=4.0, box_s=7.0, slice_s=1.0,
                    slice_step_s=0.25)
SHAPE = (40, 36, 28)


def by_hand(edits, spacing, model, shown, shape):
    """The effort rule written out edit by edit, slice by slice, with math.dist."""
    total = 0.0
    for e in edits:
        if e.tool == "selection":
            visits = [(2, e.voxel[2])]
        elif e.tool == "brush":
            visits = []
            for v in e.voxels:
                if not visits or visits[-1] != (2, int(v[2])):
                    visits.append((2, int(v[2])))
        elif e.tool == "box":
            thin = [a for a in range(3) if e.lower[a] == e.upper[a]]
            visits = [e.plane] if e.plane else ([(thin[-1], e.lower[thin[-1]])] if thin else [])
        else:
            visits = []
        for axis, index in visits:
            if (axis, index) != shown:
                start = shown[1] if axis == shown[0] else shape[axis] // 2
                total += model.slice_s + model.slice_step_s * abs(index - start)
                shown = (axis, index)
        if e.tool == "selection":
            total += model.click_s
        elif e.tool == "brush":
            points = [np.multiply(v, spacing) for v in e.voxels]
            total += model.stroke_s + model.stroke_mm_s * sum(math.dist(a, b) for a, b in zip(points, points[1:]))
        elif e.tool == "adjustment":
            total += model.adjustment_s
        else:
            total += model.box_s * (1 if visits else 2)
    return total, shown


def random_edits(rng, n):
    edits = []
    for _ in range(n):
        kind = rng.integers(4)
        if kind == 0:
            edits.append(Click(tuple(int(c) for c in rng.integers(0, SHAPE)), bool(rng.integers(2))))
        elif kind == 1:
            z = int(rng.integers(SHAPE[2]))
            steps = rng.integers(-1, 2, size=(int(rng.integers(1, 12)), 3))
            steps[:, 2] = rng.integers(0, 2, len(steps)) * (rng.random() < 0.3)
            voxels = np.clip(np.array([20, 18, z]) + np.cumsum(steps, axis=0), 0, np.array(SHAPE) - 1)
            edits.append(Stroke(voxels, bool(rng.integers(2))))
        elif kind == 2:
            edits.append(Adjustment(float(rng.uniform(-1, 1))))
        else:
            lower = rng.integers(0, 10, 3)
            upper = lower + rng.integers(0, 8, 3)
            plane = None if rng.random() < 0.5 else (int(rng.integers(3)), None)
            if plane is not None:
                plane = (plane[0], int(rng.integers(lower[plane[0]], upper[plane[0]] + 1)))
            edits.append(Box(tuple(lower), tuple(upper), bool(rng.integers(2)), plane))
    return edits


@pytest.mark.parametrize("seed", range(40))
def test_round_effort_equals_the_rule_written_out_by_hand(seed):
    rng = np.random.default_rng(seed)
    spacing = tuple(float(s) for s in rng.uniform(0.5, 2.0, 3))
    shown = opening_slice(SHAPE)
    for _ in range(3):  # rounds carry the shown slice on
        edits = random_edits(rng, int(rng.integers(0, 5)))
        seconds, after = round_effort(edits, spacing, MODEL, shown, SHAPE)
        expected, expected_after = by_hand(edits, spacing, MODEL, shown, SHAPE)
        assert seconds == pytest.approx(expected, abs=1e-9) and after == expected_after
        shown = after


def test_worked_example_clicks_on_two_slices_a_stroke_and_k():
    # Opens on z = 14. Click on z = 14: no move. Click on z = 20: 1 + 6 x 0.25. A 3-voxel stroke on z = 20,
    # 2 mm + 2 mm long at 2 mm voxels along x: 3 + 0.5 x 4. K: 4.
    edits = [Click((5, 5, 14), True), Click((5, 5, 20), False), Stroke(np.array([[1, 1, 20], [2, 1, 20], [3, 1, 20]]), True),
             Adjustment(0.2)]
    seconds, shown = round_effort(edits, (2.0, 1.0, 1.0), MODEL, opening_slice(SHAPE), SHAPE)
    assert seconds == pytest.approx(2 + (1 + 1.5) + 2 + (3 + 2) + 4) and shown == (2, 20)


def test_a_3d_box_costs_two_boxes_and_no_move_a_2d_one_moves_to_its_plane():
    box3d = Box((1, 1, 1), (5, 5, 5))
    flat = Box((1, 1, 9), (5, 5, 9))
    assert round_effort([box3d], (1, 1, 1), MODEL, (2, 14), SHAPE) == (14.0, (2, 14))
    assert round_effort([flat], (1, 1, 1), MODEL, (2, 14), SHAPE) == (pytest.approx(7 + 1 + 5 * 0.25), (2, 9))
    sagittal = Box((3, 1, 1), (6, 5, 5), plane=(0, 4))  # another axis: scrolls from its middle slice, x = 20
    assert round_effort([sagittal], (1, 1, 1), MODEL, (2, 14), SHAPE)[0] == pytest.approx(7 + 1 + 16 * 0.25)


def test_stroke_length_is_the_polyline_in_mm():
    assert stroke_length_mm(np.array([[0, 0, 0], [1, 1, 0], [1, 1, 1]]), (3.0, 4.0, 2.0)) == pytest.approx(5 + 2)
    assert stroke_length_mm(np.array([[4, 4, 4]]), (1, 1, 1)) == 0.0


def test_the_model_parses_and_refuses_what_is_not_seconds():
    assert EffortModel.parse("click_s=1, slice_s=0") == EffortModel(click_s=1.0, slice_s=0.0)
    assert EffortModel.parse("") == EffortModel()
    with pytest.raises(ValueError, match="unknown key 'clik_s'.*click_s"):
        EffortModel.parse("clik_s=1")
    with pytest.raises(ValueError, match="KEY=SECONDS"):
        EffortModel.parse("click_s")
    with pytest.raises(ValueError, match="KEY=SECONDS"):
        EffortModel.parse("click_s=fast")
    for bad in (-1.0, float("nan"), float("inf"), True, "2"):
        with pytest.raises(ValueError, match="^click_s must be a number of seconds >= 0"):
            EffortModel(click_s=bad)


def test_a_session_accumulates_effort_from_round_one_and_records_prediction_digests():
    case = tumour_case()
    rounds = [[Click((20, 18, 14), True)], [Adjustment(0.3), Click((22, 18, 16), True)]]
    config = SessionConfig(max_rounds=3, hd95=False, effort=MODEL)
    result = run_session(case, Painter(case.label.shape), Scripted(rounds), config, np.random.default_rng(0))
    effort = [r.effort_s for r in result.rounds]
    first = MODEL.click_s  # opens on z = 28 // 2 = 14: no move
    second = MODEL.adjustment_s + MODEL.slice_s + 2 * MODEL.slice_step_s + MODEL.click_s
    assert effort == pytest.approx([0.0, first, first + second])
    assert len({r.pred_sha for r in result.rounds}) == 3 and all(len(r.pred_sha) == 16 for r in result.rounds)


def test_a_mapping_names_where_a_bad_value_came_from():
    with pytest.raises(ValueError, match=r"^--effort: slice_s must be a number of seconds >= 0, got -2.0"):
        EffortModel.parse("slice_s=-2")
