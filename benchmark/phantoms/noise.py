"""Smooth random fields: the texture, displacement and shape noise of the phantoms.

White noise is drawn on a coarse grid, blurred there, and interpolated up to the full
grid (trilinear, through torch, which is several times faster than scipy's zoom on
CPU). Smoothing a coarse grid and upsampling costs a small fraction of blurring the
full grid with the same correlation length.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy import ndimage


def smooth_noise(
    shape: tuple[int, int, int], length: float, rng: np.random.Generator, channels: int = 1
) -> np.ndarray:
    """Smooth Gaussian random fields, about zero mean and unit standard deviation.

    Args:
        shape: (X, Y, Z) of the output grid.
        length: correlation length in voxels (values this far apart are nearly
            independent); must be positive.
        rng: the source of all randomness.
        channels: how many independent fields to draw.

    Returns:
        float32 [channels, X, Y, Z].
    """
    if length <= 0:
        raise ValueError(f"smooth_noise: length must be positive, got {length}")
    cell = max(length / 2.0, 1.0)
    coarse_shape = tuple(max(2, math.ceil((n - 1) / cell) + 1) for n in shape)
    coarse = rng.standard_normal((channels, *coarse_shape), dtype=np.float32)
    coarse = ndimage.gaussian_filter(coarse, sigma=(0, 1.0, 1.0, 1.0), mode="wrap")
    coarse -= coarse.mean(axis=(1, 2, 3), keepdims=True)
    coarse /= coarse.std(axis=(1, 2, 3), keepdims=True) + 1e-6
    if coarse_shape == tuple(shape):
        return coarse
    fine = torch.nn.functional.interpolate(
        torch.from_numpy(coarse)[None], size=tuple(shape), mode="trilinear", align_corners=True
    )
    return fine[0].numpy()
