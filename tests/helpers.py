"""Small generated volumes shared by tests."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.case import Case


def ball(shape, centre, radius, spacing=(1.0, 1.0, 1.0)) -> np.ndarray:
    """bool [X, Y, Z]: voxels within ``radius`` mm of ``centre`` (voxel indices)."""
    grids = np.ogrid[tuple(slice(0, n) for n in shape)]
    d2 = sum(((g - c) * s) ** 2 for g, c, s in zip(grids, centre, spacing))
    return d2 <= radius**2


def tumour_case(shape=(40, 36, 28), centre=(20, 18, 14), radius=8.0, case_id="c0", seed=0) -> Case:
    """A case whose FLAIR is bright on a ball-shaped tumour, with noise."""
    rng = np.random.default_rng(seed)
    label = ball(shape, centre, radius)
    image = rng.normal(0, 0.3, (4, *shape)).astype(np.float32)
    image[0][label] += 3.0
    return Case(case_id=case_id, image=image, label=label)


def corrupted_ball(seed: int, shape=(48, 52, 40), radii=(8.0, 13.0)) -> tuple[np.ndarray, np.ndarray]:
    """(label, prediction): a ball of random radius near the centre, and a prediction
    with the errors of an automatic segmentation (benchmark.phantoms.corruption)."""
    from benchmark.phantoms.corruption import simulate_prediction

    rng = np.random.default_rng(seed)
    label = ball(shape, np.array(shape) / 2 + rng.uniform(-3, 3, 3), rng.uniform(*radii))
    return label, simulate_prediction(label, rng)


def corrupted_ellipsoid(seed: int, shape=(44, 48, 36)) -> tuple[np.ndarray, np.ndarray]:
    """(label, prediction): an axis-aligned ellipsoid of random radii 8-12 near the centre,
    and a prediction with an automatic segmentation's errors (benchmark.phantoms.corruption)."""
    from benchmark.phantoms.corruption import simulate_prediction

    rng = np.random.default_rng(seed)
    g = np.indices(shape)
    centre = np.array(shape).reshape(3, 1, 1, 1) / 2 + rng.uniform(-3, 3, (3, 1, 1, 1))
    label = (((g - centre) / rng.uniform(8, 12, (3, 1, 1, 1))) ** 2).sum(0) <= 1
    return label, simulate_prediction(label, rng)


def last_erosion(mask: np.ndarray) -> np.ndarray:
    """Independent reference for cores: repeated 6-connected erosion until empty; the
    last non-empty mask."""
    from scipy import ndimage

    last = mask
    while mask.any():
        last, mask = mask, ndimage.binary_erosion(mask)
    return last


@pytest.fixture
def one_thread():
    """Torch on one thread for the test (two threads crawl on a shared 2-core machine)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
