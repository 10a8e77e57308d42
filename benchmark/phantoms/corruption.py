"""Simulated automatic segmentations: the ground truth with realistic errors.

A real network's whole-tumour mask goes wrong in a few typical ways, and the simulated
users must see each of them:

- a shifted boundary: the mask sits a few voxels off, over-segmented on one side and
  under-segmented on the other (a thin shell of each, spanning the whole tumour);
- a local surface error elsewhere: the boundary bulges out or is eaten in a little;
- missing chunks: a ball of tumour the network did not find;
- spurious blobs: small false detections scattered across the brain.

Parameters are drawn first from the injected generator, then applied deterministically,
so the same generator state gives the same prediction.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

#: At severity 1: boundary shift as a fraction of the tumour's equivalent radius.
SHIFT_FRACTION = 0.15
#: At severity 1: radius of a missing chunk as a fraction of the equivalent radius.
CHUNK_FRACTION = 0.45
#: At severity 1: radius of the region of the local surface error (fraction) and the
#: depth of that error in voxels.
SURFACE_FRACTION = 0.6
SURFACE_DEPTH = 3
#: At severity 1: number of spurious blobs (inclusive range) and their largest radius
#: as a fraction of the equivalent radius (at least 2 voxels).
BLOB_COUNT = (2, 5)
BLOB_FRACTION = 0.25


def simulate_prediction(
    label: np.ndarray,
    rng: np.random.Generator,
    brain: np.ndarray | None = None,
    severity: float = 1.0,
) -> np.ndarray:
    """A plausible automatic segmentation of ``label``, with typical errors.

    At severity 1 the Dice against ``label`` is typically 0.6-0.85 for BraTS-sized
    tumours; severity 0 returns a copy of ``label``; sizes and counts of the errors
    scale with ``severity``. An empty label gives only spurious blobs.

    Args:
        label: bool [X, Y, Z], the ground-truth whole tumour.
        rng: source of all randomness; the same state gives the same prediction.
        brain: bool [X, Y, Z], where spurious blobs may appear (e.g. any modality > 0);
            None allows the whole volume.
        severity: non-negative scale of every error.

    Returns:
        bool [X, Y, Z].
    """
    label = np.asarray(label)
    if label.ndim != 3 or label.dtype != bool:
        raise ValueError(f"label must be a bool [X, Y, Z] array, got {label.dtype} {label.shape}")
    if brain is not None and (brain.shape != label.shape or brain.dtype != bool):
        raise ValueError(
            f"brain must be a bool array of the label's shape {label.shape}, got {brain.dtype} {brain.shape}"
        )
    if not (np.isfinite(severity) and severity >= 0):
        raise ValueError(f"severity must be a finite number >= 0, got {severity!r}")
    pred = label.copy()
    if severity == 0:
        return pred

    coords = np.argwhere(label) if label.any() else np.empty((0, 3), np.intp)
    radius = (3 * len(coords) / (4 * np.pi)) ** (1 / 3)
    if len(coords):
        pred = _shift(pred, _random_direction(rng) * max(1.0, severity * SHIFT_FRACTION * radius))
        _surface_error(pred, label, coords, rng, severity * SURFACE_FRACTION * radius,
                       max(1, round(severity * SURFACE_DEPTH)))
        for _ in range(rng.integers(1, 3)):
            centre = coords[rng.integers(len(coords))]
            box, chunk = _ball(label.shape, centre, severity * CHUNK_FRACTION * radius * rng.uniform(0.7, 1.0))
            pred[box] &= ~chunk
    _add_blobs(pred, label, brain, rng, severity, max(2.0, BLOB_FRACTION * radius))
    return pred


def _random_direction(rng: np.random.Generator) -> np.ndarray:
    v = rng.standard_normal(3)
    return v / np.linalg.norm(v)


def _shift(mask: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """``mask`` translated by ``offset`` (rounded to voxels), zero-filled at the edge."""
    out = np.zeros_like(mask)
    src, dst = [], []
    for d, n in zip(np.round(offset).astype(int), mask.shape):
        d = int(np.clip(d, -n, n))
        src.append(slice(max(0, -d), n - max(0, d)))
        dst.append(slice(max(0, d), n - max(0, -d)))
    out[tuple(dst)] = mask[tuple(src)]
    return out


def _ball(shape: tuple[int, ...], centre: np.ndarray, radius: float, axes: np.ndarray | None = None,
          margin: int = 0) -> tuple[tuple[slice, ...], np.ndarray]:
    """An ellipsoid (a ball if ``axes`` is None) of ``radius`` voxels about ``centre``.

    Returns:
        (box, inside): the slices of its bounding box in ``shape``, grown by ``margin``
        voxels and clipped to the volume, and bool [box shape], the ellipsoid there.
    """
    scale = np.maximum(radius * (np.ones(3) if axes is None else axes), 1e-9)
    lo = np.maximum(0, np.floor(centre - scale).astype(int) - margin)
    hi = np.minimum(shape, np.ceil(centre + scale).astype(int) + 1 + margin)
    box = tuple(slice(a, b) for a, b in zip(lo, hi))
    g = np.ogrid[box]
    return box, sum(((g[i] - centre[i]) / scale[i]) ** 2 for i in range(3)) <= 1


def _surface_error(pred: np.ndarray, label: np.ndarray, coords: np.ndarray, rng: np.random.Generator,
                   region_radius: float, depth: int) -> None:
    """In place: grow (or eat into) the prediction by ``depth`` voxels near a boundary point."""
    centre = coords[rng.integers(len(coords))]
    grow = bool(rng.integers(2))
    box, region = _ball(label.shape, centre, max(region_radius, depth), margin=depth)
    if grow:
        pred[box] |= ndi.binary_dilation(pred[box], iterations=depth) & region
    else:
        pred[box] &= ndi.binary_erosion(pred[box], iterations=depth, border_value=1) | ~region


def _add_blobs(pred: np.ndarray, label: np.ndarray, brain: np.ndarray | None, rng: np.random.Generator,
               severity: float, max_radius: float) -> None:
    """In place: a few small ellipsoids at random voxels of ``brain`` outside the tumour."""
    allowed = ~label if brain is None else brain & ~label
    candidates = np.flatnonzero(allowed)
    if len(candidates) == 0:
        return
    lo, hi = BLOB_COUNT
    count = int(round(rng.integers(lo, hi + 1) * min(severity, 2.0)))
    for _ in range(count):
        centre = np.array(np.unravel_index(candidates[rng.integers(len(candidates))], label.shape))
        box, blob = _ball(label.shape, centre, rng.uniform(0.4, 1.0) * severity * max_radius, rng.uniform(0.6, 1.4, 3))
        pred[box] |= blob & allowed[box]
