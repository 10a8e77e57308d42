"""The paper's selection tool, simulated: one click at the core of each large error.

"Users tend to click on the center of a large block of mis-segmented region": for each
26-connected component of under- or over-segmentation that is large enough, the user
clicks the voxel that repeated erosion leaves last (:func:`benchmark.errors.core_voxel`),
positive on missed tumour, negative on false tumour, largest component first.
"""

from __future__ import annotations

import math

import numpy as np

from benchmark.edits import Click
from benchmark.errors import error_components
from benchmark.policy import RoundState, not_repeated

#: Smallest component worth a click, in mm^3, per mode. Training drops small
#: components (the paper's guard against over-reliance on edits); at test time only
#: specks are ignored. At 1 mm isotropic spacing these are voxel counts.
MIN_SIZE_MM3 = {"test": 50.0, "train": 500.0}


def min_voxels(min_size_mm3: float, spacing: tuple[float, float, float]) -> int:
    """The smallest voxel count whose volume reaches ``min_size_mm3`` (at least 1)."""
    return max(1, math.ceil(min_size_mm3 / float(np.prod(spacing)) - 1e-9))


def selection_clicks(
    label: np.ndarray, prediction: np.ndarray, min_voxels: int, max_clicks: int | None = None
) -> list[Click]:
    """One click per error component of at least ``min_voxels`` voxels, largest first.

    Args:
        label: bool [X, Y, Z], ground truth.
        prediction: bool [X, Y, Z], current segmentation.
        min_voxels: smallest component size that gets a click.
        max_clicks: keep only the first this many clicks (None: all).

    Returns:
        Clicks at component cores; positive for under-segmentation.
    """
    components = error_components(label, prediction)
    ids = components.largest_first(min_voxels)[:max_clicks]
    return [Click(components.core(int(i)), bool(components.positive[i])) for i in ids]


class SelectionPolicy:
    """Simulated user of the selection tool.

    Args:
        mode: "test" (every component but specks) or "train" (large components only).
        min_size: smallest component volume in mm^3 that gets a click; None takes
            ``MIN_SIZE_MM3[mode]`` (50 test, 500 train), converted to voxels with the
            round's spacing.
        max_clicks: at most this many clicks per round (largest components); None: no limit.
    """

    name = "selection"

    def __init__(self, mode: str = "test", min_size: float | None = None, max_clicks: int | None = None) -> None:
        if mode not in MIN_SIZE_MM3:
            raise ValueError(f"mode must be one of {sorted(MIN_SIZE_MM3)}, got {mode!r}")
        if min_size is not None and not min_size >= 0:
            raise ValueError(f"min_size must be a volume in mm^3 >= 0, got {min_size!r}")
        if max_clicks is not None and max_clicks < 1:
            raise ValueError(f"max_clicks must be >= 1 or None, got {max_clicks!r}")
        self.mode = mode
        self.min_size = MIN_SIZE_MM3[mode] if min_size is None else float(min_size)
        self.max_clicks = max_clicks

    def propose(self, state: RoundState, rng: np.random.Generator) -> list[Click]:
        """Clicks for this round (deterministic: ``rng`` is not used)."""
        clicks = selection_clicks(state.label, state.prediction, min_voxels(self.min_size, state.spacing), self.max_clicks)
        return not_repeated(clicks, state.history)
