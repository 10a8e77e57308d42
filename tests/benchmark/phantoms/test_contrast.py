"""The images (benchmark/phantoms/contrast.py): tissue and tumour contrasts, noise and bias, the oedema's look."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

import benchmark.phantoms.contrast as phantom_contrast
from benchmark.phantoms.anatomy import grid_template
from benchmark.phantoms.contrast import MODALITIES, synthesize
from benchmark.phantoms.oedema import OedemaLook
from benchmark.phantoms.tumour import ENHANCING, NECROSIS, OEDEMA
from tests.benchmark.phantoms.helpers import ball_tumour, shell_means


@pytest.mark.parametrize("seed", range(4))
def test_tissue_and_tumour_contrasts_follow_mri(seed):
    shape = (64, 64, 48)
    template = grid_template(shape)
    tissue = template.tissue
    brain = tissue[2] > 0.5
    label, strength = ball_tumour(template, radius=4.0)
    images = synthesize(tissue, brain, label, strength, template.scale, np.random.default_rng(seed))

    csf_p = tissue[2] - tissue[0] - tissue[1]
    normal = brain & ~ndimage.binary_dilation(label > 0, iterations=2)
    regions = {
        "wm": normal & (tissue[1] > 0.9),
        "gm": normal & (tissue[0] > 0.8),
        "csf": normal & (csf_p > 0.8),
        "necrosis": label == NECROSIS,
        "enhancing": label == ENHANCING,
        "oedema": label == OEDEMA,
    }
    assert all(region.sum() >= 10 for region in regions.values())
    mean = {(m, r): images[m][region].mean() for m in MODALITIES for r, region in regions.items()}

    assert mean["t1", "wm"] > mean["t1", "gm"] > mean["t1", "csf"]
    assert mean["t1", "necrosis"] < mean["t1", "gm"] and mean["t1", "oedema"] < mean["t1", "wm"]
    # A thin rim under partial volume, per-case contrast jitter and bias: 1.2-1.6 over seeds.
    assert mean["t1ce", "enhancing"] > 1.15 * max(mean["t1ce", "necrosis"], mean["t1ce", "wm"])
    assert mean["t2", "csf"] > mean["t2", "gm"] > mean["t2", "wm"]
    assert mean["t2", "oedema"] > mean["t2", "wm"] and mean["t2", "necrosis"] > mean["t2", "gm"]
    assert mean["flair", "csf"] < mean["flair", "wm"] < mean["flair", "gm"]
    assert mean["flair", "oedema"] > 1.3 * mean["flair", "wm"]
    assert mean["flair", "necrosis"] > mean["flair", "gm"]


def test_images_carry_rician_noise_and_smooth_bias():
    shape = (64, 64, 48)
    template = grid_template(shape)
    brain = template.tissue[2] > 0.5
    empty = np.zeros(shape, dtype=np.uint8)
    flat = np.zeros(shape, dtype=np.float32)
    first = synthesize(template.tissue, brain, empty, flat, template.scale, np.random.default_rng(0))
    second = synthesize(template.tissue, brain, empty, flat, template.scale, np.random.default_rng(1))
    wm = brain & (template.tissue[1] > 0.95)
    for name in MODALITIES:
        # Voxel-to-voxel noise: neighbours in pure white matter differ by a few percent.
        image = first[name]
        step = np.abs(image[1:][wm[1:] & wm[:-1]] - image[:-1][wm[1:] & wm[:-1]])
        assert 0.005 < np.median(step) / image[wm].mean() < 0.1, name
        # Another generator draws another scan.
        assert not np.array_equal(image, second[name])


def _synthesize_ball_with(look: OedemaLook, monkeypatch, seed: int = 0):
    template = grid_template((64, 64, 48))
    label, strength = ball_tumour(template, radius=4.0)
    monkeypatch.setattr(phantom_contrast, "draw_oedema_look", lambda rng: look)
    brain = template.tissue[2] > 0.5
    images = synthesize(template.tissue, brain, label, strength, template.scale, np.random.default_rng(seed))
    return template, label, images


def test_flair_excess_falls_outwards_across_the_label_boundary(monkeypatch):
    look = OedemaLook(ramp_mm=12.0, label_level=0.5, weak_fraction=0.0, weak_depth=0.0)
    template, label, images = _synthesize_ball_with(look, monkeypatch)
    tumour = label > 0
    signed = ndimage.distance_transform_edt(~tumour) - ndimage.distance_transform_edt(tumour)
    white = template.tissue[1] > 0.9
    flair = images["flair"]
    # signed: <= -1 inside the label, >= 1 outside; shells of one voxel, [-1, 1) at the boundary.
    shells = shell_means(flair, np.where(white, signed, np.inf), [-4, -3, -2, -1, 1, 2, 3])
    assert np.all(np.diff(shells) < 0), shells
    assert shells[-2] > 1.12 * flair[white & (signed > 8)].mean()  # excess shows beyond the label


def test_weak_patches_show_as_lower_flair_inside_the_label(monkeypatch):
    strong = OedemaLook(ramp_mm=0.0, label_level=0.5, weak_fraction=0.0, weak_depth=0.0)
    weak = OedemaLook(ramp_mm=0.0, label_level=0.5, weak_fraction=0.5, weak_depth=0.95)
    template, label, plain = _synthesize_ball_with(strong, monkeypatch)
    _, _, patchy = _synthesize_ball_with(weak, monkeypatch)
    oedema = label == OEDEMA
    drop = patchy["flair"][oedema] / plain["flair"][oedema]
    assert np.mean(drop < 0.85) > 0.15
    white = (template.tissue[1] > 0.9) & ~ndimage.binary_dilation(label > 0, iterations=3)
    # The weakest oedema is close to normal white matter.
    assert np.percentile(patchy["flair"][oedema], 5) < 1.3 * plain["flair"][white].mean()
