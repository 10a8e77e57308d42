"""Whole phantoms (benchmark/phantoms/phantom.py): seeding, types, labels, intensities, shapes."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from benchmark.phantoms.contrast import MODALITIES
from benchmark.phantoms.phantom import Phantom, make_phantom, phantom_rng
from benchmark.phantoms.tumour import ENHANCING, NECROSIS, OEDEMA
from tests.benchmark.phantoms.helpers import SHAPE

SEEDS = range(8)


@pytest.fixture(scope="module")
def phantoms() -> list[Phantom]:
    return [make_phantom(SHAPE, phantom_rng(7, index), f"case{index}") for index in SEEDS]


def brain_of(phantom: Phantom) -> np.ndarray:
    return phantom.modalities["flair"] > 0


@pytest.mark.parametrize("index", range(3))
def test_same_seed_gives_bit_identical_arrays(index):
    first = make_phantom(SHAPE, phantom_rng(3, index))
    second = make_phantom(SHAPE, phantom_rng(3, index))
    assert np.array_equal(first.label, second.label)
    for name in MODALITIES:
        assert first.modalities[name].tobytes() == second.modalities[name].tobytes()
    assert np.array_equal(first.affine, second.affine)


def test_phantom_rng_streams_are_stable_and_independent():
    assert phantom_rng(5, 2).random() == phantom_rng(5, 2).random()
    # Case `index` is the index-th child of SeedSequence(seed), whatever came before.
    child = np.random.SeedSequence(5).spawn(3)[2]
    assert phantom_rng(5, 2).random() == np.random.Generator(np.random.PCG64(child)).random()
    draws = {phantom_rng(seed, index).random() for seed in range(3) for index in range(3)}
    assert len(draws) == 9
    with pytest.raises(ValueError, match="index"):
        phantom_rng(1, -1)
    with pytest.raises(ValueError, match="seed"):
        phantom_rng(1.5, 0)  # type: ignore[arg-type]


def test_arrays_have_the_promised_types_and_layout(phantoms):
    for phantom in phantoms:
        assert phantom.label.dtype == np.uint8 and phantom.label.shape == SHAPE
        assert list(phantom.modalities) == ["flair", "t1", "t1ce", "t2"]
        for image in phantom.modalities.values():
            assert image.dtype == np.float32 and image.shape == SHAPE
            assert image.min() >= 0 and np.isfinite(image).all()
        assert phantom.affine.dtype == np.float64
        assert np.array_equal(phantom.affine[:3, :3], np.eye(3))
        # The grid's centre sits at the world origin.
        centre = phantom.affine @ np.append((np.asarray(SHAPE) - 1) / 2.0, 1.0)
        assert np.allclose(centre[:3], 0.0)


def test_labels_are_brats_labels_with_a_tumour(phantoms):
    for phantom in phantoms:
        assert set(np.unique(phantom.label)) <= {0, NECROSIS, OEDEMA, ENHANCING}
        assert (phantom.label > 0).sum() > 0
        assert (phantom.label == OEDEMA).any()


def test_every_modality_is_zero_exactly_outside_the_brain_and_the_tumour_is_inside(phantoms):
    for phantom in phantoms:
        brain = brain_of(phantom)
        assert 0.05 < brain.mean() < 0.6
        for image in phantom.modalities.values():
            assert np.array_equal(image > 0, brain)
        assert not phantom.label[~brain].any()
        # One brain, no fragments.
        assert ndimage.label(brain)[1] == 1


def test_intensities_are_in_a_brats_like_range(phantoms):
    for phantom in phantoms:
        brain = brain_of(phantom)
        for name, image in phantom.modalities.items():
            assert 50 < np.median(image[brain]) < 1000, name
            assert image.max() < 2500, name


def test_tumour_contrasts_in_whole_phantoms(phantoms):
    flair_oedema, flair_normal, t1ce_enhancing, t1ce_necrosis, t1ce_normal = [], [], [], [], []
    for phantom in phantoms:
        normal = brain_of(phantom) & (phantom.label == 0)
        flair, t1ce = phantom.modalities["flair"], phantom.modalities["t1ce"]
        flair_oedema.append(flair[phantom.label == OEDEMA].mean())
        flair_normal.append(flair[normal].mean())
        t1ce_normal.append(t1ce[normal].mean())
        if (phantom.label == ENHANCING).any() and (phantom.label == NECROSIS).any():
            t1ce_enhancing.append(t1ce[phantom.label == ENHANCING].mean())
            t1ce_necrosis.append(t1ce[phantom.label == NECROSIS].mean())
    assert np.all(np.array(flair_oedema) > np.array(flair_normal))
    assert t1ce_enhancing, "no phantom with both enhancing tumour and necrosis"
    assert np.mean(t1ce_enhancing) > 1.3 * np.mean(t1ce_necrosis)
    assert np.mean(t1ce_enhancing) > 1.3 * np.mean(t1ce_normal)


def test_different_seeds_give_different_tumours(phantoms):
    volumes = [int((phantom.label > 0).sum()) for phantom in phantoms]
    assert len(set(volumes)) == len(volumes)
    assert max(volumes) > 4 * min(volumes)
    positions = {tuple(np.argwhere(phantom.label > 0).mean(axis=0).round()) for phantom in phantoms}
    assert len(positions) == len(phantoms)
    # The anatomy differs too, not only the tumour.
    brains = [brain_of(phantom) for phantom in phantoms[:2]]
    assert (brains[0] != brains[1]).mean() > 0.01


@pytest.mark.parametrize("shape", [(37, 52, 29), (64, 41, 50), (16, 16, 16)])
def test_odd_shapes_are_honoured(shape):
    phantom = make_phantom(shape, phantom_rng(0, 0))
    assert phantom.label.shape == shape
    assert all(image.shape == shape for image in phantom.modalities.values())
    assert (phantom.label > 0).any()


@pytest.mark.parametrize("shape", [(15, 40, 40), (40, 40), (40.5, 40, 40), "big"])
def test_bad_shapes_are_refused(shape):
    with pytest.raises(ValueError, match="shape"):
        make_phantom(shape, phantom_rng(0, 0))  # type: ignore[arg-type]


def test_rng_must_be_a_generator():
    with pytest.raises(TypeError, match="rng"):
        make_phantom(SHAPE, 3)  # type: ignore[arg-type]
