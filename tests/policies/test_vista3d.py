import numpy as np
import pytest
from scipy import ndimage as ndi

from benchmark.policy import RoundState
from policies.vista3d import EROSION_2D, Vista3dClick, erode, largest_component, vista3d_click
from tests.helpers import corrupted_ball
from tests.policies.vista3d_port import port_click

SHAPE = (16, 14, 12)


def _box(lower, upper, shape=SHAPE):
    m = np.zeros(shape, bool)
    m[tuple(slice(a, b) for a, b in zip(lower, upper))] = True
    return m


EMPTY = np.zeros(SHAPE, bool)


def _cases():
    """name -> (label, prediction)."""
    cases = {f"blob{s}": corrupted_ball(s, shape=(30, 32, 26), radii=(6, 10)) for s in range(6)}
    for s in range(5, 12):  # both signs; seed 11 needs the 2D fallback
        rng = np.random.default_rng(s)
        label = ndi.binary_dilation(rng.random(SHAPE) < 0.03, iterations=2)
        cases[f"random{s}"] = (label, ndi.binary_dilation(rng.random(SHAPE) < 0.03, iterations=2))
    cases["border-slab"] = (_box((0, 0, 0), (3, 14, 12)), EMPTY)  # eroded to x in {0, 1} only
    cases["fp-corner"] = (EMPTY, _box((12, 10, 0), (16, 14, 5)))
    cases["fn-fp-tie"] = (_box((1, 1, 1), (6, 6, 6)), _box((9, 8, 6), (14, 13, 11)))  # 27 and 27 after erosion
    three = _box((1, 1, 1), (6, 6, 6)) | _box((9, 1, 1), (14, 6, 6)) | _box((1, 8, 6), (6, 13, 11))
    cases["three-equal-fp"] = (EMPTY, three)
    cases["single-voxels"] = (_box((3, 3, 3), (4, 4, 4)), _box((9, 9, 9), (10, 10, 10)))
    cases["thin-in-z"] = (_box((2, 2, 4), (12, 11, 6)), EMPTY)  # two slices: only the 2D erosion keeps some
    cases["even-cube"] = (_box((4, 4, 4), (10, 10, 10)), EMPTY)  # eroded 4x4x4: eight voxels equally near the centre
    g = np.indices((20, 20, 12))
    torus = (np.hypot(g[0] - 9.5, g[1] - 9.5) - 5.5) ** 2 + (g[2] - 5.5) ** 2 <= 2.6**2
    cases["torus"] = (torus, np.zeros_like(torus))  # the centroid lies in the hole
    return cases


CASES = _cases()


@pytest.mark.parametrize("name", sorted(CASES))
def test_clicks_equal_the_ports(name):
    label, pred = CASES[name]
    clicks = Vista3dClick().propose(RoundState(label, pred), np.random.default_rng(0))
    expected = port_click(label, pred)
    assert [(c.voxel, c.positive) for c in clicks] == ([] if expected is None else [expected])
    click3d = vista3d_click(label, pred)
    expected3d = port_click(label, pred, fallback_2d=False)
    assert (None if click3d is None else (click3d.voxel, click3d.positive)) == expected3d


def test_the_special_cases_are_what_they_claim():
    click = lambda name, **kw: vista3d_click(*CASES[name], **kw)  # noqa: E731
    # the border counts as inside the mask: the slab keeps its two outer layers
    assert set(np.argwhere(erode(CASES["border-slab"][0]))[:, 0]) == {0, 1}
    assert click("border-slab").voxel[0] in (0, 1)
    assert click("fp-corner").positive is False
    tie = click("fn-fp-tie")
    assert tie.positive and tie.voxel == (3, 3, 3)
    # equal components: the one whose first voxel comes last in C order (x = 9 block)
    assert click("three-equal-fp").voxel == (11, 3, 3)
    assert click("single-voxels") is None and click("single-voxels", erosion=EROSION_2D) is None
    assert Vista3dClick().propose(RoundState(*CASES["single-voxels"]), np.random.default_rng(0)) == []
    assert click("thin-in-z") is None and click("thin-in-z", erosion=EROSION_2D).positive
    assert Vista3dClick(fallback_2d=False).propose(RoundState(*CASES["thin-in-z"]), np.random.default_rng(0)) == []
    assert click("even-cube").voxel == (6, 6, 6)  # first of the eight in C order
    torus = largest_component(erode(CASES["torus"][0]))
    assert not torus[9, 9, 5] and torus[click("torus").voxel]


def test_largest_component_uses_26_connectivity():
    mask = np.zeros((5, 5, 5), bool)
    mask[1, 1, 1] = mask[2, 2, 2] = mask[3, 3, 3] = True  # corner-connected diagonal
    mask[0, 4, 0] = mask[0, 4, 1] = True  # two face-connected voxels
    assert largest_component(mask).sum() == 3


def test_random_point_variant_lies_in_the_chosen_component():
    label, pred = CASES["blob0"]
    fn = largest_component(erode(label & ~pred))
    fp = largest_component(erode(pred & ~label))
    chosen = fn if fn.sum() >= fp.sum() else fp
    user = Vista3dClick(use_center=False)
    clicks = [user.propose(RoundState(label, pred), np.random.default_rng(s))[0] for s in range(30)]
    assert all(chosen[c.voxel] and c.positive == (fn.sum() >= fp.sum()) for c in clicks)
    assert len({c.voxel for c in clicks}) > 1
    assert clicks[0] == user.propose(RoundState(label, pred), np.random.default_rng(0))[0]


def test_perfect_prediction_gives_no_click():
    label, _ = CASES["blob0"]
    assert Vista3dClick().propose(RoundState(label, label.copy()), np.random.default_rng(0)) == []
    assert Vista3dClick.name == "vista3d"


def test_scipy_numbers_components_as_skimage_does():
    """The port's stand-in for MONAI's skimage.measure.label (full connectivity)."""
    measure = pytest.importorskip("skimage.measure")
    rng = np.random.default_rng(0)
    for _ in range(5):
        mask = rng.random((9, 10, 11)) < 0.25
        assert np.array_equal(measure.label(mask), ndi.label(mask, structure=np.ones((3, 3, 3)))[0])
