"""The anatomy (benchmark/phantoms/anatomy.py): the fitted template, its deformation, the ventricles."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.phantoms.anatomy import (
    VENTRICLE_DEPTH_MM,
    case_ventricles,
    fit_scale,
    grid_template,
    push_away,
    random_deformation,
    template_folder,
    warp,
)
from benchmark.phantoms.phantom import phantom_rng
from tests.benchmark.phantoms.helpers import SHAPE


def test_template_is_local_cached_and_fits_the_grid():
    assert "nilearn" in str(template_folder())
    small = grid_template(SHAPE)
    assert grid_template(SHAPE) is small
    assert not small.tissue.flags.writeable
    brain = small.tissue[2] > 0.5
    # Scaled to fit with a margin: no brain on the grid's faces.
    assert not (brain[0].any() or brain[-1].any() or brain[:, 0].any() or brain[:, -1].any())
    assert not (brain[:, :, 0].any() or brain[:, :, -1].any())
    assert 0.15 < small.scale < 0.25
    # BraTS' grid keeps about 1 mm voxels; a big grid never enlarges the brain.
    assert 0.94 < fit_scale((240, 240, 155)) < 1.0
    assert fit_scale((300, 300, 300)) == 1.0


def test_deformation_box_holds_the_whole_brain():
    template = grid_template(SHAPE)
    for index in range(6):
        deformation = random_deformation(template, SHAPE, phantom_rng(11, index))
        brain = warp(template, deformation)[2] > 0.5
        outside = np.ones(SHAPE, dtype=bool)
        outside[deformation.box] = False
        assert not brain[outside].any()
        # Its faces are empty too, unless they are the grid's own.
        inner = brain[deformation.box]
        for axis, cut in enumerate(deformation.box):
            if cut.start > 0:
                assert not inner.take(0, axis=axis).any()
            if cut.stop < SHAPE[axis]:
                assert not inner.take(-1, axis=axis).any()


def test_deformation_varies_size_and_keeps_brain_volume_plausible():
    template = grid_template(SHAPE)
    reference = (template.tissue[2] > 0.5).sum()
    volumes = []
    for index in range(6):
        deformation = random_deformation(template, SHAPE, phantom_rng(12, index))
        volumes.append((warp(template, deformation)[2] > 0.5).sum() / reference)
    assert 0.75 < min(volumes) and max(volumes) < 1.3
    assert max(volumes) - min(volumes) > 0.02


def test_push_away_moves_samples_towards_the_centre():
    template = grid_template(SHAPE)
    deformation = random_deformation(template, SHAPE, phantom_rng(0, 0))
    before = deformation.coordinates.copy()
    centre = deformation.origin + np.asarray(deformation.coordinates.shape[:3]) // 2
    push_away(deformation, centre, radius=3.0, strength=0.3)
    moved = np.abs(deformation.coordinates - before).max(axis=-1)
    local = centre - deformation.origin
    assert moved[tuple(local)] == 0  # the centre itself stays
    assert moved[local[0] + 3, local[1], local[2]] == pytest.approx(0.3 * 3 * np.exp(-0.5), rel=1e-4)
    assert moved[local[0] + 3, local[1], local[2]] > moved[local[0] + 8, local[1], local[2]]
    with pytest.raises(ValueError, match="strength"):
        push_away(deformation, centre, radius=3.0, strength=1.0)


def test_ventricles_are_deep_csf_of_a_plausible_volume():
    shape = (96, 96, 64)
    template = grid_template(shape)
    ventricles = template.ventricles
    volume_cm3 = ventricles.sum() / template.scale**3 / 1000.0
    assert 8.0 < volume_cm3 < 40.0  # adult lateral ventricles ~10-30 cm^3
    assert template.depth[ventricles].min() >= VENTRICLE_DEPTH_MM * template.scale
    # Near the middle of the brain, left and right of the midline.
    centre = np.argwhere(template.tissue[2] > 0.5).mean(axis=0)
    assert np.abs(np.argwhere(ventricles).mean(axis=0) - centre).max() < 0.1 * max(shape)
    deformation = random_deformation(template, shape, phantom_rng(0, 0))
    tissue = warp(template, deformation)
    seen = case_ventricles(template, deformation, tissue)
    assert (tissue[2] - tissue[0] - tissue[1])[seen].min() > 0.5
    assert 0.6 < seen.sum() / ventricles.sum() < 1.4
