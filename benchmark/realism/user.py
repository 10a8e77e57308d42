"""A simulated user that errs as people do: any user, with the realism knobs applied.

Each round, in this order (each step draws from the session's generator only when its
knob is on):

1. hesitation: with probability ``hesitate`` the user stops here;
2. a limited view (:mod:`benchmark.realism.view`): the inner user sees only the slices
   in view;
3. the inner user proposes its edits, as an oracle would;
4. each edit is made as a person would make it: a click may slip to a smaller blob and
   is jittered in its slice; a stroke is cut short or drawn on, given its minimum
   length, wobbled and may slip to a neighbouring slice in view; a click, stroke or box
   may get the wrong sign; K is rounded to the UI's step and clipped to its range.
"""

from __future__ import annotations

import numpy as np

from benchmark.edits import Adjustment, Box, Click, Edit, Stroke
from benchmark.policy import Policy, RoundState
from benchmark.realism.clicks import jitter_click, smaller_component_click
from benchmark.realism.knobs import Realism
from benchmark.realism.strokes import change_length, shift_slice, wobble
from benchmark.realism.view import in_view, visible_slices


class RealisticUser:
    """``inner`` with ``knobs`` applied (see the module docstring).

    Attributes:
        name: the full user spec, knobs included.
        inner: the oracle user.
        knobs: this user's knobs (a population's draw for one user seed).
    """

    def __init__(self, name: str, inner: Policy, knobs: Realism) -> None:
        self.name, self.inner, self.knobs = name, inner, knobs

    def propose(self, state: RoundState, rng: np.random.Generator) -> list[Edit]:
        knobs = self.knobs
        if knobs.hesitate > 0 and rng.random() < knobs.hesitate:
            return []
        visible = visible_slices(state, knobs)
        seen = in_view(state, visible) if visible is not None else state
        return [self._as_made(edit, seen, visible, rng) for edit in self.inner.propose(seen, rng)]

    def _as_made(self, edit: Edit, state: RoundState, visible: np.ndarray | None, rng: np.random.Generator) -> Edit:
        knobs, shape = self.knobs, state.label.shape
        if isinstance(edit, Click):
            if knobs.slip_component > 0 and rng.random() < knobs.slip_component:
                edit = smaller_component_click(edit, state, rng)
            if knobs.jitter_mm > 0:
                edit = jitter_click(edit, state, knobs.jitter_mm, knobs.jitter, knobs.jitter_outside, rng)
        elif isinstance(edit, Stroke):
            voxels = edit.voxels
            if knobs.stroke_cut > 0 or knobs.stroke_over > 0 or knobs.min_stroke_mm > 0:
                factor = rng.uniform(1 - knobs.stroke_cut, 1 + knobs.stroke_over) if (
                    knobs.stroke_cut > 0 or knobs.stroke_over > 0) else 1.0
                voxels = change_length(voxels, state.spacing, factor, knobs.min_stroke_mm, shape, rng)
            if knobs.wobble_mm > 0:
                voxels = wobble(voxels, state.spacing, knobs.wobble_mm, knobs.wobble_scale_mm, shape, rng)
            if knobs.slip_slice > 0 and rng.random() < knobs.slip_slice:
                voxels = _neighbour_slice(voxels, shape, visible, rng)
            edit = Stroke(voxels, edit.positive)
        elif isinstance(edit, Adjustment):
            k = edit.k
            if knobs.k_step > 0:
                k = round(k / knobs.k_step) * knobs.k_step
            k = min(max(k, knobs.k_min if knobs.k_min is not None else k), knobs.k_max if knobs.k_max is not None else k)
            edit = Adjustment(float(k))
        if knobs.slip_sign > 0 and isinstance(edit, (Click, Stroke, Box)) and rng.random() < knobs.slip_sign:
            edit = _flipped(edit)
        return edit


def _neighbour_slice(voxels: np.ndarray, shape, visible: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
    """The stroke one axial slice up or down (drawn evenly), among the slices inside the
    volume and in view; unchanged when neither neighbour is."""
    z = int(np.median(voxels[:, 2]))
    options = [dz for dz in (-1, 1) if 0 <= z + dz < shape[2] and (visible is None or visible[z + dz])]
    if not options:
        return voxels
    return shift_slice(voxels, options[int(rng.integers(len(options)))], shape)


def _flipped(edit: Click | Stroke | Box) -> Edit:
    if isinstance(edit, Click):
        return Click(edit.voxel, not edit.positive)
    if isinstance(edit, Stroke):
        return Stroke(edit.voxels, not edit.positive)
    return Box(edit.lower, edit.upper, not edit.positive, edit.plane)
