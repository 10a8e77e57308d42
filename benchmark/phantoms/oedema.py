"""How much of the oedema's contrast each voxel shows: unclear edges and weak patches.

Oedema and tumour infiltration do not stop at a line: their FLAIR/T2 excess fades out
over a few millimetres, and an annotator draws the label somewhere on that ramp. In
UNCLEAR_PROBABILITY of the cases the contrast falls linearly with the signed distance
to the tumour's outer boundary over RAMP_MM, and the boundary sits where the ramp has
`label_level` of its height: low, the label reaches beyond what is visible; high, the
signal reaches beyond the label. The other cases have a crisp edge. Within the oedema
the contrast also fades from the core outwards, to half of it at the label's edge.

In WEAK_PROBABILITY of the cases, infiltration is weak in patches: a smooth random field
lowers the contrast of `weak_fraction` of the oedema by up to `weak_depth`, at the
weakest close to normal white matter. Parameters are drawn first (draw_oedema_look),
then applied (oedema_weight).
"""

from __future__ import annotations

from dataclasses import dataclass

import edt
import numpy as np
from scipy import ndimage

from benchmark.phantoms.noise import smooth_noise
from benchmark.phantoms.tumour import OEDEMA

UNCLEAR_PROBABILITY = 0.7
RAMP_MM = (3.0, 8.0)
LABEL_LEVEL = (0.15, 0.85)
WEAK_PROBABILITY = 0.6
WEAK_FRACTION = (0.2, 0.5)
WEAK_DEPTH = (0.6, 0.95)
WEAK_LENGTH_MM = 12.0  # correlation length of the weak patches' field
PARTIAL_VOLUME_SIGMA = 0.6  # voxels


@dataclass(frozen=True)
class OedemaLook:
    """How one case's oedema shows its contrast.

    Attributes:
        ramp_mm: width over which the contrast fades out at the tumour's edge; 0: crisp.
        label_level: height of the ramp (0..1) at the label's boundary.
        weak_fraction: share of the oedema in weak patches; 0: none.
        weak_depth: fraction of the contrast the weakest patches lose.
    """

    ramp_mm: float
    label_level: float
    weak_fraction: float
    weak_depth: float

    @property
    def reach_mm(self) -> float:
        """How far beyond the label the contrast still shows."""
        return self.ramp_mm * self.label_level


def draw_oedema_look(rng: np.random.Generator) -> OedemaLook:
    """Random edge and patchiness of one case's oedema."""
    unclear = rng.random() < UNCLEAR_PROBABILITY
    ramp, level = float(rng.uniform(*RAMP_MM)), float(rng.uniform(*LABEL_LEVEL))
    weak = rng.random() < WEAK_PROBABILITY
    fraction, depth = float(rng.uniform(*WEAK_FRACTION)), float(rng.uniform(*WEAK_DEPTH))
    return OedemaLook(
        ramp_mm=ramp if unclear else 0.0,
        label_level=level if unclear else 0.5,
        weak_fraction=fraction if weak else 0.0,
        weak_depth=depth if weak else 0.0,
    )


def oedema_weight(
    label: np.ndarray, strength: np.ndarray, look: OedemaLook, scale: float, rng: np.random.Generator
) -> np.ndarray:
    """The fraction of the oedema's contrast each voxel shows, partial volume included.

    Args:
        label: uint8 [X, Y, Z] BraTS labels; a crop that leaves at least
            look.reach_mm * scale + 2 voxels around the tumour.
        strength: float32 [X, Y, Z] in [0, 1]: 1 at the core's surface falling to 0 at
            the oedema's edge (phantom_tumour.rasterise).
        look: from draw_oedema_look.
        scale: grid voxels per millimetre.
        rng: the source of all randomness (the weak patches' field).

    Returns:
        float32 [X, Y, Z] in [0, 1]; the tumour core's voxels are included (the caller
        gives them to the core classes).
    """
    tumour = label > 0
    outside = edt.edt(~tumour).astype(np.float32)
    inside = edt.edt(tumour).astype(np.float32)
    signed_mm = np.where(tumour, 0.5 - inside, outside - 0.5) / np.float32(scale)
    if look.ramp_mm > 0:
        edge = np.clip(look.label_level - signed_mm / np.float32(look.ramp_mm), 0.0, 1.0)
    else:
        edge = tumour.astype(np.float32)
    weight = edge * (0.5 + 0.5 * strength)
    if look.weak_fraction > 0 and (label == OEDEMA).any():
        field = smooth_noise(label.shape, max(WEAK_LENGTH_MM * scale, 2.0), rng)[0]
        threshold = np.quantile(field[label == OEDEMA], 1.0 - look.weak_fraction)
        weak = np.clip((field - threshold) / 0.6 + 0.5, 0.0, 1.0)
        weight *= 1.0 - np.float32(look.weak_depth) * weak
    return np.clip(ndimage.gaussian_filter(weight, PARTIAL_VOLUME_SIGMA), 0.0, 1.0)
