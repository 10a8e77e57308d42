import numpy as np
import pytest
from scipy import ndimage as ndi

from benchmark.edits import EditHistory
from benchmark.policy import RoundState
from policies.reference_users import RandomClick, RitmClick
from tests.helpers import corrupted_ellipsoid

SPACINGS = [(1.0, 1.0, 1.0), (1.0, 1.0, 2.5)]


def _edt(mask, spacing):
    """Reference: scipy EDT with the volume border counting as background."""
    return ndi.distance_transform_edt(np.pad(mask, 1), sampling=spacing)[1:-1, 1:-1, 1:-1]


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("spacing", SPACINGS)
def test_ritm_clicks_the_global_edt_maximum_of_the_larger_error(seed, spacing):
    label, pred = corrupted_ellipsoid(seed)
    (click,) = RitmClick().propose(RoundState(label, pred, spacing=spacing), np.random.default_rng(0))
    fn, fp = _edt(label & ~pred, spacing), _edt(pred & ~label, spacing)
    positive = fn.max() > fp.max()
    chosen = fn if positive else fp
    assert click.positive == positive
    assert chosen[click.voxel] == pytest.approx(chosen.max(), rel=1e-5)
    assert click.voxel == tuple(np.argwhere(np.isclose(chosen, chosen.max(), rtol=1e-5))[0])


def test_ritm_never_clicks_the_same_voxel_twice():
    label, pred = corrupted_ellipsoid(0)
    first = RitmClick().propose(RoundState(label, pred), np.random.default_rng(0))
    again = RitmClick().propose(RoundState(label, pred, EditHistory().add(first)), np.random.default_rng(0))
    assert again and again[0].voxel != first[0].voxel


@pytest.mark.parametrize("seed", range(3))
def test_random_click_is_an_error_voxel_and_reproducible(seed):
    label, pred = corrupted_ellipsoid(seed)
    state = RoundState(label, pred)
    clicks = [RandomClick().propose(state, np.random.default_rng(seed))[0] for _ in range(2)]
    assert clicks[0] == clicks[1]
    assert label[clicks[0].voxel] != pred[clicks[0].voxel]
    assert clicks[0].positive == bool(label[clicks[0].voxel])


def test_random_click_signs_follow_error_volumes():
    label = np.zeros((20, 20, 20), bool)
    label[:, :, :5] = True
    pred = label.copy()
    pred[:, :2, :5] = False  # 200 under
    pred[:, :, 10:16] = True  # 2400 over
    rng = np.random.default_rng(0)
    signs = [RandomClick().propose(RoundState(label, pred), rng)[0].positive for _ in range(400)]
    assert 0.04 < np.mean(signs) < 0.13  # expected 200 / 2600 = 0.077


@pytest.mark.parametrize("policy", [RitmClick(), RandomClick()])
def test_perfect_prediction_gives_no_click(policy):
    label, _ = corrupted_ellipsoid(0)
    assert policy.propose(RoundState(label, label.copy()), np.random.default_rng(0)) == []
    assert policy.name in {"ritm", "random"}
