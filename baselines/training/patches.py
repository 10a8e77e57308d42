"""Training samples: brain crops, tumour-biased patches and light augmentation.

Everything works on numpy arrays in (C, X, Y, Z) order and draws every random choice
from an injected ``np.random.Generator``; parameters are drawn first, then applied.
"""

from __future__ import annotations

import numpy as np


def brain_mask(image: np.ndarray) -> np.ndarray:
    """bool [X, Y, Z]: voxels non-zero in any channel of ``image`` (float [C, X, Y, Z])."""
    return np.any(image != 0, axis=0)


def brain_box(image: np.ndarray, margin: int = 0) -> tuple[slice, slice, slice]:
    """The bounding box of the brain (voxels non-zero in any channel), grown by ``margin``.

    Args:
        image: float [C, X, Y, Z], background exactly 0 (as benchmark.io leaves it).
        margin: voxels added on every side, clipped to the volume.

    Returns:
        Slices over (X, Y, Z); the whole volume when nothing is non-zero.
    """
    inside = brain_mask(image)
    shape = inside.shape
    if not inside.any():
        return tuple(slice(0, n) for n in shape)  # type: ignore[return-value]
    box = []
    for axis in range(3):
        other = tuple(a for a in range(3) if a != axis)
        hits = np.flatnonzero(inside.any(axis=other))
        box.append(slice(max(0, hits[0] - margin), min(shape[axis], hits[-1] + 1 + margin)))
    return tuple(box)  # type: ignore[return-value]


def patch_origin(
    label: np.ndarray, size: tuple[int, int, int], rng: np.random.Generator, foreground_p: float
) -> tuple[int, int, int]:
    """Where a patch of ``size`` starts: centred on a tumour voxel with probability
    ``foreground_p`` (when there is tumour), else anywhere.

    Args:
        label: bool [X, Y, Z].
        size: patch size (px, py, pz); axes where it exceeds the volume start at 0 and
            are zero-padded by :func:`extract`.

    Returns:
        The patch's first voxel (x, y, z), chosen so the patch lies inside the volume
        wherever it fits.
    """
    shape = np.asarray(label.shape)
    size_a = np.asarray(size)
    high = np.maximum(shape - size_a, 0)
    tumour = np.flatnonzero(label)
    if len(tumour) and rng.random() < foreground_p:
        centre = np.asarray(np.unravel_index(tumour[rng.integers(len(tumour))], label.shape))
        start = np.clip(centre - size_a // 2, 0, high)
    else:
        start = np.asarray([rng.integers(h + 1) for h in high])
    return tuple(int(s) for s in start)  # type: ignore[return-value]


def extract(volume: np.ndarray, origin: tuple[int, int, int], size: tuple[int, int, int]) -> np.ndarray:
    """The ``size`` patch of ``volume`` [..., X, Y, Z] starting at ``origin``, zero-padded
    at the far end where the volume is smaller than the patch."""
    region = volume[(..., *(slice(o, o + s) for o, s in zip(origin, size)))]
    missing = [s - n for s, n in zip(size, region.shape[-3:])]
    if not any(missing):
        return region
    pad = [(0, 0)] * (region.ndim - 3) + [(0, m) for m in missing]
    return np.pad(region, pad)


def augment(
    image: np.ndarray,
    target: np.ndarray,
    rng: np.random.Generator,
    intensity_channels: int,
    flip_p: float = 0.5,
    scale: float = 0.1,
    shift: float = 0.1,
) -> tuple[np.ndarray, np.ndarray]:
    """Random flips of all three axes, and per-modality intensity scale and shift.

    Args:
        image: float32 [C, X, Y, Z]; the first ``intensity_channels`` are modalities
            (z-scored; scaled by U(1-scale, 1+scale) and shifted by U(-shift, shift)
            inside the brain), the rest are edit channels (flipped only).
        target: bool [X, Y, Z], flipped with the image.
        rng: source of every choice.

    Returns:
        New arrays (image float32 [C, X, Y, Z], target bool [X, Y, Z]).
    """
    flips = [axis for axis in range(3) if rng.random() < flip_p]
    gains = rng.uniform(1 - scale, 1 + scale, intensity_channels).astype(np.float32)
    offsets = rng.uniform(-shift, shift, intensity_channels).astype(np.float32)
    out = image.copy()
    modalities = out[:intensity_channels]
    brain = np.any(modalities != 0, axis=0)
    modalities *= gains[:, None, None, None]
    modalities += np.where(brain, offsets[:, None, None, None], np.float32(0))
    if flips:
        out = np.flip(out, axis=[1 + a for a in flips])
        target = np.flip(target, axis=flips)
    return np.ascontiguousarray(out), np.ascontiguousarray(target)
