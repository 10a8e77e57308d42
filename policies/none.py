"""The user who never edits: the method's own prediction is the result.

Experiments without edits (the base network alone, the editing network with no input)
are sessions of this user; with a budget of 0 rounds it is never even asked.
"""

from __future__ import annotations

import numpy as np

from benchmark.edits import Edit
from benchmark.policy import RoundState


class NoEdits:
    """Simulated user that proposes nothing, whatever the prediction; it has one
    behaviour, so it takes no mode."""

    name = "none"

    def propose(self, state: RoundState, rng: np.random.Generator) -> list[Edit]:
        """No edits: the session stops with reason "user" at its first editing round."""
        return []
