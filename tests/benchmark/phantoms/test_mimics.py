"""Tumour mimics, white-matter hyperintensities (benchmark/phantoms/mimics.py)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from benchmark.phantoms.anatomy import grid_template
from benchmark.phantoms.contrast import MODALITIES, synthesize
from benchmark.phantoms.mimics import MIMIC_PROBABILITY, TUMOUR_MARGIN_MM, Mimics, draw_mimics, mimic_lesions
from tests.benchmark.phantoms.helpers import ball_tumour


def test_mimics_are_drawn_in_a_share_of_cases():
    drawn = [draw_mimics(np.random.default_rng(seed)) for seed in range(300)]
    share = np.mean([mimics is not None for mimics in drawn])
    assert abs(share - MIMIC_PROBABILITY) < 0.1
    volumes = [v for mimics in drawn if mimics is not None for v in mimics.deep_volumes_mm3]
    assert any(200.0 < v < 900.0 for v in volumes)  # a few hundred mm^3 at BraTS scale


@pytest.fixture(scope="module")
def lesion_case():
    """A 64x64x48 brain with a ball tumour, its mimics, and one scan with and one without them."""
    template = grid_template((64, 64, 48))
    brain = template.tissue[2] > 0.5
    label, strength = ball_tumour(template, radius=4.0)
    mimics = Mimics(band_mm=2.0, cap_mm=6.0, deep_volumes_mm3=(3000.0, 3000.0, 3000.0), intensity=1.0)
    lesions = mimic_lesions(
        mimics, template.tissue[1], template.ventricles, label, template.scale, np.random.default_rng(0)
    )
    args = (template.tissue, brain, label, strength, template.scale)
    with_mimics = synthesize(*args, np.random.default_rng(5), lesions=lesions)
    without = synthesize(*args, np.random.default_rng(5))
    return template, label, lesions, with_mimics, without


def test_mimics_lie_in_white_matter_near_the_ventricles_and_clear_of_the_tumour(lesion_case):
    template, label, lesions, _, _ = lesion_case
    assert lesions.dtype == np.float32 and 0 <= lesions.min() and lesions.max() <= 1
    lesion = lesions > 0.3
    assert lesion.sum() > 50
    assert not lesions[label > 0].any()
    distance = ndimage.distance_transform_edt(label == 0)
    assert distance[lesions > 0].min() > TUMOUR_MARGIN_MM * template.scale
    assert np.median(template.tissue[1][lesion]) > 0.6
    # Periventricular: part of them lines the ventricles.
    from_ventricles = ndimage.distance_transform_edt(~template.ventricles)
    assert (lesion & (from_ventricles <= 2)).sum() > 10


def test_mimics_are_bright_on_flair_and_t2_dark_on_t1_and_do_not_enhance(lesion_case):
    _, _, lesions, with_mimics, without = lesion_case
    lesion = lesions > 0.7
    ratio = {name: with_mimics[name][lesion].mean() / without[name][lesion].mean() for name in MODALITIES}
    assert ratio["flair"] > 1.5 and ratio["t2"] > 1.5
    assert ratio["t1"] < 0.95
    assert 0.9 < ratio["t1ce"] < 1.05  # iso: no enhancement
    # Same generator, no extra draws: everything away from the lesions is unchanged.
    assert np.array_equal(with_mimics["flair"][lesions == 0], without["flair"][lesions == 0])
