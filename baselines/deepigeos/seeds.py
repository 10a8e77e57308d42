"""User seeds simulated as DeepIGeoS trained its refinement network R-Net.

Wang et al. (TPAMI 2018): the user interactions on each mis-segmented
region are simulated by sampling random voxels in it: none when the region has fewer
than 30 voxels, else ceil(N / 100) for a region of N voxels. Regions here are the
26-connected components of the 3D error (:func:`benchmark.errors.error_components`);
under-segmented regions give foreground seeds, over-segmented ones background seeds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from benchmark.errors import error_components

#: Regions smaller than this get no seeds.
MIN_REGION = 30
#: One seed per this many voxels of a region (rounded up).
VOXELS_PER_SEED = 100


@dataclass(frozen=True, eq=False)
class Seeds:
    """Foreground and background seed masks.

    Attributes:
        foreground: bool [X, Y, Z], voxels the user marks as tumour.
        background: bool [X, Y, Z], voxels the user marks as not tumour.
    """

    foreground: np.ndarray
    background: np.ndarray

    def __post_init__(self) -> None:
        fg, bg = self.foreground, self.background
        if fg.shape != bg.shape or fg.dtype != bool or bg.dtype != bool:
            raise ValueError(
                f"Seeds: foreground and background must be bool arrays of one shape, got "
                f"{fg.dtype} {fg.shape} and {bg.dtype} {bg.shape}"
            )

    @property
    def empty(self) -> bool:
        return not (self.foreground.any() or self.background.any())

    def stacked(self) -> np.ndarray:
        """bool [2, X, Y, Z]: foreground, background (the seed sets of one geodesic call)."""
        return np.stack([self.foreground, self.background])


def seeds_per_region(size: int, min_region: int = MIN_REGION, per_seed: int = VOXELS_PER_SEED) -> int:
    """Seeds DeepIGeoS samples in a mis-segmented region of ``size`` voxels."""
    return 0 if size < min_region else math.ceil(size / per_seed)


def simulate_seeds(label: np.ndarray, prediction: np.ndarray, rng: np.random.Generator,
                   min_region: int = MIN_REGION, per_seed: int = VOXELS_PER_SEED) -> Seeds:
    """Random seeds in every large enough error region of ``prediction``.

    Args:
        label: bool [X, Y, Z], ground truth.
        prediction: bool [X, Y, Z], the segmentation the user corrects (P-Net's).
        rng: draws the seed voxels (without replacement within a region).
        min_region: regions of fewer voxels get no seeds.
        per_seed: a region of N voxels gets ceil(N / per_seed) seeds.

    Returns:
        Seeds: foreground seeds inside under-segmented regions, background seeds
        inside over-segmented ones.
    """
    if min_region < 1 or per_seed < 1:
        raise ValueError(f"simulate_seeds: min_region and per_seed must be >= 1, got {min_region}, {per_seed}")
    components = error_components(label, prediction)
    foreground = np.zeros(label.shape, bool)
    background = np.zeros(label.shape, bool)
    for i in components.largest_first(min_region):
        n = seeds_per_region(int(components.sizes[i]), min_region, per_seed)
        mask, origin = components.mask(int(i))
        voxels = np.argwhere(mask)[rng.choice(int(components.sizes[i]), size=n, replace=False)] + origin
        target = foreground if components.positive[i] else background
        target[tuple(voxels.T)] = True
    return Seeds(foreground, background)
