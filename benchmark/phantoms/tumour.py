"""Glioma-like tumour foci for the phantoms: parameters first, then rasterised labels.

A focus is an ellipsoid with a noise-perturbed radius. Inside the core radius lies the
tumour core: a necrotic centre (label 1) within an enhancing rim a few voxels thick
(label 4); part of the rim may not enhance (label 1), small foci are solid (all rim),
and some foci do not enhance at all (all label 1, like a lower-grade tumour). Oedema
(label 2) reaches further from the core surface, farther along white matter than grey
matter and not into CSF: a voxel is oedema when its distance beyond the core is below
a reach scaled by the local white-matter probability and by smooth noise, and when it
connects to the core. Sizes are drawn as whole-tumour volumes, log-uniform.

BraTS 2018 labels: 0 background, 1 necrotic / non-enhancing core, 2 oedema, 4 enhancing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import cc3d
import numpy as np
from scipy import ndimage

from benchmark.phantoms.anatomy import Deformation, Template, rotation_matrix
from benchmark.phantoms.noise import smooth_noise

NECROSIS, OEDEMA, ENHANCING = 1, 2, 4
FOCI_PROBABILITIES = (0.7, 0.2, 0.1)  # one, two or three foci
MAIN_VOLUME_CM3 = (10.0, 150.0)  # whole tumour of the first focus, at 1 mm voxels (BraTS: median ~60-100)
SATELLITE_VOLUME_CM3 = (1.0, 30.0)
RIM_MM = (1.5, 4.5)
NON_ENHANCING_PROBABILITY = 0.15
RIM_GAP_PROBABILITY = 0.4


@dataclass(frozen=True, eq=False)
class Focus:
    """One tumour focus, in voxels of the output grid.

    Attributes:
        centre: float64 [3], position (x, y, z).
        orientation: float64 [3, 3], rotation into the focus' own axes.
        elongation: float64 [3], stretch of those axes (geometric mean 1).
        core_radius: mean radius of the tumour core.
        necrosis_radius: mean radius of the necrotic centre; 0 for a solid focus.
        oedema_reach: how far oedema reaches beyond the core in pure white matter.
        enhancing: whether the core has an enhancing rim.
        rim_gap: fraction of the rim that does not enhance, in [0, 1).
        roughness: relative amplitude of the core surface noise.
        oedema_roughness: relative amplitude of the oedema reach noise.
        push: mass effect strength in [0, 1) (see phantom_anatomy.push_away).
    """

    centre: np.ndarray
    orientation: np.ndarray
    elongation: np.ndarray
    core_radius: float
    necrosis_radius: float
    oedema_reach: float
    enhancing: bool
    rim_gap: float
    roughness: float
    oedema_roughness: float
    push: float

    @property
    def push_radius(self) -> float:
        """Width (voxels) of the mass effect around the focus."""
        return 1.5 * self.core_radius

    @property
    def extent(self) -> float:
        """A radius (voxels) around the centre that contains every voxel the focus can label."""
        return float(self.elongation.max() * (1.9 * self.core_radius + 3.2 * self.oedema_reach) + 2.0)


def draw_focus(volume_cm3: float, scale: float, rng: np.random.Generator) -> Focus:
    """Random shape parameters of a focus of about `volume_cm3` whole tumour (centre at 0).

    Args:
        volume_cm3: whole-tumour volume at 1 mm voxels.
        scale: grid voxels per millimetre; volumes shrink with its cube.
        rng: the source of all randomness.
    """
    volume = volume_cm3 * 1000.0 * scale**3
    core_fraction = rng.uniform(0.1, 0.5)
    core_radius = max((3.0 * core_fraction * volume / (4.0 * math.pi)) ** (1 / 3), 0.8)
    whole_radius = (3.0 * volume / (4.0 * math.pi)) ** (1 / 3)
    rim = max(rng.uniform(*RIM_MM) * scale, 1.0)
    solid = rng.random() < 0.1 or core_radius < 1.8 * rim
    enhancing = rng.random() >= NON_ENHANCING_PROBABILITY
    rim_gap = rng.uniform(0.15, 0.45) if rng.random() < RIM_GAP_PROBABILITY else 0.0
    elongation = np.exp(rng.normal(0.0, 0.15, 3))
    return Focus(
        centre=np.zeros(3),
        orientation=rotation_matrix(rng.uniform(-math.pi, math.pi, 3)),
        elongation=elongation / np.prod(elongation) ** (1 / 3),
        core_radius=core_radius,
        necrosis_radius=0.0 if solid else core_radius - rim,
        oedema_reach=max(whole_radius - core_radius, 1.0),
        enhancing=enhancing,
        rim_gap=rim_gap,
        roughness=rng.uniform(0.1, 0.3),
        oedema_roughness=rng.uniform(0.25, 0.5),
        push=rng.uniform(0.0, 0.4),
    )


def draw_foci(scale: float, rng: np.random.Generator) -> list[Focus]:
    """Shape parameters of one to three foci (centres not yet placed)."""
    count = 1 + int(rng.choice(len(FOCI_PROBABILITIES), p=FOCI_PROBABILITIES))
    volumes = [_log_uniform(MAIN_VOLUME_CM3, rng)] + [_log_uniform(SATELLITE_VOLUME_CM3, rng) for _ in range(count - 1)]
    return [draw_focus(volume, scale, rng) for volume in volumes]


def _log_uniform(bounds: tuple[float, float], rng: np.random.Generator) -> float:
    return float(np.exp(rng.uniform(np.log(bounds[0]), np.log(bounds[1]))))


def place_foci(
    foci: list[Focus], template: Template, deformation: Deformation, rng: np.random.Generator
) -> list[Focus]:
    """Give each focus a centre in white matter, deep enough for its core, apart from the others.

    Candidates are drawn uniformly in the deformation's box and judged on the template
    at the position the deformation maps them to. A focus that finds no place is
    shrunk and tried again.

    Args:
        foci: from draw_foci.
        template: the placed template (tissue, depth).
        deformation: this case's deformation of the template.
        rng: the source of all randomness.
    """
    placed: list[Focus] = []
    for focus in foci:
        for _ in range(12):
            centre = _find_centre(focus, placed, template, deformation, rng)
            if centre is not None:
                placed.append(replace(focus, centre=centre))
                break
            focus = _shrunk(focus, 0.75)
        else:
            raise ValueError(
                f"no room for a tumour focus in a grid of shape {template.depth.shape}; use a larger shape"
            )
    return placed


def _find_centre(
    focus: Focus,
    placed: list[Focus],
    template: Template,
    deformation: Deformation,
    rng: np.random.Generator,
    tries: int = 256,
) -> np.ndarray | None:
    coordinates = deformation.coordinates
    local = rng.integers(0, coordinates.shape[:3], size=(tries, 3))
    where = coordinates[local[:, 0], local[:, 1], local[:, 2]]
    index = tuple(np.clip(np.rint(where).astype(int), 0, np.asarray(template.depth.shape) - 1).T)
    candidates = local + deformation.origin
    ok = (template.tissue[1][index] > 0.5) & (
        template.depth[index] >= 1.2 * focus.core_radius * focus.elongation.max() + 1.0
    )
    for other in placed:
        gap = np.linalg.norm(candidates - other.centre, axis=1)
        ok &= gap > focus.core_radius + other.core_radius + 1.0
    hits = np.flatnonzero(ok)
    return candidates[hits[0]].astype(np.float64) if hits.size else None


def _shrunk(focus: Focus, factor: float) -> Focus:
    return replace(
        focus,
        core_radius=max(focus.core_radius * factor, 0.8),
        necrosis_radius=focus.necrosis_radius * factor if focus.necrosis_radius * factor >= 1.0 else 0.0,
        oedema_reach=max(focus.oedema_reach * factor, 1.0),
    )


def rasterise(
    foci: list[Focus], grey: np.ndarray, white: np.ndarray, brain: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Label maps of the foci on the deformed anatomy.

    Args:
        foci: placed foci.
        grey, white: float32 [X, Y, Z] tissue probabilities.
        brain: bool [X, Y, Z] brain mask; labels stay inside it.
        rng: the source of all randomness (shape noise).

    Returns:
        label: uint8 [X, Y, Z] with values in {0, 1, 2, 4}; a core overrides another
            focus' oedema.
        oedema_strength: float32 [X, Y, Z] in [0, 1]: 1 at the core surface falling to 0
            at the oedema's edge (0 outside oedema).
    """
    label = np.zeros(brain.shape, dtype=np.uint8)
    strength = np.zeros(brain.shape, dtype=np.float32)
    for focus in foci:
        box = _box(focus, brain.shape)
        core, oedema, focus_strength = _focus_labels(focus, box, grey[box], white[box], brain[box], rng)
        crop, crop_strength = label[box], strength[box]
        new_oedema = oedema & (crop == 0)
        crop[new_oedema] = OEDEMA
        np.maximum(crop_strength, np.where(new_oedema, focus_strength, 0), out=crop_strength)
        crop[core > 0] = core[core > 0]
        crop_strength[core > 0] = 0
    return label, strength


def _box(focus: Focus, shape: tuple[int, ...]) -> tuple[slice, slice, slice]:
    reach = math.ceil(focus.extent)
    lo = np.maximum(np.floor(focus.centre).astype(int) - reach, 0)
    hi = np.minimum(np.floor(focus.centre).astype(int) + reach + 1, shape)
    return tuple(slice(a, b) for a, b in zip(lo, hi))  # type: ignore[return-value]


def _focus_labels(
    focus: Focus,
    box: tuple[slice, slice, slice],
    grey: np.ndarray,
    white: np.ndarray,
    brain: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """uint8 core labels (0, 1, 4), bool oedema and float32 oedema strength on the focus' box."""
    shape = brain.shape
    offsets = [np.arange(s.start, s.stop, dtype=np.float32) - np.float32(c) for s, c in zip(box, focus.centre)]
    # Distance from the centre in the focus' own (rotated, stretched) frame.
    frame = (focus.orientation / focus.elongation[:, None]).astype(np.float32)
    radius2 = np.zeros(shape, dtype=np.float32)
    x, y, z = offsets[0][:, None, None], offsets[1][None, :, None], offsets[2][None, None, :]
    for row in frame:
        axis = row[0] * x + row[1] * y + row[2] * z
        radius2 += axis * axis
    radius = np.sqrt(radius2)

    core_noise = smooth_noise(shape, max(1.5, 0.7 * focus.core_radius), rng, channels=3)
    oedema_noise = smooth_noise(shape, max(2.0, 0.5 * (focus.core_radius + focus.oedema_reach)), rng)[0]
    np.clip(core_noise, -3.0, 3.0, out=core_noise)
    np.clip(oedema_noise, -3.0, 3.0, out=oedema_noise)

    core_surface = focus.core_radius * (1.0 + focus.roughness * core_noise[0])
    core = (radius < core_surface) & brain
    centre_voxel = tuple(int(c) - s.start for c, s in zip(np.floor(focus.centre), box))
    core[centre_voxel] = brain[centre_voxel]  # even the smallest focus keeps a voxel
    labels = np.zeros(shape, dtype=np.uint8)
    labels[core] = ENHANCING if focus.enhancing else NECROSIS
    if focus.necrosis_radius > 0:
        necrosis = core & (radius < focus.necrosis_radius * (1.0 + 1.5 * focus.roughness * core_noise[1]))
        labels[necrosis] = NECROSIS
    if focus.rim_gap > 0:
        gap = core_noise[2] > np.quantile(core_noise[2][core], 1.0 - focus.rim_gap)
        labels[gap & (labels == ENHANCING)] = NECROSIS

    csf = np.clip(brain.astype(np.float32) - grey - white, 0.0, 1.0)
    affinity = (0.25 + 1.0 * ndimage.gaussian_filter(white, 1.0)) * (1.0 - csf)
    reach = focus.oedema_reach * affinity * np.maximum(1.0 + focus.oedema_roughness * oedema_noise, 0.0)
    beyond = radius - core_surface
    oedema = (beyond < reach) & brain & ~core
    components = cc3d.connected_components(oedema | core, connectivity=6)
    attached = np.unique(components[core])
    oedema &= np.isin(components, attached[attached > 0])
    strength = np.where(oedema, 1.0 - beyond / np.maximum(reach, 1e-3), 0.0).astype(np.float32)
    return labels, oedema, np.clip(strength, 0.0, 1.0)
