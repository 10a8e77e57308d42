"""MRI contrast for the phantoms: tissue and tumour maps to FLAIR, T1, T1ce and T2 images.

Each voxel mixes the mean intensities of CSF, grey and white matter by their
probabilities (partial volume), each modality with its own smooth texture. White-matter
hyperintensities (phantom_mimics), if any, replace the tissue by their weight. Tumour
classes replace the tissue through slightly blurred label indicators; oedema shows the
share of its contrast that phantom_oedema gives each voxel: fading from the core
outwards, weak in patches in some cases, and in most fading out over a few millimetres
across the label's edge. The image is then multiplied by a smooth low-order bias field
(10-20% either way), corrupted by Rician noise (the magnitude of the signal plus
complex Gaussian noise) and zeroed outside the brain, as in skull-stripped BraTS
images. Every case draws its own gain and small contrast changes, as scans from
different sites differ.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from benchmark.phantoms.noise import smooth_noise
from benchmark.phantoms.oedema import PARTIAL_VOLUME_SIGMA, draw_oedema_look, oedema_weight
from benchmark.phantoms.tumour import ENHANCING, NECROSIS, OEDEMA

MODALITIES = ("flair", "t1", "t1ce", "t2")
# Mean intensity per modality of CSF, grey matter, white matter, necrotic / non-enhancing
# core (label 1), enhancing tumour (4), oedema (2) and white-matter hyperintensity
# (unlabelled: bright on FLAIR and T2, slightly dark on T1, not enhancing), on a
# BraTS-like 0..1000 scale.
MEANS = {
    "flair": (100.0, 480.0, 380.0, 620.0, 720.0, 820.0, 760.0),
    "t1": (180.0, 420.0, 600.0, 200.0, 380.0, 420.0, 510.0),
    "t1ce": (200.0, 430.0, 560.0, 180.0, 950.0, 400.0, 540.0),
    "t2": (950.0, 520.0, 380.0, 880.0, 600.0, 780.0, 760.0),
}
LESION = 6  # column of MEANS
TISSUE_TEXTURE = 0.04
TUMOUR_TEXTURE = {NECROSIS: 0.12, ENHANCING: 0.15, OEDEMA: 0.08}
BIAS = (0.10, 0.20)
NOISE = (0.02, 0.045)  # Rician sigma as a fraction of the white-matter intensity


def synthesize(
    tissue: np.ndarray,
    brain: np.ndarray,
    label: np.ndarray,
    oedema_strength: np.ndarray,
    scale: float,
    rng: np.random.Generator,
    lesions: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """The four BraTS modalities of one case.

    Args:
        tissue: float32 [3, X, Y, Z]: grey-matter, white-matter and brain probabilities.
        brain: bool [X, Y, Z] brain mask; every image is 0 outside it.
        label: uint8 [X, Y, Z], BraTS 2018 labels {0, 1, 2, 4}, inside `brain`.
        oedema_strength: float32 [X, Y, Z] in [0, 1] (see phantom_tumour.rasterise).
        scale: grid voxels per millimetre (sets texture and oedema edge scales).
        rng: the source of all randomness.
        lesions: float32 [X, Y, Z] in [0, 1], white-matter hyperintensity per voxel
            (phantom_mimics.mimic_lesions), outside the tumour; None: none.

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
    if lesions is not None:
        weight = lesions[box][mask]
        lesion = means[:, LESION, None].astype(np.float32) * (1.0 + TISSUE_TEXTURE * texture)
        values += weight * (lesion - values)

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

    The core classes weigh in through their blurred indicators (partial volume), oedema
    fills what they leave with the share of its contrast phantom_oedema gives (part of
    the tissue shows through), each class with its own texture.
    """
    look = draw_oedema_look(rng)
    # Brain-voxel number of each voxel of the brain's box, -1 outside the brain.
    number = np.full(mask.shape, -1, dtype=np.int64)
    number[mask] = np.arange(values.shape[1])
    tumour_box = _bounding_box(label[box] > 0, margin=3 + int(np.ceil(look.reach_mm * scale)))
    crop = label[box][tumour_box]
    inside = mask[tumour_box]
    voxels = number[tumour_box][inside]

    classes = (NECROSIS, ENHANCING, OEDEMA)
    core = [
        ndimage.gaussian_filter((crop == cls).astype(np.float32), PARTIAL_VOLUME_SIGMA)[inside] for cls in classes[:2]
    ]
    oedema = oedema_weight(crop, oedema_strength[box][tumour_box], look, scale, rng)[inside]
    weights = np.stack([*core, oedema * np.clip(1.0 - core[0] - core[1], 0.0, 1.0)])
    texture = smooth_noise(crop.shape, max(4.0 * scale, 1.5), rng, channels=3)[:, inside]
    amplitude = np.array([TUMOUR_TEXTURE[cls] for cls in classes], dtype=np.float32)[:, None]
    tumour = means[:, 3:6].astype(np.float32) @ (weights * (1.0 + amplitude * texture))
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
