"""The paper's adjustment tool, simulated: type the correction for the volume error.

The paper measures the error as K = (V_over - V_under) / V_gt: positive when the
prediction is too large. The value a user types into the tool is positive to expand,
so the simulated edit is ``Adjustment(-K)`` (see :class:`benchmark.edits.Adjustment`).
Volumes may be in voxels or mm^3: the spacing cancels in the ratio.
"""

from __future__ import annotations

import numpy as np

from benchmark.edits import Adjustment
from benchmark.errors import check_pair
from benchmark.policy import RoundState, not_repeated

#: Training clips K to +-0.5 (the paper's guard against excessive values); test: no limit.
K_LIMIT = {"test": None, "train": 0.5}


def measured_k(label: np.ndarray, prediction: np.ndarray) -> float:
    """K = (V_over - V_under) / V_gt, the paper's measure of the volume error.

    Args:
        label: bool [X, Y, Z], ground truth.
        prediction: bool [X, Y, Z], current segmentation.

    Returns:
        K; positive when the prediction is too large. NaN when the ground truth is
        empty (no relative volume error is defined; the policy then proposes nothing).
    """
    check_pair(label, prediction)
    v_gt = np.count_nonzero(label)
    if v_gt == 0:
        return float("nan")
    # V_over - V_under = |P \ G| - |G \ P| = |P| - |G|: no error masks needed.
    return (np.count_nonzero(prediction) - v_gt) / v_gt


class AdjustmentPolicy:
    """Simulated user of the adjustment tool: one ``Adjustment(-K)`` per round.

    Args:
        mode: "test" (no limit on K) or "train" (K clipped to +-0.5).
        min_abs_k: propose nothing when |K| is below this: a volume within 5% (the
            default) is about right, and a user would not reach for the tool.
    """

    name = "adjustment"

    def __init__(self, mode: str = "test", min_abs_k: float = 0.05) -> None:
        if mode not in K_LIMIT:
            raise ValueError(f"mode must be one of {sorted(K_LIMIT)}, got {mode!r}")
        if not min_abs_k >= 0:
            raise ValueError(f"min_abs_k must be >= 0, got {min_abs_k!r}")
        self.mode = mode
        self.min_abs_k = float(min_abs_k)

    def propose(self, state: RoundState, rng: np.random.Generator) -> list[Adjustment]:
        """[Adjustment(-K)], or [] for an empty ground truth, |K| < min_abs_k, or the K
        already typed (the method ignored it: typing it again changes nothing)."""
        k = measured_k(state.label, state.prediction)
        if np.isnan(k) or abs(k) < self.min_abs_k:
            return []
        limit = K_LIMIT[self.mode]
        if limit is not None:
            k = float(np.clip(k, -limit, limit))
        return not_repeated([Adjustment(-k)], state.history)
