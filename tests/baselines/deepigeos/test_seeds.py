import numpy as np
import pytest

from baselines.deepigeos.seeds import Seeds, seeds_per_region, simulate_seeds


@pytest.mark.parametrize("size, n", [(1, 0), (29, 0), (30, 1), (100, 1), (101, 2), (250, 3), (1000, 10)])
def test_seed_count_follows_deepigeos(size, n):
    assert seeds_per_region(size) == n


def _scene():
    """Label and prediction with three error regions: under 250 voxels, over 40, under 20."""
    label = np.zeros((30, 30, 20), bool)
    prediction = np.zeros_like(label)
    label[2:12, 2:7, 2:7] = True  # 250 voxels missed
    prediction[20:25, 20:28, 10:11] = True  # 40 voxels too many
    label[20:24, 2:7, 15:16] = True  # 20 voxels missed: too small for seeds
    both = np.zeros_like(label)
    both[14:18, 14:18, 14:18] = True  # correct: no error
    return label | both, prediction | both


def test_seeds_lie_in_their_regions_in_deepigeos_numbers():
    label, prediction = _scene()
    seeds = simulate_seeds(label, prediction, np.random.default_rng(0))
    assert np.count_nonzero(seeds.foreground) == 3 and np.count_nonzero(seeds.background) == 1
    assert not (seeds.foreground & ~(label & ~prediction)).any()
    assert not (seeds.background & ~(prediction & ~label)).any()
    assert not seeds.foreground[20:24, 2:7, 15:16].any()


def test_seeds_are_random_but_reproducible():
    label, prediction = _scene()
    a = simulate_seeds(label, prediction, np.random.default_rng(0))
    b = simulate_seeds(label, prediction, np.random.default_rng(0))
    draws = {np.flatnonzero(simulate_seeds(label, prediction, np.random.default_rng(s)).foreground).tobytes()
             for s in range(5)}
    assert np.array_equal(a.foreground, b.foreground) and len(draws) > 1


def test_regions_are_26_connected():
    label = np.zeros((20, 20, 20), bool)
    label[2:8, 2:7, 2:3] = True  # 30 voxels
    label[8:14, 7:12, 3:4] = True  # 30 voxels touching the first only at a corner edge
    seeds = simulate_seeds(label, np.zeros_like(label), np.random.default_rng(0))
    assert np.count_nonzero(seeds.foreground) == 1  # one region of 60: ceil(60 / 100)


def test_perfect_prediction_gives_no_seeds_and_bad_arguments_raise():
    label, _ = _scene()
    assert simulate_seeds(label, label, np.random.default_rng(0)).empty
    with pytest.raises(ValueError, match="per_seed"):
        simulate_seeds(label, label, np.random.default_rng(0), per_seed=0)
    with pytest.raises(ValueError, match="bool"):
        Seeds(np.zeros((2, 2, 2), bool), np.zeros((2, 2, 2), np.uint8))
