"""Tests of the BraTS-like phantoms (benchmark/phantom*.py), on small grids."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

import benchmark.phantoms.contrast as phantom_contrast
from benchmark.phantoms.phantom import Phantom, make_phantom, phantom_rng
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
from benchmark.phantoms.contrast import MODALITIES, synthesize
from benchmark.phantoms.mimics import MIMIC_PROBABILITY, TUMOUR_MARGIN_MM, Mimics, draw_mimics, mimic_lesions
from benchmark.phantoms.noise import smooth_noise
from benchmark.phantoms.oedema import OedemaLook, draw_oedema_look, oedema_weight
from benchmark.phantoms.tumour import ENHANCING, NECROSIS, OEDEMA, Focus, rasterise

SHAPE = (48, 48, 32)
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


# --- ventricles, mimics (white-matter hyperintensities), the oedema's look ------------


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
    label, strength = _ball_tumour(template, radius=4.0)
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


def _ball_label(radius: float, size: int = 40) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A ball tumour (core radius/2 inside oedema) in a cube: label, strength, distance from the centre."""
    distance = np.sqrt(((np.indices((size,) * 3) - (size - 1) / 2.0) ** 2).sum(axis=0))
    label = np.zeros(distance.shape, dtype=np.uint8)
    label[distance < radius] = OEDEMA
    label[distance < radius / 2] = NECROSIS
    strength = np.where(label == OEDEMA, (radius - distance) / (radius / 2), 0).astype(np.float32)
    return label, np.clip(strength, 0, 1), distance


def _shell_means(values: np.ndarray, signed: np.ndarray, edges) -> np.ndarray:
    return np.array([values[(signed >= a) & (signed < b)].mean() for a, b in zip(edges[:-1], edges[1:])])


def test_an_unclear_edge_fades_over_the_ramp_across_the_label():
    radius = 12.0
    label, strength, distance = _ball_label(radius)
    signed = distance - radius  # mm at scale 1; > 0 outside the label
    edges = np.arange(-6.0, 7.0, 1.0)
    for level in (0.2, 0.8):
        look = OedemaLook(ramp_mm=6.0, label_level=level, weak_fraction=0.0, weak_depth=0.0)
        weight = oedema_weight(label, strength, look, 1.0, np.random.default_rng(0))
        shells = _shell_means(weight, signed, edges)
        assert np.all(np.diff(shells) <= 1e-3), shells
        assert weight[signed > look.reach_mm + 2].max() < 0.01
        # The label's boundary sits `level` of the way up the ramp (edge x 0.5 there).
        assert abs(weight[np.abs(signed) < 0.5].mean() - 0.5 * level) < 0.08
    crisp = OedemaLook(ramp_mm=0.0, label_level=0.5, weak_fraction=0.0, weak_depth=0.0)
    weight = oedema_weight(label, strength, crisp, 1.0, np.random.default_rng(0))
    assert weight[(signed > -2) & (signed < -1)].mean() > 0.4 and weight[signed > 1.5].max() < 0.05


def test_weak_patches_lower_part_of_the_oedema_only():
    label, strength, _ = _ball_label(15.0)
    plain = OedemaLook(ramp_mm=4.0, label_level=0.5, weak_fraction=0.0, weak_depth=0.0)
    weak = OedemaLook(ramp_mm=4.0, label_level=0.5, weak_fraction=0.4, weak_depth=0.9)
    full = oedema_weight(label, strength, plain, 1.0, np.random.default_rng(0))
    patchy = oedema_weight(label, strength, weak, 1.0, np.random.default_rng(0))
    oedema = label == OEDEMA
    assert np.all(patchy <= full + 1e-6)
    lowered = patchy[oedema] < 0.5 * full[oedema]
    assert 0.15 < lowered.mean() < 0.55
    assert (patchy[oedema] < 0.25 * full[oedema]).any()  # near normal tissue at the weakest


def test_draws_of_the_oedema_look_cover_crisp_unclear_weak_and_solid():
    looks = [draw_oedema_look(np.random.default_rng(seed)) for seed in range(200)]
    unclear = np.mean([look.ramp_mm > 0 for look in looks])
    weak = np.mean([look.weak_fraction > 0 for look in looks])
    assert 0.5 < unclear < 0.9 and 0.4 < weak < 0.8
    levels = [look.label_level for look in looks if look.ramp_mm > 0]
    assert min(levels) < 0.3 and max(levels) > 0.7


def _synthesize_ball_with(look: OedemaLook, monkeypatch, seed: int = 0):
    template = grid_template((64, 64, 48))
    label, strength = _ball_tumour(template, radius=4.0)
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
    shells = _shell_means(flair, np.where(white, signed, np.inf), [-4, -3, -2, -1, 1, 2, 3])
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
