"""Tests of the BraTS-like phantoms (benchmark/phantom*.py), on small grids."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from benchmark.phantom import Phantom, make_phantom, phantom_rng
from benchmark.phantom_anatomy import fit_scale, grid_template, push_away, random_deformation, template_folder, warp
from benchmark.phantom_contrast import MODALITIES, synthesize
from benchmark.phantom_noise import smooth_noise
from benchmark.phantom_tumour import ENHANCING, NECROSIS, OEDEMA, Focus, rasterise

SHAPE = (48, 48, 32)
SEEDS = range(8)


@pytest.fixture(scope="module")
def phantoms() -> list[Phantom]:
    return [make_phantom(SHAPE, phantom_rng(7, index), f"case{index}") for index in SEEDS]


def brain_of(phantom: Phantom) -> np.ndarray:
    return phantom.modalities["flair"] > 0


def test_same_seed_gives_bit_identical_arrays():
    first = make_phantom(SHAPE, phantom_rng(3, 1))
    second = make_phantom(SHAPE, phantom_rng(3, 1))
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


def _ball_tumour(template, radius: float):
    """A hand-made tumour at the template's deepest white matter: necrosis, rim, oedema shells."""
    depth = np.where(template.tissue[1] > 0.9, template.depth, 0)
    centre = np.unravel_index(np.argmax(depth), depth.shape)
    distance = np.sqrt(sum((np.indices(depth.shape)[k] - centre[k]) ** 2 for k in range(3)))
    label = np.zeros(depth.shape, dtype=np.uint8)
    label[distance < 2 * radius] = OEDEMA
    label[distance < radius] = ENHANCING
    label[distance < radius - 1.5] = NECROSIS
    strength = np.where(label == OEDEMA, 1 - (distance - radius) / radius, 0).astype(np.float32)
    return label, strength


@pytest.mark.parametrize("seed", range(4))
def test_tissue_and_tumour_contrasts_follow_mri(seed):
    shape = (64, 64, 48)
    template = grid_template(shape)
    tissue = template.tissue
    brain = tissue[2] > 0.5
    label, strength = _ball_tumour(template, radius=4.0)
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
    assert mean["t1ce", "enhancing"] > 1.3 * max(mean["t1ce", "necrosis"], mean["t1ce", "wm"])
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


def test_smooth_noise_is_standardised_smooth_and_seeded():
    field = smooth_noise((40, 30, 20), 8.0, np.random.default_rng(0), channels=2)
    assert field.shape == (2, 40, 30, 20) and field.dtype == np.float32
    assert abs(field.mean()) < 0.3 and 0.4 < field.std() < 1.2
    neighbours = np.corrcoef(field[0, 1:].ravel(), field[0, :-1].ravel())[0, 1]
    assert neighbours > 0.9
    assert np.corrcoef(field[0].ravel(), field[1].ravel())[0, 1] < 0.5
    again = smooth_noise((40, 30, 20), 8.0, np.random.default_rng(0), channels=2)
    assert np.array_equal(field, again)
    with pytest.raises(ValueError, match="length"):
        smooth_noise((4, 4, 4), 0.0, np.random.default_rng(0))


def _round_focus(**changes) -> Focus:
    fields = dict(
        centre=np.array([20.0, 20.0, 20.0]),
        orientation=np.eye(3),
        elongation=np.ones(3),
        core_radius=5.0,
        necrosis_radius=3.0,
        oedema_reach=5.0,
        enhancing=True,
        rim_gap=0.0,
        roughness=0.0,
        oedema_roughness=0.0,
        push=0.0,
    )
    return Focus(**(fields | changes))


def _half_white_anatomy():
    """White matter for x < 20, grey matter beyond, all brain: float32 [40, 40, 40] each."""
    white = np.zeros((40, 40, 40), dtype=np.float32)
    white[:20] = 1.0
    return 1.0 - white, white, np.ones(white.shape, dtype=bool)


def test_a_smooth_focus_has_necrosis_inside_an_enhancing_rim_inside_oedema():
    grey, white, brain = _half_white_anatomy()
    label, strength = rasterise([_round_focus()], grey, white, brain, np.random.default_rng(0))
    distance = np.sqrt(((np.indices(label.shape) - 20.0) ** 2).sum(axis=0))
    assert distance[label == NECROSIS].max() < 3.0
    assert 3.0 <= distance[label == ENHANCING].min() and distance[label == ENHANCING].max() < 5.0
    assert distance[label == OEDEMA].min() >= 5.0
    assert set(np.unique(label)) == {0, NECROSIS, OEDEMA, ENHANCING}
    # Strength falls from the core outwards and lives on oedema only.
    assert np.array_equal(strength > 0, (label == OEDEMA) & (strength > 0))
    near = strength[(label == OEDEMA) & (distance < 6.0)].mean()
    far = strength[(label == OEDEMA) & (distance > 8.0)].mean()
    assert near > far


def test_oedema_spreads_further_along_white_matter():
    grey, white, brain = _half_white_anatomy()
    label, _ = rasterise([_round_focus()], grey, white, brain, np.random.default_rng(0))
    oedema = label == OEDEMA
    # Away from the blurred boundary plane (x = 19.5): white side x < 17, grey side x > 22.
    assert oedema[:17].sum() > 3 * oedema[23:].sum()


def test_solid_non_enhancing_and_gapped_foci():
    grey, white, brain = _half_white_anatomy()
    rng = np.random.default_rng(0)
    solid, _ = rasterise([_round_focus(necrosis_radius=0.0)], grey, white, brain, rng)
    assert not (solid == NECROSIS).any() and (solid == ENHANCING).any()
    quiet, _ = rasterise([_round_focus(enhancing=False)], grey, white, brain, rng)
    assert not (quiet == ENHANCING).any() and (quiet == NECROSIS).sum() > 300
    gapped, _ = rasterise([_round_focus(rim_gap=0.4, roughness=0.2)], grey, white, brain, rng)
    whole, _ = rasterise([_round_focus(roughness=0.2)], grey, white, brain, np.random.default_rng(0))
    assert 0 < (gapped == ENHANCING).sum() < 0.9 * (whole == ENHANCING).sum()


def test_labels_stay_in_the_brain_and_cores_override_oedema():
    grey, white, brain = _half_white_anatomy()
    brain[:, :, 24:] = False
    foci = [_round_focus(), _round_focus(centre=np.array([20.0, 28.0, 20.0]), necrosis_radius=0.0)]
    label, _ = rasterise(foci, grey, white, brain, np.random.default_rng(0))
    assert not label[~brain].any()
    # The second core sits in the first focus' oedema, and wins.
    assert label[20, 28, 20] == ENHANCING
