"""Small generated volumes shared by tests."""

from __future__ import annotations

import numpy as np

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
