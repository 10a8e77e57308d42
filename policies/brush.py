"""The brush-stroke user (paper Sec. 2.3): a stroke across a large 2D error region.

The paper's rule: on axial slices (a fixed index on axis 2), take the slice with the
largest error area, the largest 2D connected error region on it, the two points of
that region furthest apart, and the shortest path between them inside the region. That
path is the stroke.

Choices the paper leaves open, fixed here (and followed by ``policies.brush_reference``):

- Slice: the one with the most error voxels (under- and over-segmentation together);
  ties go to the lowest slice index.
- Region: 2D components are 8-connected in-plane and computed per error type, so each
  stroke has one sign (under-segmentation -> positive, over -> negative). The largest
  wins; ties go to positive, then to the region whose lexicographically first voxel
  (x, y) is smallest.
- Ends: the exact Euclidean diameter of the region's voxel centres, honouring the
  in-plane spacing; ties go to the lexicographically smallest pair, the stroke running
  from the smaller end to the larger.
- Path: shortest 8-connected path inside the region, each step weighted by its length
  in mm (so diagonals cost more than straight steps).
- Several strokes (test mode): the rule is repeated on the error not yet marked, after
  removing the whole 3D error component (26-connected, same sign) that each chosen
  region belongs to. So every stroke marks a different error blob, and a blob spanning
  many slices is not stroked again on its neighbouring slices. Strokes are returned
  largest region first.
- Limits: the search stops at the first candidate whose region has fewer than
  ``min_area`` voxels or whose stroke has fewer than ``min_length`` voxels, or after
  ``max_strokes`` strokes. Training mode (at most one stroke, short strokes ignored)
  therefore returns [] when the paper's stroke is short.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import cc3d
import dijkstra3d
import numpy as np

from benchmark.edits import Stroke
from benchmark.names import unknown_name
from benchmark.policy import RoundState, not_repeated


@dataclass(frozen=True)
class BrushLimits:
    """How many strokes, and which regions and strokes are worth drawing.

    Attributes:
        min_area: regions with fewer voxels (on their slice) are not stroked.
        min_length: strokes with fewer voxels are not drawn.
        max_strokes: at most this many strokes per round.
    """

    min_area: int
    min_length: int
    max_strokes: int

    def __post_init__(self) -> None:
        for name in ("min_area", "min_length", "max_strokes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"brush {name} must be an integer >= 1, got {value!r}")


#: Defaults per mode. Test: a few strokes on regions of at least 20 voxels (20 mm^2 at
#: 1 mm), as a user would mark the medium-size boundary errors the tool is for.
#: Train (paper Sec. 2.4): at most one stroke, strokes under 10 voxels ignored.
MODE_LIMITS = {
    "test": BrushLimits(min_area=20, min_length=1, max_strokes=3),
    "train": BrushLimits(min_area=1, min_length=10, max_strokes=1),
}


def brush_limits(
    mode: str = "test",
    min_area: int | None = None,
    min_length: int | None = None,
    max_strokes: int | None = None,
) -> BrushLimits:
    """The mode's default limits, with any given value replacing its default."""
    if mode not in MODE_LIMITS:
        raise ValueError(unknown_name("brush mode", mode, sorted(MODE_LIMITS)))
    base = MODE_LIMITS[mode]
    return BrushLimits(
        min_area=base.min_area if min_area is None else min_area,
        min_length=base.min_length if min_length is None else min_length,
        max_strokes=base.max_strokes if max_strokes is None else max_strokes,
    )


def brush_strokes(
    label: np.ndarray,
    prediction: np.ndarray,
    mode: str = "test",
    *,
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0),
    min_area: int | None = None,
    min_length: int | None = None,
    max_strokes: int | None = None,
) -> list[Stroke]:
    """The brush strokes a user draws to correct ``prediction`` (rules: module docstring).

    Args:
        label: bool [X, Y, Z], ground truth.
        prediction: bool [X, Y, Z], current segmentation.
        mode: "test" or "train"; picks the default limits (:data:`MODE_LIMITS`).
        spacing: voxel size in mm along X, Y, Z (X and Y weigh distances in-plane).
        min_area, min_length, max_strokes: override the mode's limits.

    Returns:
        Strokes, largest region first, each with voxels int [N, 3] (x, y, z) on one
        axial slice, ordered along the path; [] when no region qualifies.
    """
    limits = brush_limits(mode, min_area, min_length, max_strokes)
    check_masks(label, prediction)
    step = in_plane_spacing(spacing)
    label, prediction = np.ascontiguousarray(label), np.ascontiguousarray(prediction)
    # The error as a sparse voxel list: flat indices (sorted), coordinates and sign.
    flat = np.flatnonzero(label != prediction)
    under = label.ravel()[flat]
    _, ny, nz = label.shape
    x, rest = np.divmod(flat, ny * nz)
    y, z = np.divmod(rest, nz)
    alive = np.ones(len(flat), bool)

    found: list[tuple[int, Stroke]] = []
    while len(found) < limits.max_strokes:
        areas = np.bincount(z[alive], minlength=nz)
        k = int(np.argmax(areas))
        if areas[k] == 0:
            break
        on_slice = np.flatnonzero(alive & (z == k))
        region, origin, positive = _largest_region(x[on_slice], y[on_slice], under[on_slice])
        area = int(np.count_nonzero(region))
        if area < limits.min_area:
            break
        path = diameter_path(region, step) + origin
        if len(path) < limits.min_length:
            break
        found.append((area, Stroke(np.column_stack([path, np.full(len(path), k)]), positive)))
        if len(found) < limits.max_strokes:
            alive &= ~_component_members(label, prediction, positive, (*path[0], k), (x, y, z))
    found.sort(key=lambda item: -item[0])
    return [stroke for _, stroke in found]


def diameter_path(region: np.ndarray, spacing: tuple[float, float] = (1.0, 1.0)) -> np.ndarray:
    """The shortest path inside a 2D region between its two points furthest apart.

    Args:
        region: bool [X, Y], one 8-connected region (non-empty).
        spacing: pixel size in mm along X and Y.

    Returns:
        int [N, 2] (x, y), from one end of the region's diameter to the other, each
        point an 8-neighbour of the previous one, all inside ``region``.
    """
    xs, ys = np.nonzero(region.any(1))[0], np.nonzero(region.any(0))[0]
    x0, y0 = xs[0], ys[0]
    crop = region[x0 : xs[-1] + 1, y0 : ys[-1] + 1]
    start, end = farthest_pair(_row_extremes(crop), spacing)
    if start == end:
        return np.array([start], np.intp) + (x0, y0)
    dist = dijkstra3d.euclidean_distance_field(
        crop[:, :, None].view(np.uint8), (*start, 0), anisotropy=(*spacing, 1.0)
    )[:, :, 0]
    return _trace_back(dist, start, end, spacing) + (x0, y0)


def farthest_pair(points: np.ndarray, spacing: tuple[float, float] = (1.0, 1.0)) -> tuple[tuple[int, int], tuple[int, int]]:
    """The two points furthest apart (Euclidean, in mm), by brute force.

    Args:
        points: int [M, 2] (x, y), sorted lexicographically, no duplicates.
        spacing: size in mm of one step along x and y.

    Returns:
        (start, end), start < end lexicographically; among equally distant pairs the
        lexicographically smallest. A single point gives (p, p).
    """
    scaled = points * np.asarray(spacing, float)
    d2 = ((scaled[:, None, :] - scaled[None, :, :]) ** 2).sum(-1)
    i, j = np.argwhere(np.triu(d2 >= d2.max() * (1 - 1e-9)))[0] if len(points) > 1 else (0, 0)
    return tuple(int(c) for c in points[i]), tuple(int(c) for c in points[j])


def check_masks(label: np.ndarray, prediction: np.ndarray) -> None:
    """Raise unless label and prediction are bool [X, Y, Z] arrays of one shape."""
    for name, a in (("label", label), ("prediction", prediction)):
        if not isinstance(a, np.ndarray) or a.ndim != 3 or a.dtype != bool:
            raise ValueError(
                f"brush: {name} must be a bool [X, Y, Z] array, got "
                f"{getattr(a, 'dtype', type(a).__name__)} {getattr(a, 'shape', '')}"
            )
    if label.shape != prediction.shape:
        raise ValueError(f"brush: label {label.shape} and prediction {prediction.shape} differ in shape")


def in_plane_spacing(spacing: tuple[float, float, float]) -> tuple[float, float]:
    """(sx, sy) from a 3-tuple of positive voxel sizes in mm; raise otherwise."""
    s = np.asarray(spacing, float)
    if s.shape != (3,) or not np.all(np.isfinite(s)) or np.any(s <= 0):
        raise ValueError(f"brush: spacing must be 3 positive voxel sizes in mm (x, y, z), got {spacing!r}")
    return float(s[0]), float(s[1])


@dataclass(frozen=True)
class BrushPolicy:
    """Simulated user drawing brush strokes (see the module docstring for the rules).

    ``mode="test"``: up to ``max_strokes`` (default 3) strokes on regions of at least
    ``min_area`` (default 20) voxels. ``mode="train"``: at most one stroke, none when it
    would be shorter than ``min_length`` (default 10) voxels.
    """

    mode: str = "test"
    min_area: int | None = None
    min_length: int | None = None
    max_strokes: int | None = None
    name: ClassVar[str] = "brush"

    def __post_init__(self) -> None:
        brush_limits(self.mode, self.min_area, self.min_length, self.max_strokes)

    def propose(self, state: RoundState, rng: np.random.Generator) -> list[Stroke]:
        """This round's strokes (deterministic: ``rng`` is not used)."""
        strokes = brush_strokes(
            state.label,
            state.prediction,
            self.mode,
            spacing=state.spacing,
            min_area=self.min_area,
            min_length=self.min_length,
            max_strokes=self.max_strokes,
        )
        return not_repeated(strokes, state.history)


def _largest_region(x: np.ndarray, y: np.ndarray, under: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """The largest 8-connected single-sign region of one slice's error voxels.

    Args:
        x, y: int [M], coordinates of the slice's error voxels (M >= 1).
        under: bool [M], True for under-segmentation, False for over.

    Returns:
        (region, origin, positive): region bool [W, H] within the voxels' bounding box,
        whose corner is at origin int [2] (x, y); positive for under-segmentation.
    """
    origin = np.array([x.min(), y.min()])
    error = np.zeros((x.max() - origin[0] + 1, y.max() - origin[1] + 1), np.uint8)
    error[x - origin[0], y - origin[1]] = np.where(under, 1, 2)
    labels = cc3d.connected_components(error, connectivity=8)
    flat = labels.ravel()
    sizes = np.bincount(flat)
    sizes[0] = 0
    tied = np.flatnonzero(sizes == sizes.max())
    if len(tied) > 1:
        # Positive first, then the region whose first voxel in (x, y) order comes first.
        first = [int(np.argmax(flat == t)) for t in tied]
        tied = [min(zip(tied, first), key=lambda tf: (error.ravel()[tf[1]] != 1, tf[1]))[0]]
    region = labels == tied[0]
    return region, origin, bool(error[region][0] == 1)


def _component_members(
    label: np.ndarray,
    prediction: np.ndarray,
    positive: bool,
    seed: tuple[int, int, int],
    voxels: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> np.ndarray:
    """Which of ``voxels`` lie in the 26-connected error component holding ``seed``.

    The error is label & ~prediction when ``positive`` else prediction & ~label;
    ``seed`` (x, y, z) is one of its voxels, and ``voxels`` must hold every error voxel
    of that sign. Only a box around the seed is labelled; it is pushed out on the sides
    the component reaches until the component no longer reaches a side of the box that
    lies inside the volume. The component is then complete, as any continuation would
    cross that side.

    Args:
        voxels: (x, y, z), int [M] each, the voxels to test.

    Returns:
        bool [M].
    """
    shape = np.array(label.shape)
    seed_at = np.array(seed)
    lo, hi = np.maximum(seed_at - _MARGIN, 0), np.minimum(seed_at + 1 + _MARGIN, shape)
    while True:
        box = tuple(slice(a, b) for a, b in zip(lo, hi))
        mask = label[box] & ~prediction[box] if positive else prediction[box] & ~label[box]
        labels = cc3d.connected_components(mask.view(np.uint8), connectivity=26)
        inside = np.flatnonzero(np.logical_and.reduce([(c >= a) & (c < b) for c, a, b in zip(voxels, lo, hi)]))
        local = tuple(c[inside] - a for c, a in zip(voxels, lo))
        members = np.zeros(len(voxels[0]), bool)
        members[inside] = labels[local] == labels[tuple(seed_at - lo)]
        first = np.array([c[members].min() for c in voxels])
        last = np.array([c[members].max() for c in voxels])
        low, high = (first == lo) & (lo > 0), (last == hi - 1) & (hi < shape)
        if not (low | high).any():
            return members
        # Push out the sides the component reaches, by at least half its extent; keep
        # the others one voxel beyond it.
        grow = np.maximum(_MARGIN, (last - first) // 2)
        lo = np.maximum(first - np.where(low, grow, 1), 0)
        hi = np.minimum(last + 1 + np.where(high, grow, 1), shape)


#: Least number of voxels a side of the box around a component is pushed out by (at
#: least half the component's extent) while looking for the component's extent.
_MARGIN = 8


def _row_extremes(region: np.ndarray) -> np.ndarray:
    """int [M, 2]: the first and last region voxel of every row, sorted, unique.

    Every vertex of the region's convex hull is one of them, and a farthest pair only
    uses hull vertices, so they suffice for the diameter (and keep all its ties).
    """
    rows = np.flatnonzero(region.any(1))
    sub = region[rows]
    first = np.argmax(sub, axis=1)
    last = sub.shape[1] - 1 - np.argmax(sub[:, ::-1], axis=1)
    pts = np.concatenate([np.column_stack([rows, first]), np.column_stack([rows, last])])
    return np.unique(pts, axis=0)


def _trace_back(
    dist: np.ndarray, start: tuple[int, int], end: tuple[int, int], spacing: tuple[float, float]
) -> np.ndarray:
    """Follow a distance field from ``end`` down to ``start`` (0 there).

    Args:
        dist: float [X, Y], path length in mm from ``start`` inside the region, inf outside.

    Returns:
        int [N, 2] path from ``start`` to ``end``.
    """
    padded = np.pad(dist.astype(np.float64), 1, constant_values=np.inf)
    d = np.array([-1, 0, 1])
    steps = np.hypot(d[:, None] * spacing[0], d[None, :] * spacing[1])
    steps[1, 1] = np.inf
    path = [end]
    x, y = end
    while (x, y) != start:
        # Neighbour from which this voxel is reached most cheaply; ties: nearer start.
        cost = padded[x : x + 3, y : y + 3] + steps
        best = np.flatnonzero(cost <= cost.min() * (1 + 1e-6))
        k = best[np.argmin(padded[x : x + 3, y : y + 3].ravel()[best])]
        x, y = x + k // 3 - 1, y + k % 3 - 1
        path.append((x, y))
    return np.array(path[::-1], np.intp)
