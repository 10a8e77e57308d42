"""Tumour mimics for the phantoms: white-matter hyperintensities that are not tumour.

Small-vessel disease, common at the age of glioma patients, leaves lesions that are
bright on FLAIR and T2 like oedema, slightly dark on T1 and not enhancing on T1ce. They
are never labelled: an automatic segmentation has to reject them by context (no core,
their place, T2 and T1ce), and sometimes fails to. Two kinds, as graded on FLAIR:

- periventricular: a band lining the ventricles, thicker at the frontal and occipital
  horns (caps), its thickness varying smoothly along the wall;
- deep white matter: punctate to confluent lobulated blobs, 20-3000 mm^3 each at 1 mm
  voxels (volumes shrink with the cube of the grid's voxels per mm).

Both lie in white matter (weighted by its probability) and keep clear of the tumour.
A case has them with probability MIMIC_PROBABILITY; parameters are drawn first
(draw_mimics), then rasterised (mimic_lesions).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import edt
import numpy as np

from benchmark.phantoms.anatomy import rotation_matrix
from benchmark.phantoms.noise import smooth_noise

MIMIC_PROBABILITY = 0.6
BAND_MM = (0.5, 2.5)  # periventricular lining along the ventricles' walls
CAP_MM = (2.0, 7.0)  # extra thickness at the frontal and occipital horns
DEEP_COUNT = (0, 6)  # deep white-matter lesions, inclusive
DEEP_VOLUME_MM3 = (20.0, 3000.0)  # log-uniform
INTENSITY = (0.7, 1.0)  # weight of the lesion's contrast at its centre
TUMOUR_MARGIN_MM = 10.0  # mimics keep this far from the tumour (clear of its fading edge)
PLACEMENT_TRIES = 256


@dataclass(frozen=True)
class Mimics:
    """The white-matter hyperintensities of one case (sizes at 1 mm voxels).

    Attributes:
        band_mm: thickness of the periventricular lining.
        cap_mm: extra thickness at the ventricles' front and back ends.
        deep_volumes_mm3: volume of each deep white-matter lesion.
        intensity: fraction of the full lesion contrast, in (0, 1].
    """

    band_mm: float
    cap_mm: float
    deep_volumes_mm3: tuple[float, ...]
    intensity: float


def draw_mimics(rng: np.random.Generator) -> Mimics | None:
    """This case's white-matter hyperintensities, or None (a case without any)."""
    if rng.random() >= MIMIC_PROBABILITY:
        return None
    count = int(rng.integers(DEEP_COUNT[0], DEEP_COUNT[1] + 1))
    low, high = np.log(DEEP_VOLUME_MM3)
    return Mimics(
        band_mm=float(rng.uniform(*BAND_MM)),
        cap_mm=float(rng.uniform(*CAP_MM)),
        deep_volumes_mm3=tuple(float(v) for v in np.exp(rng.uniform(low, high, count))),
        intensity=float(rng.uniform(*INTENSITY)),
    )


def mimic_lesions(
    mimics: Mimics,
    white: np.ndarray,
    ventricles: np.ndarray,
    label: np.ndarray,
    scale: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Rasterise the lesions as a partial-volume weight map.

    Args:
        mimics: from draw_mimics.
        white: float32 [X, Y, Z] white-matter probability.
        ventricles: bool [X, Y, Z] (phantom_anatomy.case_ventricles).
        label: uint8 [X, Y, Z] tumour labels; lesions stay TUMOUR_MARGIN_MM away.
        scale: grid voxels per millimetre.
        rng: the source of all randomness (shapes and places).

    Returns:
        float32 [X, Y, Z] in [0, 1]: how much of each voxel is lesion; 0 within
        TUMOUR_MARGIN_MM of the tumour and outside white matter.
    """
    lesions = np.zeros(white.shape, dtype=np.float32)
    if ventricles.any():
        _periventricular(lesions, mimics, white, ventricles, scale, rng)
    clear = ~_near(label > 0, TUMOUR_MARGIN_MM * scale)
    for volume in mimics.deep_volumes_mm3:
        _deep_lesion(lesions, volume * scale**3, white, clear, rng)
    lesions *= clear
    lesions *= np.float32(mimics.intensity)
    return lesions


def _periventricular(
    lesions: np.ndarray,
    mimics: Mimics,
    white: np.ndarray,
    ventricles: np.ndarray,
    scale: float,
    rng: np.random.Generator,
) -> None:
    """Add the ventricles' lining (band plus caps at the horns) to `lesions`, in place."""
    reach = 1.5 * (mimics.band_mm + mimics.cap_mm) * scale + 2.0
    box = _box(ventricles, math.ceil(reach))
    inside = ventricles[box]
    distance_mm = (edt.edt(~inside).astype(np.float32) - np.float32(0.5)) / np.float32(scale)
    # Caps: thickness grows towards and beyond the ventricles' ends along Y (front/back).
    ys = np.flatnonzero(inside.any(axis=(0, 2)))
    middle, half = (ys[0] + ys[-1]) / 2.0, max((ys[-1] - ys[0]) / 2.0, 1.0)
    along = np.abs(np.arange(inside.shape[1], dtype=np.float32) - np.float32(middle)) / np.float32(half)
    cap = np.clip((along - 0.6) / 0.4, 0.0, 1.0)[None, :, None]
    noise = smooth_noise(inside.shape, max(8.0 * scale, 2.0), rng)[0]
    thickness = (mimics.band_mm + mimics.cap_mm * cap) * np.maximum(1.0 + 0.4 * noise, 0.0)
    weight = np.clip((thickness - distance_mm) * np.float32(scale) + 0.5, 0.0, 1.0) * white[box]
    weight[inside] = 0.0
    np.maximum(lesions[box], weight, out=lesions[box])


def _deep_lesion(
    lesions: np.ndarray, volume: float, white: np.ndarray, clear: np.ndarray, rng: np.random.Generator
) -> None:
    """Add one lobulated blob of about `volume` voxels, centred in clear white matter, in place."""
    radius = max((3.0 * volume / (4.0 * math.pi)) ** (1 / 3), 0.5)
    # Random voxels of the grid, the first in white matter (p > 0.8) away from the tumour.
    where = rng.integers(0, white.shape, size=(PLACEMENT_TRIES, 3))
    ok = (white[tuple(where.T)] > 0.8) & clear[tuple(where.T)]
    if not ok.any():
        return
    centre = where[np.argmax(ok)]
    frame = rotation_matrix(rng.uniform(-math.pi, math.pi, 3)) / np.exp(rng.normal(0.0, 0.2, 3))[:, None]
    half = math.ceil(1.6 * radius * np.exp(0.6)) + 1
    lo = np.maximum(centre - half, 0)
    hi = np.minimum(centre + half + 1, white.shape)
    box = tuple(slice(a, b) for a, b in zip(lo, hi))
    offsets = [np.arange(a, b, dtype=np.float32) - np.float32(c) for a, b, c in zip(lo, hi, centre)]
    x, y, z = offsets[0][:, None, None], offsets[1][None, :, None], offsets[2][None, None, :]
    distance2 = sum((row[0] * x + row[1] * y + row[2] * z) ** 2 for row in frame.astype(np.float32))
    noise = np.clip(smooth_noise(tuple(hi - lo), max(radius, 1.5), rng)[0], -2.0, 2.0)
    surface = radius * (1.0 + 0.3 * noise)
    weight = np.clip(surface - np.sqrt(distance2) + 0.5, 0.0, 1.0) * white[box]
    np.maximum(lesions[box], weight, out=lesions[box])


def _near(mask: np.ndarray, distance: float) -> np.ndarray:
    """bool [X, Y, Z]: voxels within `distance` voxels of `mask` (bool [X, Y, Z]), mask included."""
    near = np.zeros(mask.shape, dtype=bool)
    if not mask.any():
        return near
    box = _box(mask, math.ceil(distance) + 1)
    near[box] = edt.edt(~mask[box]) <= distance
    return near


def _box(mask: np.ndarray, margin: int) -> tuple[slice, slice, slice]:
    """The bounding box of `mask` (bool [X, Y, Z], not empty) grown by `margin` voxels."""
    lo, hi = [], []
    for axis in range(3):
        hits = np.flatnonzero(mask.any(axis=tuple(a for a in range(3) if a != axis)))
        lo.append(max(hits[0] - margin, 0))
        hi.append(min(hits[-1] + margin + 1, mask.shape[axis]))
    return tuple(slice(a, b) for a, b in zip(lo, hi))  # type: ignore[return-value]
