import numpy as np
import pytest

from benchmark.chain import ChainedUser, chain_stages
from benchmark.edits import Adjustment, Click
from benchmark.policy import RoundState
from benchmark.registry import PluginError, check_user, make_user, plugin_provenance


class Fixed:
    def __init__(self, name, edits):
        self.name, self.edits, self.rounds = name, edits, []

    def propose(self, state, rng):
        self.rounds.append(state.round)
        return list(self.edits)


def state(round_):
    label = np.zeros((6, 6, 6), bool)
    label[2:4, 2:4, 2:4] = True
    return RoundState(label, np.zeros_like(label), round=round_)


def test_stages_split_on_then_and_a_plain_spec_is_one_stage():
    assert chain_stages("box:style=cvpr25 then cvpr25:units=voxel,ties=cvpr25") == [
        "box:style=cvpr25", "cvpr25:units=voxel,ties=cvpr25"]
    assert chain_stages("a then b then c") == ["a", "b", "c"]
    assert chain_stages("multi:target_dice=0.9") == ["multi:target_dice=0.9"]
    assert chain_stages("mylab.then:Thenable") == ["mylab.then:Thenable"]  # 'then' inside a name is no stage break
    with pytest.raises(ValueError, match="a chain is USER then USER"):
        chain_stages("box then ")


def test_each_stage_but_the_last_takes_one_round_and_passes_it_on_when_it_has_nothing():
    first, last = Fixed("a", [Adjustment(0.1)]), Fixed("b", [Click((2, 2, 2), True)])
    chain = ChainedUser("a then b", [first, last])
    rng = np.random.default_rng(0)
    assert chain.propose(state(1), rng) == [Adjustment(0.1)]
    assert chain.propose(state(2), rng) == [Click((2, 2, 2), True)]
    assert chain.propose(state(3), rng) == [Click((2, 2, 2), True)]
    assert first.rounds == [1] and last.rounds == [2, 3]
    idle = ChainedUser("idle then b", [Fixed("idle", []), last])
    assert idle.propose(state(1), rng) == [Click((2, 2, 2), True)]  # the first stage had nothing
    assert ChainedUser("b then idle", [last, Fixed("idle", [])]).propose(state(2), rng) == []  # the last is done


def test_the_registry_builds_and_checks_chains_stage_by_stage():
    user = make_user("box:style=tight then cvpr25:units=voxel,ties=cvpr25")
    assert isinstance(user, ChainedUser) and user.name == "box:style=tight then cvpr25:units=voxel,ties=cvpr25"
    assert [s.name for s in user.stages] == ["box", "cvpr25"]
    check_user("box then ritm")
    with pytest.raises(PluginError, match="unknown user 'rtim'"):
        check_user("box then rtim")
    users = plugin_provenance([], ["box then ritm"])["users"]
    assert set(users) == {"box", "ritm"}
