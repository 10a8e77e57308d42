import pytest

from benchmark.policy import Policy
from policies.registry import POLICY_NAMES, make_policy

@pytest.mark.parametrize("name", POLICY_NAMES)
def test_every_name_builds_a_policy_of_that_name(name):
    policy = make_policy(name)
    assert isinstance(policy, Policy) and policy.name == name


def test_mode_and_options_reach_the_policy():
    selection = make_policy("selection", "train", max_clicks=2)
    assert selection.mode == "train" and selection.max_clicks == 2
    assert make_policy("adjustment", min_abs_k=0.1).min_abs_k == 0.1
    assert make_policy("ritm", "train").name == "ritm"  # reference users have one behaviour
    assert make_policy("multi", "train").mode == "train"


@pytest.mark.parametrize(
    "name, suggestion", [("selectoin", "selection"), ("Brush", "brush"), ("rtim", "ritm"), ("cvpr", "cvpr25")]
)
def test_unknown_name_suggests_the_closest(name, suggestion):
    with pytest.raises(ValueError, match=f"did you mean '{suggestion}'.*choose one of: selection, brush"):
        make_policy(name)


def test_unknown_name_without_a_close_match_lists_the_names():
    with pytest.raises(ValueError) as info:
        make_policy("xyzzy")
    assert "did you mean" not in str(info.value) and all(n in str(info.value) for n in POLICY_NAMES)


def test_bad_mode_suggests_the_closest():
    with pytest.raises(ValueError, match="unknown mode 'tset'; did you mean 'test'"):
        make_policy("selection", "tset")


def test_user_specs_carry_constructor_options():
    from policies.registry import parse_user_spec

    assert parse_user_spec("multi:target_dice=0.95,max_edits_per_round=2") == (
        "multi", {"target_dice": 0.95, "max_edits_per_round": 2})
    assert make_policy("multi:target_dice=0.95").target_dice == 0.95
    assert make_policy("selection:max_clicks=1", "train").max_clicks == 1
    with pytest.raises(ValueError, match="did you mean 'target_dice'"):
        make_policy("multi:target=0.9")
    with pytest.raises(ValueError, match="NAME:KEY=VALUE"):
        make_policy("multi:0.9")
    with pytest.raises(ValueError, match="unknown option"):
        make_policy("ritm:radius=2")
