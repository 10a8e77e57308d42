import numpy as np
import pytest

from benchmark.case import CaseImage
from benchmark.edits import Adjustment, Click
from benchmark.metrics import dice
from benchmark.session import SessionConfig, run_session
from tests.helpers import ball, tumour_case


class Scripted:
    """A user that replays fixed rounds of edits, then stops."""

    name = "scripted"

    def __init__(self, rounds):
        self.rounds = list(rounds)
        self.seen = []

    def propose(self, state, rng):
        self.seen.append(state)
        return list(self.rounds.pop(0)) if self.rounds else []


class Painter:
    """Grows a fixed ball by the latest adjustment, fills clicks; records what it got."""

    name = "painter"
    tools = frozenset({"selection", "brush"})

    def __init__(self, shape):
        self.shape = shape
        self.calls = []

    def predict(self, image, history):
        assert type(image) is CaseImage  # never the labelled Case
        self.calls.append(history)
        mask = ball(self.shape, (20, 18, 14), 5)
        for e in history.of_tool("selection"):
            mask |= ball(self.shape, e.voxel, 8)
        return mask


def test_rounds_are_logged_and_edits_accumulate():
    case = tumour_case()
    user = Scripted([[Click((20, 18, 14), True), Adjustment(0.2)], [Click((20, 18, 15), True)]])
    method = Painter(case.label.shape)
    result = run_session(case, method, user, SessionConfig(max_rounds=5), np.random.default_rng(0))
    rows = result.rounds
    assert [r.round for r in rows] == [0, 1, 2]
    assert [r.n_edits for r in rows] == [0, 2, 3]
    assert [r.tools for r in rows] == ["", "selection;adjustment", "selection"]
    assert [r.unsupported for r in rows] == ["", "adjustment", ""]
    assert result.stop_reason == "user"
    # the method got only the supported edits, the user saw all of its own
    assert len(method.calls[-1]) == 2 and not method.calls[-1].of_tool("adjustment")
    assert len(user.seen[-1].history) == 3 and user.seen[-1].round == 3
    assert rows[1].dice > rows[0].dice
    assert rows[0].dice == pytest.approx(dice(ball(case.label.shape, (20, 18, 14), 5), case.label))
    assert rows[0].volume_ml == pytest.approx(ball(case.label.shape, (20, 18, 14), 5).sum() / 1000)
    assert result.edit_log()[0]["edits"][1] == {"tool": "adjustment", "k": 0.2}
    assert np.isnan(rows[0].forward_ms)  # this method does not report its forward pass


def test_budget_and_target_stop_the_session():
    case = tumour_case()
    many = [[Click((20, 18, 14), True)]] * 10
    r = run_session(case, Painter(case.label.shape), Scripted(many), SessionConfig(max_rounds=3), np.random.default_rng(0))
    assert r.stop_reason == "budget" and len(r.rounds) == 4
    r = run_session(case, Painter(case.label.shape), Scripted(many), SessionConfig(max_rounds=3, target_dice=0.5),
                    np.random.default_rng(0))
    assert r.stop_reason == "target" and len(r.rounds) == 2 and r.final_dice >= 0.5


@pytest.mark.parametrize("output, message", [
    (np.zeros((3, 3, 3), bool), r"returned an array of shape \(3, 3, 3\); expected the image's"),
    (None, "returned NoneType; return a bool numpy array"),
    ("mask", "returned str"),
    (lambda shape: np.full(shape, 0.7, np.float32), "returned float32 with values 0.7..0.7, not a mask"),
    (lambda shape: np.full(shape, 2, np.uint8), "returned uint8 with values 2..2, not a mask"),
])
def test_a_bad_prediction_is_an_error_naming_the_method(output, message):
    class Wrong(Painter):
        def predict(self, image, history):
            return output(self.shape) if callable(output) else output

    case = tumour_case()
    with pytest.raises(TypeError, match=f"method 'painter' {message}"):
        run_session(case, Wrong(case.label.shape), Scripted([]), SessionConfig(), np.random.default_rng(0))


def test_a_zero_one_integer_mask_is_taken_as_bool():
    class Ints(Painter):
        def predict(self, image, history):
            return super().predict(image, history).astype(np.uint8)

    case = tumour_case()
    r = run_session(case, Ints(case.label.shape), Scripted([]), SessionConfig(), np.random.default_rng(0))
    assert r.final_prediction.dtype == bool and r.final_prediction.shape == case.label.shape


@pytest.mark.parametrize("proposal, error, message", [
    (None, TypeError, "proposed NoneType; propose must return a list of edits"),
    ([{"tool": "selection", "voxel": [1, 1, 1]}], TypeError, "proposed a dict .* an edit is a benchmark.edits.Click"),
    ([Click((99, 1, 1), True)], ValueError, r"proposed a selection edit outside the volume .*: voxel \[99, 1, 1\]"),
])
def test_a_bad_proposal_is_an_error_naming_the_user(proposal, error, message):
    class Bad:
        name = "sloppy"

        def propose(self, state, rng):
            return proposal

    case = tumour_case()
    with pytest.raises(error, match=f"user 'sloppy' {message}"):
        run_session(case, Painter(case.label.shape), Bad(), SessionConfig(), np.random.default_rng(0))


def test_zero_budget_gives_only_the_initial_prediction():
    case = tumour_case()
    r = run_session(case, Painter(case.label.shape), Scripted([[Click((1, 1, 1), True)]]), SessionConfig(max_rounds=0),
                    np.random.default_rng(0))
    assert len(r.rounds) == 1 and r.stop_reason == "budget" and r.edits == ()


def test_a_reported_forward_time_is_recorded():
    class Timed(Painter):
        def predict(self, image, history):
            self.last_forward_ms = 3.5 + len(history)
            return super().predict(image, history)

    case = tumour_case()
    r = run_session(case, Timed(case.label.shape), Scripted([[Click((20, 18, 14), True)]]), SessionConfig(),
                    np.random.default_rng(0))
    assert [row.forward_ms for row in r.rounds] == [3.5, 4.5]


class Sleepy(Painter):
    """Painter that takes ``delays[r]`` seconds in call r, or says it timed out (delay None)."""

    def __init__(self, shape, delays):
        super().__init__(shape)
        self.delays = list(delays)

    def predict(self, image, history):
        import time

        from benchmark.method import CallTimedOut

        delay = self.delays[len(self.calls)]
        mask = super().predict(image, history)
        if delay is None:
            raise CallTimedOut("stopped at its limit")
        time.sleep(delay)
        return mask


@pytest.mark.parametrize("on_timeout", ["keep", "empty"])
def test_a_call_past_the_time_limit_is_marked_and_replaced(on_timeout):
    case = tumour_case()
    clicks = [[Click((20, 18, 14), True)], [Click((12, 18, 14), True)], [Click((28, 18, 14), True)]]
    method = Sleepy(case.label.shape, [0.0, 0.0, 0.3, None])
    config = SessionConfig(max_rounds=3, time_limit_s=0.15, on_timeout=on_timeout)
    result = run_session(case, method, Scripted(clicks), config, np.random.default_rng(0))
    rows = result.rounds
    assert [r.timed_out for r in rows] == [0, 0, 1, 1]
    assert rows[2].model_ms >= 300
    if on_timeout == "keep":  # round 1's prediction stands in for rounds 2 and 3
        assert rows[2].dice == rows[3].dice == rows[1].dice and result.final_prediction.any()
    else:  # an empty mask, as the challenge scores a missing output
        assert rows[2].dice == rows[3].dice == 0.0 and not result.final_prediction.any()


def test_nsd_is_recorded_per_round_only_when_asked_for():
    from benchmark.metrics import surface_dice

    case = tumour_case()
    user = Scripted([[Click((20, 18, 14), True)]])
    plain = run_session(case, Painter(case.label.shape), user, SessionConfig(max_rounds=1), np.random.default_rng(0))
    assert np.isnan(plain.rounds[0].nsd)
    user = Scripted([[Click((20, 18, 14), True)]])
    asked = run_session(case, Painter(case.label.shape), user, SessionConfig(max_rounds=1, nsd_mm=2.0),
                        np.random.default_rng(0))
    first = ball(case.label.shape, (20, 18, 14), 5)
    assert asked.rounds[0].nsd == pytest.approx(surface_dice(first, case.label, case.spacing, 2.0))
    assert asked.rounds[1].nsd > asked.rounds[0].nsd


@pytest.mark.parametrize("field, value, message", [
    ("nsd_mm", -1.0, "nsd_mm must be a tolerance"), ("conventions", "brats", "conventions must be one of"),
    ("time_limit_s", 0, "time_limit_s must be a positive"), ("on_timeout", "skip", "on_timeout must be one of"),
])
def test_bad_session_settings_are_refused(field, value, message):
    with pytest.raises(ValueError, match=message):
        SessionConfig(**{field: value})


def test_each_round_records_what_its_edits_fixed_broke_and_how_far_the_change_reached():
    case = tumour_case()
    shape = case.label.shape
    user = Scripted([[Click((20, 18, 14), True)], [Adjustment(0.1)], [Click((2, 2, 2), True)]])
    method = Painter(shape)  # ignores adjustments (unsupported); a click fills a ball of radius 8
    result = run_session(case, method, user, SessionConfig(max_rounds=3), np.random.default_rng(0))
    rows = result.rounds
    first = ball(shape, (20, 18, 14), 5)
    second = first | ball(shape, (20, 18, 14), 8)
    wrong_before, wrong_after = first != case.label, second != case.label
    assert rows[1].fixed == np.count_nonzero(wrong_before & ~wrong_after)  # brute force
    assert rows[1].broken == np.count_nonzero(~wrong_before & wrong_after)
    assert rows[1].fixed_ml == pytest.approx(rows[1].fixed * np.prod(case.spacing) / 1000)
    changed = np.argwhere(first != second) * np.asarray(case.spacing)
    distances = np.linalg.norm(changed - np.asarray((20, 18, 14)) * np.asarray(case.spacing), axis=1)
    assert rows[1].far_share == pytest.approx(np.mean(distances > 10.0))
    assert rows[1].reach_mm == pytest.approx(np.percentile(distances, 95))
    assert np.isnan(rows[0].fixed) and np.isnan(rows[0].far_share)  # round 0: nothing before it
    assert rows[2].fixed == rows[2].broken == 0 and np.isnan(rows[2].far_share)  # unsupported: nothing changed
    assert rows[3].broken > 0 and rows[3].fixed == 0  # a click in healthy tissue only breaks
    assert rows[3].fp_ml > 0 and rows[0].fp_ml == 0  # its ball touches no tumour: a false-positive component


class Deaf:
    """A method that ignores every edit: an empty mask, always."""

    name = "deaf"
    tools = frozenset({"selection", "brush", "adjustment"})

    def predict(self, image, history):
        return np.zeros(image.shape, bool)


@pytest.mark.parametrize("user", ["adjustment", "selection", "brush"])
def test_a_single_tool_user_stops_instead_of_repeating_an_edit_that_changed_nothing(user):
    from benchmark.registry import make_user

    case = tumour_case()
    result = run_session(case, Deaf(), make_user(user), SessionConfig(max_rounds=3, hd95=False),
                         np.random.default_rng(0))
    assert result.stop_reason == "user" and len(result.rounds) == 2  # one round of edits, then done
    assert result.rounds[-1].dice == 0.0
