"""The FLAIR-threshold first mask: specks dropped by volume in mm³, the largest region kept."""

import numpy as np
import pytest
from scipy import ndimage

from baselines.initial import FlairThreshold, without_specks
from benchmark.case import CaseImage
from tests.helpers import ball


def by_hand(mask, min_mm3, spacing):
    regions, n = ndimage.label(mask, structure=np.ones((3, 3, 3)))
    sizes = ndimage.sum(mask, regions, index=np.arange(1, n + 1))
    largest = 1 + int(np.argmax(sizes)) if n else None
    keep = [i + 1 for i, size in enumerate(sizes) if size * np.prod(spacing) >= min_mm3 or i + 1 == largest]
    return np.isin(regions, keep) & mask


@pytest.mark.parametrize("seed", range(8))
def test_without_specks_equals_scipy_labelling_by_volume(seed):
    rng = np.random.default_rng(seed)
    mask = ndimage.binary_opening(rng.random((30, 28, 20)) > 0.7)
    spacing = tuple(float(s) for s in rng.uniform(0.5, 2.0, 3))
    for min_mm3 in (0.0, 5.0, 40.0, 1e9):
        assert np.array_equal(without_specks(mask, min_mm3, spacing), by_hand(mask, min_mm3, spacing))


def test_a_small_tumour_that_is_the_only_bright_region_survives():
    shape = (48, 48, 32)
    tumour = ball(shape, (24, 24, 16), 3.0)  # 123 voxels: below 200 mm³ at 1 mm
    image = np.zeros((4, *shape), np.float32)
    image[0][tumour] = 3.0
    first = FlairThreshold()(CaseImage("small", image))
    assert np.array_equal(first, tumour)
    speck = ball(shape, (5, 5, 5), 1.0)
    image[0][speck] = 3.0  # a second, smaller bright speck goes
    assert np.array_equal(FlairThreshold()(CaseImage("small", image)), tumour)
    coarse = CaseImage("coarse", image, spacing=(2.0, 2.0, 2.0))  # the same voxels are 8x the volume: both stay
    assert np.array_equal(FlairThreshold(min_mm3=50)(coarse), tumour | speck)
