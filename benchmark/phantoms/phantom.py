"""BraTS-like synthetic cases: the data set simedit ships with, generated, never downloaded.

The generative model, one case:

1. Anatomy. The MNI152 2009a grey/white-matter probability maps and brain mask that
   ship inside nilearn are centred in the grid and scaled to fit it (never enlarged:
   ~1 mm at BraTS' 240x240x155, a small head in a small grid). Each case warps them
   through its own smooth deformation: rotation of a few degrees, per-axis scaling
   within 8%, a small shift and a smooth random displacement (phantom_anatomy).
2. Tumour. One to three foci (70/20/10%), whole-tumour volumes log-uniform in 10-150 cm^3
   (satellites 1-30 cm^3), scaled by the cube of the grid's voxels per mm, centred in
   white matter. Each is an irregular ellipsoid: a necrotic core (label 1) inside an
   enhancing rim (label 4), the rim sometimes partly non-enhancing, small foci solid and
   some foci not enhancing at all; oedema (label 2) reaching further along white matter
   than grey matter; tissue pushed outwards around it (mass effect) (phantom_tumour).
3. Mimics. In 60% of the cases, white-matter hyperintensities that are not labelled:
   a band lining the ventricles, thicker at their front and back ends (caps), and up
   to six deep white-matter blobs of 20-3000 mm^3 (scaled like the tumour), all in
   white matter and at least 10 mm from the tumour (phantom_mimics). The ventricles
   are deep CSF found once on the template (phantom_anatomy).
4. Contrast. Tissue means mixed by partial volume, the mimics blended in (bright on
   FLAIR and T2, slightly dark on T1, not enhancing), tumour classes blended in,
   texture, a smooth bias field per modality, Rician noise, zero outside the brain
   (phantom_contrast). The oedema shows a share of its contrast (phantom_oedema):
   fading from the core outwards; in 70% of the cases also fading out over 3-8 mm
   across its edge, the label's boundary somewhere on that ramp (unclear boundary);
   in 60% lowered in smooth patches covering 20-50% of the oedema, at the weakest to
   near normal white matter (weak infiltration).

These are the errors an automatic segmentation makes on real BraTS and the seed
paper's tools fix: a mimic taken for tumour or a weak patch missed (selection click),
a boundary error where the intensity changes (brush), a boundary drawn a little too
far out or in all round (adjustment).

Everything random comes from the generator passed in, so a shape and a seed give the
same arrays bit for bit; `phantom_rng(seed, index)` gives case `index` of a data set its
own independent stream.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from benchmark.phantoms.anatomy import case_ventricles, grid_template, push_away, random_deformation, warp
from benchmark.phantoms.contrast import synthesize
from benchmark.phantoms.mimics import draw_mimics, mimic_lesions
from benchmark.phantoms.tumour import draw_foci, place_foci, rasterise

MIN_SIZE = 16  # voxels per axis below which no brain with a tumour fits


@dataclass(frozen=True, eq=False)
class Phantom:
    """One synthetic case.

    Attributes:
        case_id: identifier of the case.
        modalities: "flair", "t1", "t1ce", "t2" -> float32 [X, Y, Z], >= 0, 0 outside the brain.
        label: uint8 [X, Y, Z], BraTS 2018 labels: 0 background, 1 necrotic core /
            non-enhancing tumour, 2 oedema, 4 enhancing tumour.
        affine: float64 [4, 4], 1 mm isotropic RAS (identity rotation), grid centre at
            the world origin.
    """

    case_id: str
    modalities: dict[str, np.ndarray]
    label: np.ndarray
    affine: np.ndarray


def phantom_rng(seed: int, index: int) -> np.random.Generator:
    """The random stream of case `index` of the data set `seed`.

    Streams of different indices are independent (numpy SeedSequence spawn keys), and
    a stream depends only on (seed, index): not on how many cases were made before it,
    in which process or order.
    """
    for name, value in (("seed", seed), ("index", index)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 0:
            raise ValueError(f"phantom_rng: {name} must be a non-negative integer, got {value!r}")
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(int(seed), spawn_key=(int(index),))))


def make_phantom(shape: tuple[int, int, int], rng: np.random.Generator, case_id: str = "phantom") -> Phantom:
    """Generate one BraTS-like case.

    Args:
        shape: (X, Y, Z) grid size in voxels, each at least 16; BraTS is (240, 240, 155).
        rng: the source of all randomness (e.g. phantom_rng(seed, index)).
        case_id: identifier stored on the phantom.

    Returns:
        A Phantom whose arrays all have `shape`.
    """
    shape = _checked_shape(shape)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"make_phantom: rng must be a numpy.random.Generator, got {type(rng).__name__}")
    template = grid_template(shape)
    foci = draw_foci(template.scale, rng)
    # Room for the mass effect to move the brain's surface out (see push_away).
    margin = max(focus.push * focus.push_radius * math.exp(-0.5) for focus in foci)
    deformation = random_deformation(template, shape, rng, margin=margin)
    foci = place_foci(foci, template, deformation, rng)
    for focus in foci:
        push_away(deformation, focus.centre, focus.push_radius, focus.push)
    tissue = warp(template, deformation)
    brain = tissue[2] > 0.5
    label, oedema_strength = rasterise(foci, tissue[0], tissue[1], brain, rng)
    mimics = draw_mimics(rng)
    lesions = None
    if mimics is not None:
        ventricles = case_ventricles(template, deformation, tissue)
        lesions = mimic_lesions(mimics, tissue[1], ventricles, label, template.scale, rng)
    modalities = synthesize(tissue, brain, label, oedema_strength, template.scale, rng, lesions=lesions)
    affine = np.eye(4)
    affine[:3, 3] = -(np.asarray(shape) - 1) / 2.0
    return Phantom(case_id, modalities, label, affine)


def _checked_shape(shape) -> tuple[int, int, int]:
    try:
        checked = tuple(int(n) for n in shape)
    except (TypeError, ValueError):
        raise ValueError(f"make_phantom: shape must be three integers (X, Y, Z), got {shape!r}") from None
    if len(checked) != 3 or min(checked) < MIN_SIZE or any(c != n for c, n in zip(checked, shape)):
        raise ValueError(f"make_phantom: shape must be three integers >= {MIN_SIZE} (X, Y, Z), got {shape!r}")
    return checked  # type: ignore[return-value]
