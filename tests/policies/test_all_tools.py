import numpy as np

from benchmark.policy import RoundState
from policies.adjustment import AdjustmentPolicy
from policies.brush import BrushPolicy
from benchmark.registry import make_user
from policies.selection import SelectionPolicy
from tests.helpers import ball


def test_all_tools_is_every_tool_in_one_round():
    rng = np.random.default_rng(4)
    label = ball((48, 44, 36), (24, 22, 18), 11)
    pred = ball((48, 44, 36), (24, 22, 18), 8) | ball((48, 44, 36), (6, 6, 6), 4)  # too tight, plus a false blob
    state = RoundState(label, pred)
    for mode in ("test", "train"):
        user = make_user("all-tools", mode)
        expected = [e for p in (SelectionPolicy(mode), BrushPolicy(mode=mode), AdjustmentPolicy(mode))
                    for e in p.propose(state, rng)]
        edits = user.propose(state, rng)
        assert edits == expected and {e.tool for e in edits} == {"selection", "brush", "adjustment"}
    assert make_user("all-tools", "train").propose(state, rng)[-1].k == np.clip(-(pred.sum() - label.sum()) / label.sum(), -0.5, 0.5)
