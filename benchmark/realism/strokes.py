"""A person's brush strokes: wobbly, cut short or overshooting, now and then a slice off.

A stroke is an ordered path of voxels, int [N, 3] (x, y, z) into the canonical
[X, Y, Z] arrays, normally on one axial slice; ``spacing`` is mm along X, Y, Z. Each
function returns a new path, rasterised back to voxels with no gaps (consecutive voxels
touch, 26-connected), repeats of a voxel in a row removed, inside the volume.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d

#: Points per voxel when a path is resampled before it is changed.
_SAMPLES_PER_VOXEL = 4


def _resample(voxels: np.ndarray, spacing) -> tuple[np.ndarray, np.ndarray]:
    """Dense points along the path, float [M, 3], and their arc length in mm, float [M]."""
    points = np.asarray(voxels, np.float64)
    if len(points) == 1:
        return points, np.zeros(1)
    seg = np.sqrt(((np.diff(points, axis=0) * np.asarray(spacing)) ** 2).sum(axis=1))
    at = np.concatenate([[0.0], np.cumsum(seg)])
    step = min(float(np.min(spacing)), 1.0) / _SAMPLES_PER_VOXEL
    s = np.linspace(0.0, at[-1], max(2, int(np.ceil(at[-1] / step)) + 1))
    return np.stack([np.interp(s, at, points[:, a]) for a in range(3)], axis=1), s


def rasterise(points: np.ndarray, shape) -> np.ndarray:
    """int [N, 3] voxels of a float path: rounded, clipped to ``shape``, gaps between
    consecutive voxels filled by straight steps, repeats in a row removed."""
    upper = np.asarray(shape) - 1
    voxels = np.clip(np.rint(points), 0, upper).astype(np.intp)
    out = [voxels[0]]
    for v in voxels[1:]:
        gap = int(np.abs(v - out[-1]).max())
        for t in range(1, gap + 1):  # a jump of more than one voxel: fill it
            out.append(np.rint(out[-1] + (v - out[-1]) * (1 / (gap - t + 1))).astype(np.intp))
    path = np.array(out)
    keep = np.r_[True, (np.diff(path, axis=0) != 0).any(axis=1)]
    return path[keep]


def change_length(voxels: np.ndarray, spacing, factor: float, min_mm: float, shape,
                  rng: np.random.Generator) -> np.ndarray:
    """The stroke drawn to ``factor`` times its length (cut short below 1, drawn on past
    its end above 1, straight on along its last 2 mm), and to at least ``min_mm``. A
    one-voxel stroke drawn on goes in a random in-plane direction (one draw)."""
    points, s = _resample(voxels, spacing)
    length = s[-1]
    target = max(length * factor, min_mm)
    if target <= length:
        keep = s <= target + 1e-9
        return rasterise(points[keep], shape)
    if length > 0:
        back = points[max(0, np.searchsorted(s, length - 2.0) - 1)]
        direction = (points[-1] - back) * np.asarray(spacing)
    else:
        angle = rng.uniform(0, 2 * np.pi)
        direction = np.array([np.cos(angle), np.sin(angle), 0.0])
    direction = direction / np.linalg.norm(direction)  # a unit step in mm
    extra = np.linspace(0.0, target - length, max(2, int(np.ceil((target - length) * _SAMPLES_PER_VOXEL)) + 1))[1:]
    tail = points[-1] + extra[:, None] * direction / np.asarray(spacing)
    return rasterise(np.concatenate([points, tail]), shape)


def wobble(voxels: np.ndarray, spacing, wobble_mm: float, scale_mm: float, shape,
           rng: np.random.Generator) -> np.ndarray:
    """The stroke with a smooth in-plane wobble: per axis x and y, white noise along the
    resampled path smoothed by a Gaussian of ``scale_mm`` (its correlation length) and
    scaled to a standard deviation of ``wobble_mm``; z is kept."""
    points, s = _resample(voxels, spacing)
    if len(points) < 2:
        offsets = rng.normal(0.0, wobble_mm, 2)
    else:
        sigma = scale_mm / (s[-1] / (len(s) - 1))  # in samples
        noise = gaussian_filter1d(rng.normal(size=(len(points), 2)), sigma, axis=0, mode="reflect")
        spread = noise.std(axis=0)
        offsets = noise / np.where(spread > 0, spread, 1.0) * wobble_mm
    moved = points.copy()
    moved[:, :2] += offsets / np.asarray(spacing[:2])
    return rasterise(moved, shape)


def shift_slice(voxels: np.ndarray, dz: int, shape) -> np.ndarray:
    """The stroke moved ``dz`` axial slices (clipped to the volume)."""
    moved = np.asarray(voxels).copy()
    moved[:, 2] = np.clip(moved[:, 2] + dz, 0, shape[2] - 1)
    return moved
