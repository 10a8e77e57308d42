"""Exact geodesic distance by Dijkstra over the 26-neighbour voxel graph (small volumes).

The reference that baselines/geodesic/transform.py's raster scan is measured against: the same
graph and step cost (see that module), solved exactly by scipy's sparse-graph Dijkstra.
Memory and time grow with 26 edges per voxel: meant for volumes of up to ~50^3.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

import numpy as np
from scipy.sparse import csr_array
from scipy.sparse.csgraph import dijkstra


def geodesic_dijkstra(image: np.ndarray, seeds: np.ndarray,
                      spacing: Sequence[float] = (1.0, 1.0, 1.0),
                      lamb: float = 1.0) -> np.ndarray:
    """Exact shortest-path distance from every voxel to the nearest seed.

    Args:
        image: float [C, X, Y, Z] or [X, Y, Z]; the intensity term uses the Euclidean
            norm of the difference over channels.
        seeds: bool [X, Y, Z].
        spacing: voxel size in mm along X, Y, Z.
        lamb: weight of the intensity term in [0, 1]; a step between 26-neighbours p, q
            costs sqrt((1 - lamb) * d(p, q)^2 + lamb * |I(p) - I(q)|^2), d in mm.

    Returns:
        float64 [X, Y, Z]; 0 at seeds, +inf everywhere when there are no seeds.
    """
    image = np.asarray(image, dtype=np.float64)
    image = image if image.ndim == 4 else image[None]
    seeds = np.asarray(seeds)
    if seeds.dtype != bool or seeds.shape != image.shape[1:]:
        raise ValueError(f"geodesic_dijkstra: seeds must be bool {image.shape[1:]} like the "
                         f"image grid, got {seeds.dtype} {seeds.shape}")
    if not seeds.any():
        return np.full(seeds.shape, np.inf)
    return dijkstra_26(image, seeds, spacing,
                       lambda length, contrast: np.sqrt((1 - lamb) * length**2 + lamb * contrast**2))


def dijkstra_26(image: np.ndarray, seeds: np.ndarray, spacing: Sequence[float],
                step_cost: Callable[[float, np.ndarray], np.ndarray]) -> np.ndarray:
    """Exact shortest paths over the 26-neighbour graph under any step cost.

    Args:
        image: float [C, X, Y, Z] or [X, Y, Z].
        seeds: bool [X, Y, Z], at least one voxel set.
        spacing: voxel size in mm along X, Y, Z.
        step_cost: (step length in mm, intensity difference between the two voxels:
            its Euclidean norm over channels, float64 array) -> cost array.

    Returns:
        float64 [X, Y, Z], 0 at seeds.
    """
    image = np.asarray(image, dtype=np.float64)
    image = image if image.ndim == 4 else image[None]
    shape = seeds.shape
    index = np.arange(seeds.size).reshape(shape)
    tails, heads, weights = [], [], []
    for offset in itertools.product((-1, 0, 1), repeat=3):
        if offset == (0, 0, 0):
            continue
        source = tuple(slice(max(-o, 0), n - max(o, 0)) for o, n in zip(offset, shape))
        target = tuple(slice(max(o, 0), n - max(-o, 0)) for o, n in zip(offset, shape))
        length = math.sqrt(sum((o * s) ** 2 for o, s in zip(offset, spacing)))
        contrast = np.sqrt(((image[(slice(None), *source)] - image[(slice(None), *target)]) ** 2).sum(0))
        tails.append(index[source].ravel())
        heads.append(index[target].ravel())
        weights.append(step_cost(length, contrast).ravel())
    # Zero-cost steps (lamb = 1 on a flat image) stay edges: csgraph keeps explicit
    # zeros of sparse input.
    graph = csr_array((np.concatenate(weights), (np.concatenate(tails), np.concatenate(heads))),
                      shape=(seeds.size, seeds.size))
    distance = dijkstra(graph, directed=True, indices=np.flatnonzero(seeds), min_only=True)
    return distance.reshape(shape)
