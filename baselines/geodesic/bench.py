"""``simedit bench geodesic``: our geodesic transform against FastGeodis and GeodisTK.

One input for all: a smooth random image (Gaussian-filtered noise, unit variance,
1 mm voxels) with ``seeds`` random foreground and as many background seeds. Each
implementation computes both maps (foreground and background) with the same lambda
and iteration count; the time is the median over ``repeats`` runs on this machine.

Accuracy: exact Dijkstra over the full volume is out of reach at BraTS size (26 edges a
voxel), so every implementation also runs on a central crop of the same image
(``crop``, by default 40^3 voxels, seeds drawn inside it) and is compared with
:func:`baselines.geodesic.dijkstra.geodesic_dijkstra` there: the largest absolute
difference over both maps. On the full volume each library is also compared with ours.

The three define the step cost between 26-neighbours (length L in mm, intensity
difference g) differently, checked on the installed FastGeodis 1.0.5 and GeodisTK 0.1.7
by letting them converge to exact Dijkstra under each formula:

- ours: sqrt((1 - lamb) L^2 + lamb g^2);
- FastGeodis (``generalised_geodesic3d(image, softmask, spacing, v, lamb, iterations)``,
  softmask 0 at seeds): (1 - lamb) L + lamb g, the same as ours at lambda 0 and 1;
- GeodisTK (``geodesic3d_raster_scan(I, S, spacing, lamb, iter)``, S 1 at seeds):
  L / ((1 - lamb) + lamb / (g + 1e-5)), the same as ours at lambda 0 only (at lambda 1
  it is L g: the step length times the difference).

So each is measured against exact Dijkstra under its own cost, and its maps are
compared with ours only at the lambdas where the costs agree. Both libraries are
optional, reported when importable, and never required by simedit.
"""

from __future__ import annotations

import importlib
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import click
import numpy as np
import torch
from scipy import ndimage as ndi

from baselines.geodesic.transform import geodesic_distance
from baselines.geodesic.dijkstra import dijkstra_26, geodesic_dijkstra

#: Large value FastGeodis multiplies its soft mask by (its "v": the distance of non-seeds at start).
_FASTGEODIS_V = 1e10

#: fn(image float32 [X, Y, Z], seeds bool [2, X, Y, Z], spacing, lamb, iterations) -> float [2, X, Y, Z]
Transform = Callable[[np.ndarray, np.ndarray, Sequence[float], float, int], np.ndarray]
#: fn(image float [X, Y, Z], seeds bool [X, Y, Z], spacing, lamb) -> float64 [X, Y, Z], exact
Exact = Callable[[np.ndarray, np.ndarray, Sequence[float], float], np.ndarray]


@dataclass(frozen=True)
class Implementation:
    """A geodesic transform under test and the exact solution of the distance it approximates.

    Attributes:
        name: as printed.
        run: the transform (both seed sets in one call or two).
        exact: exact Dijkstra under the same step cost.
        same_cost_as_ours_at: the lambdas at which its step cost equals ours (None: all),
            where its maps are compared with ours value by value.
    """

    name: str
    run: Transform
    exact: Exact
    same_cost_as_ours_at: tuple[float, ...] | None = None

    def same_cost_as_ours(self, lamb: float) -> bool:
        return self.same_cost_as_ours_at is None or lamb in self.same_cost_as_ours_at


def fastgeodis_dijkstra(image: np.ndarray, seeds: np.ndarray, spacing: Sequence[float], lamb: float) -> np.ndarray:
    """Exact distance under FastGeodis's step cost, (1 - lamb) * length + lamb * |dI|."""
    return dijkstra_26(image, seeds, spacing, lambda length, diff: (1.0 - lamb) * length + lamb * diff)


def geodistk_dijkstra(image: np.ndarray, seeds: np.ndarray, spacing: Sequence[float], lamb: float) -> np.ndarray:
    """Exact distance under GeodisTK's step cost, length / ((1 - lamb) + lamb / (|dI| + 1e-5))."""
    return dijkstra_26(image, seeds, spacing, lambda length, diff: length / ((1.0 - lamb) + lamb / (diff + 1e-5)))


def _ours(image, seeds, spacing, lamb, iterations) -> np.ndarray:
    return geodesic_distance(torch.from_numpy(image), torch.from_numpy(seeds), spacing, lamb, iterations).numpy()


def _fastgeodis(module) -> Transform:
    def run(image, seeds, spacing, lamb, iterations):
        x = torch.from_numpy(image)[None, None]
        maps = []
        for s in seeds:
            softmask = torch.from_numpy((~s).astype(np.float32))[None, None]
            distance = module.generalised_geodesic3d(x, softmask, list(spacing), _FASTGEODIS_V, lamb, iterations)
            maps.append(distance[0, 0])
        return torch.stack(maps).numpy()

    return run


def _geodistk(module) -> Transform:
    def run(image, seeds, spacing, lamb, iterations):
        return np.stack([module.geodesic3d_raster_scan(image, s.astype(np.uint8), [float(v) for v in spacing],
                                                       float(lamb), int(iterations)) for s in seeds])

    return run


OPTIONAL = ("FastGeodis (CPU)", "GeodisTK (raster scan)")


def available_implementations() -> list[Implementation]:
    """Ours, then FastGeodis and GeodisTK where importable."""
    found = [Implementation("simedit (PyTorch sweep)", _ours, geodesic_dijkstra)]
    for name, module_name in zip(OPTIONAL, ("FastGeodis", "GeodisTK")):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        if module_name == "FastGeodis":
            found.append(Implementation(name, _fastgeodis(module), fastgeodis_dijkstra, (0.0, 1.0)))
        else:
            found.append(Implementation(name, _geodistk(module), geodistk_dijkstra, (0.0,)))
    return found


def bench_input(shape: Sequence[int], seeds: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """float32 [X, Y, Z] smooth random image (unit variance) and bool [2, X, Y, Z] seed
    sets of ``seeds`` random voxels each."""
    image = ndi.gaussian_filter(rng.standard_normal(tuple(shape)).astype(np.float32), 2.0)
    image /= image.std()
    sets = np.zeros((2, *shape), bool)
    for s in sets:
        s[tuple(rng.integers(0, shape, size=(seeds, 3)).T)] = True
    return image, sets


def _median_seconds(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def bench_geodesic(shape: Sequence[int] = (240, 240, 155), seeds: int = 5, lamb: float = 1.0, iterations: int = 2,
                   repeats: int = 3, crop: int = 40, seed: int = 0,
                   implementations: Sequence[Implementation] | None = None) -> dict[str, Any]:
    """Time and accuracy of each geodesic implementation on one input.

    Args:
        shape: volume size (X, Y, Z), 1 mm voxels.
        seeds: seed voxels per map (foreground and background).
        lamb, iterations: the transform's settings, the same for all.
        repeats: timed runs per implementation (median reported).
        crop: edge of the cube, cut from the image's centre, on which every
            implementation is compared with exact Dijkstra.
        seed: seeds the input.
        implementations: what to run (default: :func:`available_implementations`;
            ours first, as the others' time and maps are compared with it).

    Returns:
        {"shape", "crop", "seeds", "lamb", "iterations", "repeats", "rows": [{"name",
        "seconds" (both maps, full volume), "max_error" (largest |d - exact| on the
        crop, exact under its own cost), "max_diff_vs_ours" (full volume; None where the
        costs differ)}], "missing": the optional libraries not importable}.
    """
    shape = tuple(int(n) for n in shape)
    if len(shape) != 3 or min(shape) < 2:
        raise ValueError(f"--shape must be three sizes of at least 2 voxels, got {shape}")
    if repeats < 1 or seeds < 1 or crop < 2:
        raise ValueError(f"--repeats and --seeds must be >= 1 and --crop >= 2, got {repeats}, {seeds}, {crop}")
    if not 0.0 <= lamb <= 1.0 or iterations < 1:
        raise ValueError(f"--lamb must lie in [0, 1] and --iterations be >= 1, got {lamb}, {iterations}")
    implementations = available_implementations() if implementations is None else list(implementations)
    rng = np.random.default_rng(seed)
    image, sets = bench_input(shape, seeds, rng)
    spacing = (1.0, 1.0, 1.0)
    edge = [min(crop, n) for n in shape]
    box = tuple(slice((n - e) // 2, (n - e) // 2 + e) for n, e in zip(shape, edge))
    small = np.ascontiguousarray(image[box])
    small_sets = np.zeros((2, *small.shape), bool)
    for s in small_sets:
        s[tuple(rng.integers(0, small.shape, size=(seeds, 3)).T)] = True

    rows, ours = [], None
    for impl in implementations:
        seconds, full = _median_seconds(lambda: impl.run(image, sets, spacing, lamb, iterations), repeats)
        exact = np.stack([impl.exact(small, s, spacing, lamb) for s in small_sets])
        approx = impl.run(small, small_sets, spacing, lamb, iterations)
        ours = full if ours is None else ours
        rows.append({"name": impl.name, "seconds": seconds, "max_error": float(np.max(np.abs(approx - exact))),
                     "max_diff_vs_ours": float(np.max(np.abs(full - ours))) if impl.same_cost_as_ours(lamb) else None})
    names = {impl.name for impl in implementations}
    return {"shape": shape, "crop": tuple(small.shape), "seeds": seeds, "lamb": lamb, "iterations": iterations,
            "repeats": repeats, "rows": rows, "missing": [n for n in OPTIONAL if n not in names]}


@click.command("geodesic")
@click.option("--shape", nargs=3, type=int, default=(240, 240, 155), show_default=True, help="Volume X Y Z.")
@click.option("--seeds", default=5, show_default=True, help="Seed voxels per map.")
@click.option("--lamb", default=1.0, show_default=True, help="Weight of the intensity term in [0, 1].")
@click.option("--iterations", default=2, show_default=True, help="Raster-scan sweeps.")
@click.option("--repeats", default=3, show_default=True, help="Timed runs per implementation (median).")
@click.option("--crop", default=40, show_default=True, help="Cube edge for the comparison with exact Dijkstra.")
@click.option("--seed", default=0, show_default=True)
def bench_geodesic_cmd(shape, seeds, lamb, iterations, repeats, crop, seed) -> None:
    """Time of one geodesic transform (fore- and background maps) here, against FastGeodis
    and GeodisTK when installed, with each one's largest error against exact Dijkstra."""
    try:
        r = bench_geodesic(shape, seeds, lamb, iterations, repeats, crop, seed)
    except ValueError as e:
        raise click.ClickException(str(e))
    x, y, z = r["shape"]
    click.echo(f"geodesic transform, fore- and background maps ({r['seeds']} seeds each), {x}x{y}x{z}, "
               f"lambda {r['lamb']}, {r['iterations']} iterations, CPU, median of {r['repeats']}")
    crop = "x".join(map(str, r["crop"]))
    click.echo(f"max error against exact 26-neighbour Dijkstra (under each one's own step cost) on a {crop} crop")
    ours = r["rows"][0]["seconds"]
    for row in r["rows"]:
        diff = "another step cost" if row["max_diff_vs_ours"] is None else f"{row['max_diff_vs_ours']:.3f}"
        click.echo(f"  {row['name']:24s} {row['seconds']:8.2f} s  ({row['seconds'] / ours:5.1f}x ours)  "
                   f"max error {row['max_error']:.3f}  max diff vs ours {diff}")
    for name in r["missing"]:
        click.echo(f"  {name:24s} not installed (optional; both build from source with pip)")
