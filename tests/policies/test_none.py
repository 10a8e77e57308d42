import numpy as np
import pytest

from benchmark.registry import make_method
from benchmark.policy import RoundState
from benchmark.session import SessionConfig, run_session
from benchmark.registry import make_user
from tests.helpers import tumour_case


def test_none_never_edits_and_ignores_the_mode():
    case = tumour_case()
    empty = np.zeros_like(case.label)
    for mode in ("test", "train"):
        user = make_user("none", mode)
        assert user.name == "none"
        assert user.propose(RoundState(case.label, empty), np.random.default_rng(0)) == []


def test_none_takes_no_options():
    with pytest.raises(ValueError, match="unknown option of user 'none'"):
        make_user("none:target_dice=0.9")


def test_a_session_of_none_is_the_initial_prediction_alone():
    case = tumour_case()
    method = make_method("manual-paint")
    for rounds, reason in ((0, "budget"), (3, "user")):
        result = run_session(case, method, make_user("none"), SessionConfig(max_rounds=rounds, hd95=False),
                             np.random.default_rng(0))
        assert len(result.rounds) == 1 and result.n_edits == 0 and result.stop_reason == reason
