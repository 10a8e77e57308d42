"""The paper's simulated edits E_auto: all three tools' edits at once.

Sec. 2.3 simulates a user's edits by comparing a prediction with the ground truth and
applying every tool's rule: selection clicks on the large error components, a brush
stroke on the slice with the largest error, and the adjustment K. This user proposes all
of them in one round; with ``mode="train"`` these are exactly the edits the editing
network G is trained on (experiment (c) of the paper: "add simulated edits").
"""

from __future__ import annotations

import numpy as np

from benchmark.edits import Edit
from benchmark.policy import RoundState
from policies.adjustment import AdjustmentPolicy
from policies.brush import BrushPolicy
from policies.selection import SelectionPolicy


class AllToolsUser:
    """Selection clicks, then brush strokes, then the adjustment, in one round.

    Args:
        mode: "test" or "train", handed to the three tool policies.
    """

    name = "all-tools"

    def __init__(self, mode: str = "test") -> None:
        self.mode = mode
        self.policies = (SelectionPolicy(mode=mode), BrushPolicy(mode=mode), AdjustmentPolicy(mode=mode))

    def propose(self, state: RoundState, rng: np.random.Generator) -> list[Edit]:
        return [edit for policy in self.policies for edit in policy.propose(state, rng)]
