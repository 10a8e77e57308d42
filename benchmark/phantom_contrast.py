"""MRI contrast for the phantoms: tissue and tumour maps to FLAIR, T1, T1ce and T2 images.

Each voxel mixes the mean intensities of CSF, grey and white matter by their
probabilities (partial volume), each modality with its own smooth texture. Tumour
classes replace the tissue through slightly blurred label indicators; oedema keeps part
of the tissue beneath it, its contrast fading from the core outwards. The image is then
multiplied by a smooth low-order bias field (10-20% either way), corrupted by Rician
noise (the magnitude of the signal plus complex Gaussian noise) and zeroed outside the
brain, as in skull-stripped BraTS images. Every case draws its own gain and small
contrast changes, as scans from different sites differ.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from benchmark.phantom_noise import smooth_noise
from benchmark.phantom_tumour import ENHANCING, NECROSIS, OEDEMA

MODALITIES = ("flair", "t1", "t1ce", "t2")
# Mean intensity per modality of CSF, grey matter, white matter, necrotic / non-enhancing
# core (label 1), enhancing tumour (4) and oedema (2), on a BraTS-like 0..1000 scale.
MEANS = {
    "flair": (100.0, 480.0, 380.0, 620.0, 720.0, 820.0),
    "t1": (180.0, 420.0, 600.0, 200.0, 380.0, 420.0),
    "t1ce": (200.0, 430.0, 560.0, 180.0, 950.0, 400.0),
    "t2": (950.0, 520.0, 380.0, 880.0, 600.0, 780.0),
}
TISSUE_TEXTURE = 0.04
TUMOUR_TEXTURE = {NECROSIS: 0.12, ENHANCING: 0.15, OEDEMA: 0.08}
BIAS = (0.10, 0.20)
NOISE = (0.02, 0.045)  # Rician sigma as a fraction of the white-matter intensity
PARTIAL_VOLUME_SIGMA = 0.6  # voxels


def synthesize(
    tissue: np.ndarray,
    brain: np.ndarray,
    label: np.ndarray,
    oedema_strength: np.ndarray,
    scale: float,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """The four BraTS modalities of one case.

    Args:
        tissue: float32 [3, X, Y, Z]: grey-matter, white-matter and brain probabilities.
        brain: bool [X, Y, Z] brain mask; every image is 0 outside it.
        label: uint8 [X, Y, Z], BraTS 2018 labels {0, 1, 2, 4}, inside `brain`.
        oedema_strength: float32 [X, Y, Z] in [0, 1] (see phantom_tumour.rasterise).
        scale: grid voxels per millimetre (sets texture scales).
        rng: the source of all randomness.

    Returns:
        modality name -> float32 [X, Y, Z], >= 0, in the order of MODALITIES.
    """
    # Work on the brain's voxels only, as vectors: [modality, voxel].
    box = _bounding_box(brain)
    mask = brain[box]
    grey, white, inside = (t[box][mask] for t in tissue)
    csf = np.clip(inside - grey - white, 0.0, 1.0)
    fractions = np.stack([csf, grey, white]) / np.maximum(csf + grey + white, 1e-3)

    means = np.array([MEANS[name] for name in MODALITIES]) * rng.uniform(0.8, 1.2)
    means *= rng.uniform(0.92, 1.08, means.shape)
    texture = smooth_noise(mask.shape, max(8.0 * scale, 1.5), rng, channels=len(MODALITIES))[:, mask]
    values = (means[:, :3].astype(np.float32) @ fractions) * (1.0 + TISSUE_TEXTURE * texture)

    if label.any():
        _blend_tumour(values, box, mask, label, oedema_strength, means, scale, rng)

    values *= _bias_fields(np.nonzero(mask), mask.shape, rng)
    sigma = (rng.uniform(*NOISE, len(MODALITIES)) * means[:, 2]).astype(np.float32)[:, None]
    real = values + sigma * rng.standard_normal(values.shape, dtype=np.float32)
    imaginary = sigma * rng.standard_normal(values.shape, dtype=np.float32)
    magnitude = np.sqrt(real * real + imaginary * imaginary)

    images = {}
    for name, channel in zip(MODALITIES, magnitude):
        image = np.zeros(brain.shape, dtype=np.float32)
        image[box][mask] = channel
        images[name] = image
    return images


def _bounding_box(mask: np.ndarray, margin: int = 0) -> tuple[slice, slice, slice]:
    """The smallest box around `mask` (bool [X, Y, Z]) grown by `margin`, as slices."""
    found = np.argwhere(mask)
    if found.size == 0:
        raise ValueError("phantom: empty brain mask; the grid is too small for the template")
    lo = np.maximum(found.min(axis=0) - margin, 0)
    hi = np.minimum(found.max(axis=0) + margin + 1, mask.shape)
    return tuple(slice(a, b) for a, b in zip(lo, hi))  # type: ignore[return-value]


def _blend_tumour(
    values: np.ndarray,
    box: tuple[slice, slice, slice],
    mask: np.ndarray,
    label: np.ndarray,
    oedema_strength: np.ndarray,
    means: np.ndarray,
    scale: float,
    rng: np.random.Generator,
) -> None:
    """Replace tissue by tumour in `values` (float32 [modality, brain voxel]), in place.

    Each class weighs in through its blurred indicator (partial volume), with its own
    texture; oedema's weight is scaled by 0.5-1 with its strength, so part of the
    tissue shows through and its contrast fades outwards.
    """
    # Brain-voxel number of each voxel of the brain's box, -1 outside the brain.
    number = np.full(mask.shape, -1, dtype=np.int64)
    number[mask] = np.arange(values.shape[1])
    tumour_box = _bounding_box(label[box] > 0, margin=3)
    crop = label[box][tumour_box]
    inside = mask[tumour_box]
    voxels = number[tumour_box][inside]

    classes = (NECROSIS, ENHANCING, OEDEMA)
    weights = np.stack(
        [ndimage.gaussian_filter((crop == cls).astype(np.float32), PARTIAL_VOLUME_SIGMA)[inside] for cls in classes]
    )
    # Strength is 0 just outside the oedema, where the blur still leaves some weight.
    strength = ndimage.gaussian_filter(oedema_strength[box][tumour_box], PARTIAL_VOLUME_SIGMA)[inside]
    weights[2] *= 0.5 + 0.5 * strength
    texture = smooth_noise(crop.shape, max(4.0 * scale, 1.5), rng, channels=3)[:, inside]
    amplitude = np.array([TUMOUR_TEXTURE[cls] for cls in classes], dtype=np.float32)[:, None]
    tumour = means[:, 3:].astype(np.float32) @ (weights * (1.0 + amplitude * texture))
    values[:, voxels] = values[:, voxels] * (1.0 - weights.sum(axis=0)) + tumour


def _bias_fields(voxels: tuple[np.ndarray, ...], shape: tuple[int, int, int], rng: np.random.Generator) -> np.ndarray:
    """float32 [modality, voxel]: exp of a random polynomial of degree <= 2 per modality,
    spanning 10-20% either way over the brain.

    Args:
        voxels: (x, y, z) int arrays [N], positions in a box of `shape`.
    """
    x, y, z = (np.float32(2.0 / max(n - 1, 1)) * v.astype(np.float32) - np.float32(1.0) for v, n in zip(voxels, shape))
    fields = []
    for c in rng.normal(0.0, 1.0, (len(MODALITIES), 9)).astype(np.float32):
        # c0 x + c1 y + c2 z + c3 x^2 + c4 y^2 + c5 z^2 + c6 xy + c7 yz + c8 xz, factored.
        log_field = (c[3] * x + c[6] * y + c[8] * z + c[0]) * x
        log_field += (c[4] * y + c[7] * z + c[1]) * y + (c[5] * z + c[2]) * z
        log_field -= log_field.mean()
        log_field *= np.float32(np.log1p(rng.uniform(*BIAS)) / max(float(np.abs(log_field).max()), 1e-6))
        fields.append(np.exp(log_field))
    return np.stack(fields)
