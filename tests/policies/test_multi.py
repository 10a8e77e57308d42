"""Multi-tool user: picks the tool the situation calls for, stops when done, improves Dice."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from benchmark.edits import Adjustment, Click, EditHistory, Stroke
from benchmark.metrics import dice
from benchmark.policy import Policy, RoundState
from policies.multi import MultiToolUser
from benchmark.registry import make_user

SHAPE = (48, 48, 40)
RNG = np.random.default_rng(0)


def ball(centre, radius, shape=SHAPE) -> np.ndarray:
    g = np.indices(shape)
    return ((g - np.asarray(centre)[:, None, None, None]) ** 2).sum(0) <= radius**2


def propose(user, label, prediction, history=EditHistory()):
    return user.propose(RoundState(label, prediction, history, len(history.rounds) + 1), RNG)


def test_missing_blob_gets_a_positive_click_on_it():
    label = ball((20, 24, 20), 11) | ball((38, 38, 30), 6)
    prediction = ball((20, 24, 20), 11)
    (edit,) = propose(MultiToolUser(target_dice=0.99), label, prediction)
    assert isinstance(edit, Click) and edit.positive
    assert np.linalg.norm(np.subtract(edit.voxel, (38, 38, 30))) <= 1


def test_spurious_blob_gets_a_negative_click_on_it():
    label = ball((20, 24, 20), 11)
    prediction = label | ball((38, 38, 30), 6)
    (edit,) = propose(MultiToolUser(target_dice=0.99), label, prediction)
    assert isinstance(edit, Click) and not edit.positive and ball((38, 38, 30), 6)[edit.voxel]


def test_slice_local_boundary_error_gets_a_stroke_there():
    label = ball((24, 24, 20), 14)
    prediction = label.copy()
    prediction[:16, :, 19:22] = False  # the boundary eaten in, on three slices
    (edit,) = propose(MultiToolUser(target_dice=0.999), label, prediction)
    assert isinstance(edit, Stroke) and edit.positive
    assert edit.voxels[0, 2] in (19, 20, 21)
    assert label[tuple(edit.voxels.T)].all() and not prediction[tuple(edit.voxels.T)].any()


@pytest.mark.parametrize("radius, grow", [(13, True), (15, False)])
def test_thin_shell_all_round_gets_an_adjustment(radius, grow):
    label = ball((24, 24, 20), 14)
    prediction = ball((24, 24, 20), radius)
    (edit,) = propose(MultiToolUser(target_dice=0.99), label, prediction)
    assert isinstance(edit, Adjustment)
    assert (edit.k > 0) == grow
    k = (prediction.sum() - label.sum()) / label.sum()
    assert edit.k == pytest.approx(-k)


def test_shifted_boundary_is_not_a_shell():
    # Over on one side, under on the other: mostly neither sign, so no adjustment.
    label = ball((24, 24, 20), 12)
    prediction = np.roll(label, 2, axis=0)
    assert MultiToolUser(target_dice=0.99).tool_order(RoundState(label, prediction))[0] != "adjustment"


def test_stops_at_the_target_dice():
    label = ball((24, 24, 20), 14)
    prediction = ball((24, 24, 20), 13)
    d = dice(prediction, label)
    assert propose(MultiToolUser(target_dice=d), label, prediction) == []
    assert propose(MultiToolUser(target_dice=min(1.0, d + 0.01)), label, prediction) != []


def test_stops_when_nothing_is_worth_fixing():
    label = ball((24, 24, 20), 10)
    assert propose(MultiToolUser(target_dice=1.0), label, label.copy()) == []
    prediction = label.copy()
    prediction[24, 24:27, 10] = False  # three missed voxels: below every tool's threshold
    assert propose(MultiToolUser(target_dice=1.0), label, prediction) == []


def test_an_ignored_edit_is_not_proposed_again():
    label = ball((20, 24, 20), 11) | ball((38, 38, 30), 6) | ball((8, 8, 8), 5)
    prediction = ball((20, 24, 20), 11)
    user = MultiToolUser()
    first = propose(user, label, prediction)
    history = EditHistory().add(first)
    second = propose(user, label, prediction, history)
    assert len(second) == 1 and second[0] != first[0]
    assert isinstance(second[0], Click) and second[0].positive  # the other missed blob
    both = propose(MultiToolUser(max_edits_per_round=2), label, prediction)
    assert both[0] == first[0] and len(both) == 2 and both[1] != both[0]


def apply_literally(edit, label: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    """The edit as an ideal method would take it, using the ground truth for the extent:
    a click fills/erases its error component, a stroke its 2D error region, an
    adjustment moves the K |label| voxels nearest the surface (outside it to grow,
    inside to shrink)."""
    out = prediction.copy()
    error = (label & ~prediction) if getattr(edit, "positive", True) else (prediction & ~label)
    if isinstance(edit, Click):
        parts, _ = ndi.label(error, np.ones((3, 3, 3)))
        out[parts == parts[edit.voxel]] = edit.positive
    elif isinstance(edit, Stroke):
        z = edit.voxels[0, 2]
        parts, _ = ndi.label(error[:, :, z], np.ones((3, 3)))
        for value in np.unique(parts[edit.voxels[:, 0], edit.voxels[:, 1]]):
            out[:, :, z][parts == value] = edit.positive
    else:
        # Grow (shrink) by the voxels nearest outside (inside) the surface: a ball stays a ball.
        side = ~prediction if edit.k > 0 else prediction
        depth = np.where(side, ndi.distance_transform_edt(side), np.inf)
        count = min(int(round(abs(edit.k) * label.sum())), int(side.sum()))
        out.flat[np.argsort(depth, axis=None, kind="stable")[:count]] = edit.k > 0
    return out


def test_dice_rises_round_after_round_with_every_tool_used():
    label = ball((20, 24, 20), 11) | ball((38, 38, 30), 6)
    prediction = ball((20, 24, 20), 10)  # a thin shell missed all round...
    prediction[:, :20, 18:21] = False  # ...the boundary eaten in on three slices...
    # ...and the second blob missed entirely.
    user = MultiToolUser(target_dice=0.97)
    history, scores, tools = EditHistory(), [dice(prediction, label)], []
    for _ in range(8):
        edits = propose(user, label, prediction, history)
        if not edits:
            break
        history = history.add(edits)
        tools += [e.tool for e in edits]
        for edit in edits:
            prediction = apply_literally(edit, label, prediction)
        scores.append(dice(prediction, label))
    # The blob first, then the shell all round, then what is left on a few slices.
    assert tools[:3] == ["selection", "adjustment", "brush"]
    assert all(b > a for a, b in zip(scores, scores[1:]))
    assert scores[0] < 0.76 and scores[-1] > 0.95


def test_is_a_policy_made_by_the_registry():
    user = make_user("multi", target_dice=0.8, max_edits_per_round=2)
    assert isinstance(user, Policy) and user.name == "multi"
    assert (user.target_dice, user.max_edits_per_round) == (0.8, 2)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(target_dice=1.5), "target_dice"),
        (dict(max_edits_per_round=0), "max_edits_per_round"),
        (dict(blob_share=2.0), "blob_share"),
        (dict(shell_depth=0), "shell_depth"),
        (dict(mode="tset"), "mode"),
    ],
)
def test_bad_options_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MultiToolUser(**kwargs)
