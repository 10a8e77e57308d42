"""The raster-scan geodesic transform against exact references.

Measured error of the sweep over the exact 26-neighbour Dijkstra distance, as a fraction
of the largest distance in the volume, max / mean over voxels, worst of several draws
(smooth random 2-channel images of unit standard deviation, Gaussian sigma 1 voxel, 3
random seeds, spacing (1, 1, 1); 10 draws at 16^3, 4 at 32^3):

    size  lamb   2 iterations       3 iterations       4 iterations
    16^3  0      0                  0                  0
    16^3  0.5    0                  0                  0
    16^3  0.9    0.033 / 0.00006    0                  0
    16^3  1      0.078 / 0.0006     0.018 / 0.00008    0
    32^3  0.5    0.009 / 0.000005   0                  0
    32^3  0.9    0.037 / 0.0004     0.025 / 0.00001    0
    32^3  1      0.129 / 0.0026     0.036 / 0.0003     0.015 / 0.00001

("0": equal up to float32 rounding, below 1e-5.) Paths that wind through intensity
valleys (lamb near 1) need more sweeps; the error concentrates in few voxels. A sweep value
is the length of a real path, so it is never below the exact distance, and more
iterations only lower it. The tests assert, on fixed 16^3 draws: 2 iterations within 0.1
(max) and 0.002 (mean) of the largest distance; 4 iterations exact to 1e-5.

At lamb = 0 the 26-neighbour metric is exact along axes and (2D and 3D) diagonals and
overestimates the Euclidean distance elsewhere, by at most 12.8% with isotropic voxels
(worst direction ~(1, 0.41, 0.32)); with spacing (1, 1.5, 3) the largest overestimate
measured here is 26.7%.
"""

import numpy as np
import pytest
import torch
from scipy.ndimage import distance_transform_edt, gaussian_filter

from baselines.geodesic.transform import geodesic_distance
from baselines.geodesic.dijkstra import geodesic_dijkstra

SHAPE = (16, 16, 16)
ANISOTROPIC = (1.0, 1.5, 3.0)


def smooth_image(seed: int, channels: int = 2, sigma: float = 1.0) -> np.ndarray:
    """float32 [C, X, Y, Z] smooth random image, unit standard deviation."""
    noise = np.random.default_rng(seed).normal(size=(channels, *SHAPE))
    image = gaussian_filter(noise, (0, sigma, sigma, sigma))
    return (image / image.std()).astype(np.float32)


def random_seeds(seed: int, count: int = 3) -> np.ndarray:
    """bool [X, Y, Z] with ``count`` random seed voxels."""
    seeds = np.zeros(SHAPE, bool)
    seeds[tuple(np.random.default_rng(seed + 1000).integers(0, SHAPE[0], (3, count)))] = True
    return seeds


def sweep(image, seeds, spacing=(1.0, 1.0, 1.0), lamb=1.0, iterations=2) -> np.ndarray:
    return geodesic_distance(torch.from_numpy(image), torch.from_numpy(seeds), spacing,
                             lamb, iterations).numpy()


@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), ANISOTROPIC])
@pytest.mark.parametrize("lamb", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("draw", [0, 1])
def test_matches_exact_dijkstra(draw, lamb, spacing):
    image, seeds = smooth_image(draw), random_seeds(draw)
    exact = geodesic_dijkstra(image, seeds, spacing, lamb)
    scale = exact.max()
    two, four = sweep(image, seeds, spacing, lamb, 2), sweep(image, seeds, spacing, lamb, 4)
    assert (two - exact).min() >= -1e-5 * scale
    assert (two - exact).max() <= 0.1 * scale
    assert (two - exact).mean() <= 0.002 * scale
    np.testing.assert_allclose(four, exact, rtol=0, atol=1e-5 * scale)


def test_two_iterations_are_exact_without_a_strong_intensity_term():
    image, seeds = smooth_image(2), random_seeds(2)
    for lamb in (0.0, 0.5):
        exact = geodesic_dijkstra(image, seeds, (1.0, 1.0, 1.0), lamb)
        np.testing.assert_allclose(sweep(image, seeds, lamb=lamb), exact, rtol=1e-5)


def test_more_iterations_never_increase_the_distance():
    image, seeds = smooth_image(3, sigma=0.7), random_seeds(3, count=2)
    maps = [sweep(image, seeds, lamb=1.0, iterations=k) for k in range(1, 5)]
    for fewer, more in zip(maps, maps[1:]):
        assert (more <= fewer).all()
    assert (maps[-1] < maps[0]).any()


def test_spatial_distance_is_the_chamfer_metric_isotropic():
    seeds = random_seeds(4)
    out = sweep(np.zeros(SHAPE, np.float32), seeds, lamb=0.0)
    # Independent closed form: a displacement sorted a >= b >= c voxels costs
    # (a - b) + sqrt2 (b - c) + sqrt3 c along 26-neighbour steps.
    grid = np.indices(SHAPE).reshape(3, -1).T
    steps = -np.sort(-np.abs(grid[:, None, :] - np.argwhere(seeds)[None]), axis=2)
    a, b, c = steps[..., 0], steps[..., 1], steps[..., 2]
    chamfer = ((a - b) + np.sqrt(2) * (b - c) + np.sqrt(3) * c).min(1).reshape(SHAPE)
    np.testing.assert_allclose(out, chamfer, rtol=1e-5, atol=1e-5)
    euclid = distance_transform_edt(~seeds)
    assert (out >= euclid - 1e-4).all()
    assert (out <= 1.1281 * euclid + 1e-4).all()


def test_spatial_distance_honours_anisotropic_spacing():
    seeds = np.zeros(SHAPE, bool)
    seeds[5, 6, 7] = True
    out = sweep(np.zeros(SHAPE, np.float32), seeds, ANISOTROPIC, lamb=0.0)
    euclid = distance_transform_edt(~seeds, sampling=ANISOTROPIC)
    assert (out >= euclid - 1e-4).all()
    assert (out <= 1.27 * euclid + 1e-4).all()
    along = np.zeros(SHAPE, bool)  # the axes and 2D/3D diagonals through the seed
    for direction in np.indices((3, 3, 3)).reshape(3, -1).T - 1:
        for t in range(16):
            voxel = np.array([5, 6, 7]) + t * direction
            if ((voxel >= 0) & (voxel < 16)).all():
                along[tuple(voxel)] = True
    np.testing.assert_allclose(out[along], euclid[along], rtol=1e-5)
    assert (out[~along] > euclid[~along] + 1e-3).sum() > 0.5 * (~along).sum()


def test_intensity_edges_stop_the_distance():
    image = np.zeros(SHAPE, np.float32)
    image[8:] = 5.0
    seeds = np.zeros(SHAPE, bool)
    seeds[2, 3, 4] = True
    out = sweep(image, seeds, lamb=1.0)
    np.testing.assert_allclose(out[:8], 0.0, atol=1e-6)
    np.testing.assert_allclose(out[8:], 5.0, rtol=1e-6)


def test_seed_sets_batched_zero_at_seeds_and_inf_when_empty():
    image = smooth_image(5)
    seeds = np.stack([random_seeds(5), random_seeds(6), np.zeros(SHAPE, bool)])
    out = sweep(image, seeds, lamb=0.7)
    assert out.shape == seeds.shape and out.dtype == np.float32
    for single, batched in zip(seeds, out):
        np.testing.assert_array_equal(batched, sweep(image, single, lamb=0.7))
    assert (out[:2][seeds[:2]] == 0).all() and (out[:2][~seeds[:2]] > 0).all()
    assert np.isposinf(out[2]).all()


def test_single_channel_image_equals_its_one_channel_stack():
    image, seeds = smooth_image(7, channels=1), random_seeds(7)
    np.testing.assert_array_equal(sweep(image[0], seeds), sweep(image, seeds))


@pytest.mark.parametrize("change, message", [
    (dict(seeds=np.zeros(SHAPE, np.uint8)), "seeds must be bool"),
    (dict(seeds=np.zeros((16, 16, 15), bool)), "same"),
    (dict(lamb=1.5), "lamb"),
    (dict(spacing=(1.0, 0.0, 1.0)), "spacing"),
    (dict(iterations=0), "iterations"),
    (dict(image=np.full(SHAPE, np.nan, np.float32)), "NaN"),
])
def test_rejects_bad_arguments_with_a_message(change, message):
    arguments = dict(image=np.zeros(SHAPE, np.float32), seeds=np.ones(SHAPE, bool),
                     spacing=(1.0, 1.0, 1.0), lamb=0.5, iterations=2) | change
    arguments["image"] = torch.from_numpy(arguments["image"])
    arguments["seeds"] = torch.from_numpy(arguments["seeds"])
    with pytest.raises(ValueError, match=message):
        geodesic_distance(**arguments)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu():
    image, seeds = torch.from_numpy(smooth_image(8, channels=4)), torch.from_numpy(random_seeds(8))
    both = torch.stack([seeds, ~seeds])
    on_cpu = geodesic_distance(image, both, ANISOTROPIC, 0.8, 2)
    on_gpu = geodesic_distance(image.cuda(), both.cuda(), ANISOTROPIC, 0.8, 2)
    assert on_gpu.device.type == "cuda"
    torch.testing.assert_close(on_gpu.cpu(), on_cpu, rtol=1e-5, atol=1e-5)
