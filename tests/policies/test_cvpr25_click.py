"""Cvpr25Click against a port of the CVPR 2025 challenge's click (tests/policies/cvpr25_port.py)."""

import cc3d
import edt
import numpy as np
import pytest
from scipy import ndimage as ndi

from benchmark.edits import EditHistory
from benchmark.io.orientation import canonical_orientation, canonical_zooms, to_canonical
from benchmark.policy import RoundState
from policies import cvpr25_click as module
from policies.cvpr25_click import Cvpr25Click, challenge_click_zyx, distance_sq
from tests.helpers import corrupted_ellipsoid
from tests.policies import cvpr25_port as port
from tests.policies.cvpr25_port import blobs, random_affine, random_shape

CHALLENGE = Cvpr25Click(units="voxel", ties="cvpr25")


# --- cases: (label, prediction) in the file's nibabel order, and their affine --------


def blob_case(seed, orient=True):
    rng = np.random.default_rng(seed)
    shape = random_shape(rng)
    label = blobs(rng, shape, rng.uniform(0.05, 0.3))
    prediction = label ^ blobs(rng, shape, rng.uniform(0.02, 0.12))
    return label, prediction, random_affine(rng) if orient else np.eye(4)


def equal_components_case(seed):
    """2-4 congruent error components (under or over) on top of a correctly segmented blob."""
    rng = np.random.default_rng(seed)
    shape = random_shape(rng, 16, 30)
    label = blobs(rng, shape, 0.1)
    prediction = label.copy()
    labels = cc3d.connected_components(rng.random((4, 4, 3)) < 0.6, connectivity=26)
    piece = labels == np.argmax(np.bincount(labels.ravel())[1:]) + 1
    taken = np.zeros(shape, bool)
    placed = 0
    for _ in range(200):
        corner = [int(rng.integers(0, n - p + 1)) for n, p in zip(shape, piece.shape)]
        region = np.zeros(shape, bool)
        region[tuple(slice(c, c + p) for c, p in zip(corner, piece.shape))] = piece
        if (region & taken).any():
            continue
        taken |= ndi.binary_dilation(region, np.ones((3, 3, 3)))
        under = bool(rng.integers(2))
        label[region], prediction[region] = under, not under
        placed += 1
        if placed == rng.integers(2, 5):
            break
    assert placed >= 2
    return label, prediction, random_affine(rng)


def border_case(seed):
    """Error balls centred on faces, edges and corners of the volume."""
    rng = np.random.default_rng(seed)
    shape = random_shape(rng)
    label = blobs(rng, shape, 0.15)
    grid = np.indices(shape)
    error = np.zeros(shape, bool)
    for _ in range(rng.integers(1, 4)):
        centre = [int(rng.choice([0, n - 1])) if rng.random() < 0.6 else int(rng.integers(n)) for n in shape]
        radius = rng.uniform(1.5, 5.0)
        error |= sum((g - c) ** 2 for g, c in zip(grid, centre)) <= radius**2
    return label, label ^ error, random_affine(rng)


def challenge_on_file(label, prediction, affine, user=CHALLENGE, zooms=(1.0, 1.0, 1.0), **port_options):
    """(our click, the port's click), both as canonical (voxel, positive), or None."""
    ornt = canonical_orientation(affine)
    state = RoundState(to_canonical(label, affine), to_canonical(prediction, affine),
                       spacing=canonical_zooms(zooms, ornt), orientation=ornt)
    ours = user.propose(state, np.random.default_rng(0))
    expected = port.click(label.T, prediction.T, **port_options)  # SimpleITK's (z, y, x)
    ours = ours[0] if ours else None
    if expected is None:
        return ours and (ours.voxel, ours.positive), None
    (k, j, i), positive = expected
    index = to_canonical(np.arange(label.size).reshape(label.shape), affine)
    voxel = tuple(int(c) for c in np.argwhere(index == np.ravel_multi_index((i, j, k), label.shape))[0])
    assert bool(state.label[voxel]) == positive
    return ours and (ours.voxel, ours.positive), (voxel, positive)


# --- the challenge, voxel for voxel ---------------------------------------------------


@pytest.mark.parametrize("seed", range(60))
def test_matches_the_challenge_on_random_blobs(seed):
    ours, theirs = challenge_on_file(*blob_case(seed, orient=False))
    assert ours == theirs and theirs is not None


@pytest.mark.parametrize("seed", range(100, 180))
def test_matches_the_challenge_on_the_files_own_grid(seed):
    ours, theirs = challenge_on_file(*blob_case(seed))
    assert ours == theirs and theirs is not None


@pytest.mark.parametrize("seed", range(20))
def test_voxel_units_ignore_anisotropic_spacing(seed):
    label, prediction, affine = blob_case(300 + seed)
    zooms = tuple(np.random.default_rng(seed).choice([0.5, 1.0, 1.3, 2.5, 4.0], 3))
    assert challenge_on_file(label, prediction, affine, zooms=zooms) == challenge_on_file(label, prediction, affine)
    ours, theirs = challenge_on_file(label, prediction, affine, zooms=zooms)
    assert ours == theirs


@pytest.mark.parametrize("seed", range(30))
def test_matches_the_challenge_among_equal_largest_components(seed):
    ours, theirs = challenge_on_file(*equal_components_case(seed))
    assert ours == theirs and theirs is not None


@pytest.mark.parametrize("seed", range(30))
def test_matches_the_challenge_on_components_touching_the_border(seed):
    ours, theirs = challenge_on_file(*border_case(seed))
    assert ours == theirs and theirs is not None


@pytest.mark.parametrize("seed", range(5))
def test_perfect_and_empty_labels_match_the_challenge(seed):
    label, _, affine = blob_case(400 + seed)
    assert challenge_on_file(label, label.copy(), affine) == (None, None)  # perfect: no click
    empty = np.zeros_like(label)
    assert challenge_on_file(empty, empty.copy(), affine) == (None, None)
    ours, theirs = challenge_on_file(empty, label, affine)  # only over-segmentation
    assert ours == theirs and theirs[1] is False


@pytest.mark.parametrize("seed", range(20))
def test_matches_the_challenges_downsampled_branch(seed):
    """Their 2x block-max branch for padded boxes over 60M voxels, with the limit lowered."""
    label, prediction, _ = blob_case(500 + seed)
    limit = int(np.random.default_rng(seed).integers(50, 3000))
    error = (label != prediction).T.copy()
    expected = port.click(label.T, prediction.T, large_roi=limit)
    assert challenge_click_zyx(error, large_roi=limit) == expected[0]
    sampling = (1.0, 0.5, 2.5)
    assert challenge_click_zyx(error, sampling, large_roi=limit) == port.click(
        label.T, prediction.T, large_roi=limit, sampling=sampling)[0]


@pytest.mark.parametrize("seed", range(5))
def test_matches_the_challenges_fallback_when_the_edt_is_zero(seed, monkeypatch):
    label, prediction, _ = blob_case(600 + seed)
    monkeypatch.setattr(module, "distance_sq", lambda mask, *a, **k: np.zeros(mask.shape, np.float32))
    monkeypatch.setattr(port, "distance_transform_edt", lambda a, **k: np.zeros(a.shape))
    assert challenge_click_zyx((label != prediction).T.copy()) == port.click(label.T, prediction.T)[0]


@pytest.mark.parametrize("seed", range(20))
def test_mm_units_follow_the_challenges_rule_with_spacing(seed):
    """Spacings exact in binary: float32 and float64 distances tie alike."""
    label, prediction, affine = blob_case(700 + seed)
    zooms = tuple(np.random.default_rng(seed).choice([0.5, 0.75, 1.0, 1.5, 2.5], 3))
    ours, theirs = challenge_on_file(label, prediction, affine, Cvpr25Click(units="mm", ties="cvpr25"),
                                     zooms=zooms, sampling=zooms[::-1])
    assert ours == theirs


@pytest.mark.parametrize("seed", range(10))
def test_mm_ties_survive_rounding_at_isotropic_spacing(seed):
    """At 1.1 mm isotropic, mm distances are 1.1 x voxel distances: the same tie set, the same click."""
    label, prediction, affine = blob_case(800 + seed)
    mm, _ = challenge_on_file(label, prediction, affine, Cvpr25Click(units="mm", ties="cvpr25"), zooms=(1.1,) * 3)
    assert mm == challenge_on_file(label, prediction, affine)[1]


@pytest.mark.parametrize("spacing", [0.31, 0.32, 1.0])
def test_mm_ties_are_not_split_by_float_rounding(spacing):
    """Two balls whose centres' nearest outside voxels lie at offsets (0, 0, 5) and (4, 0, 3):
    the same distance, which float32 rounds apart at 0.31 and 0.32 mm."""
    shape, p, q = (14, 14, 28), (7, 7, 7), (7, 7, 20)

    def ball(centre, keep_on_sphere):
        g = np.indices(shape) - np.reshape(centre, (3, 1, 1, 1))
        sq = (g**2).sum(0)
        return (sq < 25) | ((sq == 25) & keep_on_sphere(g))

    on_z = lambda g: (g[0] == 0) & (g[1] == 0)  # noqa: E731
    mask = ball(p, lambda g: ~on_z(g)) | ball(q, lambda g: on_z(g) | ~((abs(g[0]) == 4) & (g[1] == 0)))
    sq = distance_sq(mask, (spacing,) * 3)
    assert (sq[p] != sq[q]) == (spacing != 1.0)  # rounding splits the tie...
    assert module.deepest_voxels(mask, (spacing,) * 3).tolist() == [list(p), list(q)]  # ...we keep it
    assert module.deepest_voxels(mask, None).tolist() == [list(p), list(q)]


@pytest.mark.parametrize("seed", range(30))
def test_padded_crop_edt_is_the_black_border_edt_of_the_component(seed):
    rng = np.random.default_rng(seed)
    mask = blobs(rng, random_shape(rng, 12, 40), rng.uniform(0.1, 0.5))
    labels = cc3d.connected_components(mask, connectivity=26)
    component = labels == np.argmax(np.bincount(labels.ravel())[1:]) + 1
    theirs = port.compute_edt(component)  # scipy, on the box padded by 25%
    assert np.array_equal(theirs * component, ndi.distance_transform_edt(np.pad(component, 1))[1:-1, 1:-1, 1:-1])
    box = module.bounding_box(component)
    ours = np.zeros(component.shape, np.float32)
    ours[box] = distance_sq(component[box], None)  # black border at the component's box
    assert np.array_equal(ours, np.rint(theirs**2) * component)  # exact squared integers
    assert np.array_equal(ours, edt.edtsq(component.astype(np.uint8), black_border=True))


# --- the default, unchanged by the move -------------------------------------------------


def _old_cvpr25_click(label, prediction, spacing, rng):
    """policies/reference_users.py's cvpr25_click before it moved (git HEAD)."""
    wrong = np.flatnonzero(label ^ prediction)
    if len(wrong) == 0:
        return None
    coords = np.unravel_index(wrong, label.shape)
    box = tuple(slice(int(c.min()), int(c.max()) + 1) for c in coords)
    components = cc3d.connected_components(label[box] ^ prediction[box], connectivity=26)
    sizes = np.bincount(components.ravel()[components.ravel() > 0])
    largest = components == np.argmax(sizes)
    distance = edt.edt(np.ascontiguousarray(largest, dtype=np.uint8), anisotropy=spacing, black_border=True)
    deepest = np.argwhere(distance == distance.max())
    voxel = deepest[rng.integers(len(deepest))] + [s.start for s in box]
    return tuple(int(c) for c in voxel), bool(label[tuple(voxel)])


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), (1.0, 1.0, 2.5), (0.9, 1.1, 3.0)])
def test_default_is_unchanged_by_the_move(seed, spacing):
    label, prediction = corrupted_ellipsoid(seed) if seed < 4 else blob_case(seed, orient=False)[:2]
    rng_ours, rng_old = np.random.default_rng(seed), np.random.default_rng(seed)
    (click,) = Cvpr25Click().propose(RoundState(label, prediction, spacing=spacing), rng_ours)
    assert (click.voxel, click.positive) == _old_cvpr25_click(label, prediction, spacing, rng_old)
    assert rng_ours.bit_generator.state == rng_old.bit_generator.state


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), (1.0, 1.0, 2.5)])
def test_default_clicks_the_edt_maximum_of_the_largest_disagreement_component(seed, spacing):
    label, pred = corrupted_ellipsoid(seed)
    (click,) = Cvpr25Click().propose(RoundState(label, pred, spacing=spacing), np.random.default_rng(0))
    comps, n = ndi.label(label != pred, structure=np.ones((3, 3, 3)))
    largest = comps == np.argmax(np.bincount(comps.ravel())[1:]) + 1
    dist = ndi.distance_transform_edt(np.pad(largest, 1), sampling=spacing)[1:-1, 1:-1, 1:-1]
    assert largest[click.voxel]
    assert dist[click.voxel] == pytest.approx(dist.max(), rel=1e-5)
    assert click.positive == bool(label[click.voxel])


@pytest.mark.parametrize("seed", range(10))
def test_voxel_units_with_random_ties_draw_among_the_exact_maxima(seed):
    label, prediction, _ = blob_case(900 + seed, orient=False)
    (click,) = Cvpr25Click(units="voxel").propose(RoundState(label, prediction, spacing=(1, 1, 3)),
                                                   np.random.default_rng(seed))
    comps = cc3d.connected_components(label != prediction, connectivity=26)  # same order as the crop's
    largest = comps == np.argmax(np.bincount(comps.ravel())[1:]) + 1
    dist = ndi.distance_transform_edt(np.pad(largest, 1))[1:-1, 1:-1, 1:-1]
    assert dist[click.voxel] == dist.max()


# --- every variant -------------------------------------------------------------------------

VARIANTS = [Cvpr25Click(units=u, ties=t) for u in ("mm", "voxel") for t in ("random", "cvpr25")]


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("user", VARIANTS, ids=lambda u: f"{u.units}-{u.ties}")
def test_the_click_lies_in_the_error_with_the_right_sign(seed, user):
    label, prediction, affine = blob_case(1000 + seed)
    ornt = canonical_orientation(affine)
    state = RoundState(to_canonical(label, affine), to_canonical(prediction, affine), spacing=(1.0, 1.2, 2.5),
                       orientation=ornt)
    (click,) = user.propose(state, np.random.default_rng(seed))
    assert state.label[click.voxel] != state.prediction[click.voxel]
    assert click.positive == bool(state.label[click.voxel])
    assert user.propose(RoundState(state.label, state.label.copy(), orientation=ornt), np.random.default_rng(0)) == []


@pytest.mark.parametrize("user", VARIANTS, ids=lambda u: f"{u.units}-{u.ties}")
def test_numpys_global_random_state_is_untouched(user):
    np.random.seed(7)
    before = np.random.get_state()
    for seed in range(3):
        label, prediction, affine = blob_case(1100 + seed)
        user.propose(RoundState(label, prediction, orientation=canonical_orientation(affine)),
                     np.random.default_rng(seed))
    after = np.random.get_state()
    assert all(np.array_equal(a, b) for a, b in zip(before, after))


def test_challenge_ties_do_not_use_the_session_rng():
    label, prediction, _ = blob_case(1200)
    rng = np.random.default_rng(5)
    state = rng.bit_generator.state
    first = CHALLENGE.propose(RoundState(label, prediction), rng)
    assert rng.bit_generator.state == state
    assert CHALLENGE.propose(RoundState(label, prediction, EditHistory().add(first)), np.random.default_rng(9)) == first


def test_options_are_checked_and_named():
    assert Cvpr25Click().units == "mm" and Cvpr25Click().ties == "random" and Cvpr25Click.name == "cvpr25"
    with pytest.raises(ValueError, match="units must be one of mm, voxel"):
        Cvpr25Click(units="px")
    with pytest.raises(ValueError, match="ties must be one of random, cvpr25"):
        Cvpr25Click(ties="first")


def test_the_registry_builds_it_from_a_spec():
    from benchmark.registry import make_user

    user = make_user("cvpr25:units=voxel,ties=cvpr25")
    assert isinstance(user, Cvpr25Click) and (user.units, user.ties) == ("voxel", "cvpr25")
