"""The brush rules of ``policies.brush``, written the literal way with scipy and numpy.

Slow on purpose: full-volume and full-slice passes, a farthest pair over every voxel of
the region, a shortest path on the region's explicit 8-neighbour graph. It is the slow
side of the benchmark and an independent check of the fast implementation; the rules
(and their tie-breaks) are those of the ``policies.brush`` module docstring.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra

from benchmark.edits import Stroke
from policies.brush import brush_limits, check_masks, in_plane_spacing


def brush_strokes_scipy(
    label: np.ndarray,
    prediction: np.ndarray,
    mode: str = "test",
    *,
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0),
    min_area: int | None = None,
    min_length: int | None = None,
    max_strokes: int | None = None,
) -> list[Stroke]:
    """Same arguments and result as :func:`policies.brush.brush_strokes`."""
    limits = brush_limits(mode, min_area, min_length, max_strokes)
    check_masks(label, prediction)
    step = in_plane_spacing(spacing)
    remaining = {True: label & ~prediction, False: prediction & ~label}
    components = {sign: ndi.label(mask, np.ones((3, 3, 3)))[0] for sign, mask in remaining.items()}

    found: list[tuple[int, Stroke]] = []
    while len(found) < limits.max_strokes:
        areas = [remaining[True][:, :, z].sum() + remaining[False][:, :, z].sum() for z in range(label.shape[2])]
        z = int(np.argmax(areas))
        if areas[z] == 0:
            break
        candidates = []
        for positive in (True, False):
            regions, n = ndi.label(remaining[positive][:, :, z], np.ones((3, 3)))
            for i in range(1, n + 1):
                voxels = np.argwhere(regions == i)  # lexicographic (x, y) order
                candidates.append(((-len(voxels), not positive, tuple(voxels[0])), positive, voxels))
        _, positive, voxels = min(candidates, key=lambda c: c[0])
        if len(voxels) < limits.min_area:
            break
        path = _shortest_path(voxels, *_farthest_pair(voxels, step), step)
        if len(path) < limits.min_length:
            break
        found.append((len(voxels), Stroke(np.column_stack([path, np.full(len(path), z)]), positive)))
        x, y = voxels[0]
        remaining[positive] = remaining[positive] & (components[positive] != components[positive][x, y, z])
    found.sort(key=lambda item: -item[0])
    return [stroke for _, stroke in found]


def _farthest_pair(voxels: np.ndarray, spacing: tuple[float, float]) -> tuple[int, int]:
    """Indices (i < j) into ``voxels`` (int [M, 2], sorted) of the lexicographically
    first pair at the largest Euclidean distance, over every pair of voxels."""
    if len(voxels) == 1:
        return 0, 0
    p = voxels * np.asarray(spacing)
    best, pair = -1.0, (0, 0)
    for i in range(len(p) - 1):
        d2 = ((p[i + 1 :] - p[i]) ** 2).sum(1)
        j = int(np.argmax(d2))
        if d2[j] > best * (1 + 1e-9):
            best, pair = float(d2[j]), (i, i + 1 + j)
    return pair


def _shortest_path(voxels: np.ndarray, i: int, j: int, spacing: tuple[float, float]) -> np.ndarray:
    """int [N, 2]: shortest 8-connected path from voxels[i] to voxels[j] over the
    region's voxels, each step weighted by its length in mm."""
    index = {tuple(v): k for k, v in enumerate(voxels.tolist())}
    rows, cols, weights = [], [], []
    for dx, dy in ((0, 1), (1, -1), (1, 0), (1, 1)):
        length = float(np.hypot(dx * spacing[0], dy * spacing[1]))
        for k, (x, y) in enumerate(voxels.tolist()):
            other = index.get((x + dx, y + dy))
            if other is not None:
                rows.append(k)
                cols.append(other)
                weights.append(length)
    graph = coo_matrix((weights, (rows, cols)), shape=(len(voxels), len(voxels))).tocsr()
    _, predecessors = dijkstra(graph, directed=False, indices=i, return_predecessors=True)
    path = [j]
    while path[-1] != i:
        path.append(int(predecessors[path[-1]]))
    return voxels[path[::-1]]
