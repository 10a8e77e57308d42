"""A limited view: a person sees one stack of axial slices at a time, not the whole volume.

The user scrolls to the axial slice with the most wrong voxels (prediction != label) and
sees ``view_slices`` slices on either side of it; with ``view_every`` = k only every k-th
slice (z % k == 0) is looked at. The user is shown a state in which the slices out of
view hold no error (their label is the prediction), so any user, built-in or plug-in,
edits only what it can see; its K estimate, too, comes from the slices in view.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from benchmark.policy import RoundState
from benchmark.realism.knobs import Realism


def visible_slices(state: RoundState, knobs: Realism) -> np.ndarray | None:
    """bool [Z], the axial slices in view this round; None when the view is not limited.

    The slice shown is the looked-at slice with the most wrong voxels (the lowest z on
    ties; the middle looked-at slice when nothing is wrong).
    """
    if knobs.view_slices is None and knobs.view_every == 1:
        return None
    z = np.arange(state.label.shape[2])
    looked = z % knobs.view_every == 0
    if knobs.view_slices is None:
        return looked
    wrong = np.count_nonzero(state.label != state.prediction, axis=(0, 1))
    candidates = np.flatnonzero(looked)
    shown = candidates[int(np.argmax(wrong[candidates]))] if wrong[candidates].any() else candidates[len(candidates) // 2]
    return looked & (np.abs(z - shown) <= knobs.view_slices)


def in_view(state: RoundState, visible: np.ndarray) -> RoundState:
    """``state`` with no error outside the visible slices (label := prediction there)."""
    label = np.where(visible[None, None, :], state.label, state.prediction)
    return replace(state, label=label)
