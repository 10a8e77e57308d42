"""Any user with the realism knobs: rates, views and repeatability, through the registry."""

import numpy as np
import pytest
from scipy import stats

from benchmark.edits import Adjustment, Click, Stroke
from benchmark.policy import RoundState
from benchmark.realism import Realism, RealisticUser
from benchmark.registry import check_user, make_user
from benchmark.results import read_rounds
from benchmark.runner import RunConfig, run
from benchmark.session import SessionConfig
from policies.multi import MultiToolUser
from tests.benchmark.test_runner import write_cases
from tests.helpers import ball, corrupted_ball


class Always:
    """Proposes the same click, stroke and K every round (an oracle that never tires)."""

    name = "always"

    def __init__(self, k: float = 0.1234) -> None:
        self.k = k

    def propose(self, state, rng):
        return [Click((10, 10, 5), True), Stroke(np.array([[3, 3, 5], [4, 3, 5], [5, 3, 5]]), False),
                Adjustment(self.k)]


SHAPE = (24, 24, 12)
STATE = RoundState(ball(SHAPE, (12, 12, 6), 5), ball(SHAPE, (12, 12, 6), 4))


def binomial_bounds(n, p, level=1e-4):
    return stats.binom.ppf(level / 2, n, p), stats.binom.ppf(1 - level / 2, n, p)


@pytest.mark.parametrize("knob", ["slip_sign", "hesitate", "slip_slice"])
def test_a_rate_of_one_in_ten_gives_about_one_in_ten(knob):
    user = RealisticUser("always", Always(), Realism(**{knob: 0.1}))
    rng = np.random.default_rng(11)
    n, hits = 3000, 0
    for _ in range(n):
        edits = user.propose(STATE, rng)
        if knob == "hesitate":
            hits += not edits
        elif knob == "slip_sign":
            hits += not edits[0].positive  # the click's sign (the stroke draws its own)
        else:
            hits += edits[1].voxels[0, 2] != 5
    low, high = binomial_bounds(n, 0.1)
    assert low <= hits <= high


def test_k_is_typed_to_the_step_and_clipped_to_the_slider():
    for k, expected in [(0.1234, 0.10), (0.13, 0.15), (-0.61, -0.5), (0.9, 0.3)]:
        user = RealisticUser("always", Always(k), Realism(k_step=0.05, k_min=-0.5, k_max=0.3))
        assert user.propose(STATE, np.random.default_rng(0))[2].k == pytest.approx(expected)


@pytest.mark.parametrize("seed", range(6))
def test_a_limited_view_never_edits_outside_its_slices(seed):
    label, prediction = corrupted_ball(seed)
    state = RoundState(label, prediction)
    knobs = Realism(view_slices=2, slip_slice=0.5, jitter_mm=3.0, wobble_mm=1.5, stroke_over=0.5)
    wrong = np.count_nonzero(label != prediction, axis=(0, 1))
    shown = int(np.argmax(wrong))
    user = RealisticUser("multi", MultiToolUser(target_dice=0.99, max_edits_per_round=4), knobs)
    rng = np.random.default_rng(seed)
    for _ in range(5):
        for edit in user.propose(state, rng):
            if not isinstance(edit, Adjustment):
                assert (np.abs(edit.voxels[:, 2] - shown) <= 2).all()


def test_without_knobs_the_user_is_the_user_itself():
    assert type(make_user("multi")) is MultiToolUser
    assert type(make_user("multi:jitter_mm=0,slip=0")) is MultiToolUser  # every knob off
    assert type(make_user("multi:jitter_mm=1")) is RealisticUser
    chained = make_user("box then cvpr25:jitter_mm=1")
    assert [type(s).__name__ for s in chained.stages] == ["BoxUser", "RealisticUser"]


def test_a_plugin_user_gets_the_knobs_it_does_not_take_itself():
    user = make_user("tests.benchmark.realism.test_user:Always:k=0.2,k_step=0.25,jitter_mm=1")
    assert isinstance(user, RealisticUser) and user.inner.k == 0.2
    assert user.knobs == Realism(k_step=0.25, jitter_mm=1)
    assert user.propose(STATE, np.random.default_rng(0))[2].k == 0.25


def test_ranges_draw_one_person_per_user_seed():
    people = [make_user("selection:jitter_mm=0..3,view_slices=1..4", user_seed=s).knobs for s in range(200)]
    jitters = np.array([p.jitter_mm for p in people])
    assert 0 <= jitters.min() and jitters.max() <= 3 and stats.kstest(jitters / 3, "uniform").pvalue > 0.001
    assert {p.view_slices for p in people} == {1, 2, 3, 4}
    again = make_user("selection:jitter_mm=0..3,view_slices=1..4", user_seed=7).knobs
    assert again == people[7]
    for bad, message in [("multi:jitter_mm=a..b", "a range is LOW..HIGH"), ("multi:jitter=a..b", "is a choice"),
                         ("multi:view_slices=1..2.5", "whole numbers"), ("multi:slip=0..2", "probability")]:
        with pytest.raises(ValueError, match=message):
            check_user(bad)


def test_knobs_are_the_same_for_the_same_seed_and_for_any_number_of_jobs(tmp_path):
    write_cases(tmp_path / "data", n=3)
    users = ("multi:jitter_mm=2,slip=0.2,wobble_mm=1,k_step=0.05,hesitate=0.1", "selection:view_slices=2,jitter_mm=1")
    tables = []
    for jobs in (1, 2):
        config = RunConfig(data=tmp_path / "data", out=tmp_path / f"out{jobs}", methods=("manual-paint",),
                           users=users, session=SessionConfig(max_rounds=3, hd95=False), jobs=jobs)
        assert run(config, progress=False).failed == 0
        rows = read_rounds(tmp_path / f"out{jobs}").sort_values(["case", "user", "round"]).reset_index(drop=True)
        tables.append(rows.drop(columns=["user_ms", "model_ms", "forward_ms"]))
    assert tables[0].equals(tables[1]) and set(tables[0].user) == set(users)
