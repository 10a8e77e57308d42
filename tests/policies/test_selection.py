import numpy as np
import pytest
from scipy import ndimage as ndi

from benchmark.policy import RoundState
from policies.selection import MIN_SIZE_MM3, SelectionPolicy, min_voxels
from tests.helpers import ball, corrupted_ball, last_erosion

RNG = np.random.default_rng(0)


def _case(seed):
    return corrupted_ball(seed, radii=(9, 13))


@pytest.mark.parametrize("seed", range(4))
def test_one_click_per_large_component_at_its_deepest_voxel(seed):
    label, pred = _case(seed)
    clicks = SelectionPolicy("test").propose(RoundState(label, pred), RNG)
    comps = []
    for err, sign in ((label & ~pred, True), (pred & ~label, False)):
        lab, n = ndi.label(err, structure=np.ones((3, 3, 3)))
        comps += [(lab == i, sign) for i in range(1, n + 1) if (lab == i).sum() >= MIN_SIZE_MM3["test"]]
    assert len(clicks) == len(comps) > 0
    hit = set()
    for click in clicks:
        (j,) = [j for j, (comp, _) in enumerate(comps) if comp[click.voxel]]
        comp, sign = comps[j]
        assert click.positive == sign
        assert last_erosion(comp)[click.voxel]
        hit.add(j)
    assert len(hit) == len(comps)
    sizes = [comps[[j for j, (c, _) in enumerate(comps) if c[k.voxel]][0]][0].sum() for k in clicks]
    assert sizes == sorted(sizes, reverse=True)


def test_train_mode_drops_small_components():
    shape = (40, 40, 40)
    label = ball(shape, (20, 20, 20), 12)
    pred = label.copy()
    pred[2:7, 2:7, 2:7] = True  # 125-voxel false blob: clicked at test time only
    pred &= ~ball(shape, (20, 20, 20), 6)  # ~900-voxel hole: clicked in both modes
    test = SelectionPolicy("test").propose(RoundState(label, pred), RNG)
    train = SelectionPolicy("train").propose(RoundState(label, pred), RNG)
    assert [c.positive for c in test] == [True, False]
    assert [c.positive for c in train] == [True]
    assert train[0].voxel == (20, 20, 20) and test[1].voxel == (4, 4, 4)


def test_min_size_is_a_volume_in_mm3():
    assert min_voxels(50, (1, 1, 1)) == 50
    assert min_voxels(50, (2, 2, 2)) == 7
    shape = (20, 20, 20)
    label = np.zeros(shape, bool)
    pred = label.copy()
    pred[2:6, 2:6, 2:6] = True  # 64 voxels
    state = RoundState(label, pred, spacing=(0.5, 0.5, 0.5))  # 8 mm^3
    assert SelectionPolicy(min_size=8).propose(state, RNG)
    assert not SelectionPolicy(min_size=9).propose(state, RNG)


def test_max_clicks_keeps_the_largest():
    label, pred = _case(1)
    every = SelectionPolicy().propose(RoundState(label, pred), RNG)
    assert SelectionPolicy(max_clicks=2).propose(RoundState(label, pred), RNG) == every[:2]


def test_perfect_prediction_gives_no_edit_and_bad_options_raise():
    label, _ = _case(0)
    assert SelectionPolicy().propose(RoundState(label, label.copy()), RNG) == []
    with pytest.raises(ValueError, match="mode"):
        SelectionPolicy("eval")
    with pytest.raises(ValueError, match="max_clicks"):
        SelectionPolicy(max_clicks=0)
