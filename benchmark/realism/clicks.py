"""A person's clicks: a little off target, now and then on the wrong blob.

Voxels are (x, y, z) indices into the canonical [X, Y, Z] arrays; ``spacing`` is mm
along X, Y, Z. A click is made on an axial slice, so jitter moves it within that slice
(x, y) and never changes z.
"""

from __future__ import annotations

import cc3d
import edt
import numpy as np

from benchmark.edits import Click
from benchmark.policy import RoundState

#: Tries of the "redraw" rule before the intended voxel is kept.
REDRAWS = 20


def error_region(state: RoundState, positive: bool) -> np.ndarray:
    """bool [X, Y, Z]: missed tumour (label, not predicted) for a positive edit, false
    tumour (predicted, not label) for a negative one."""
    return (state.label & ~state.prediction) if positive else (state.prediction & ~state.label)


def jitter_offset(rng: np.random.Generator, scale_mm: float, distribution: str) -> np.ndarray:
    """One in-plane displacement in mm, float [2] (x, y): a normal draw with standard
    deviation ``scale_mm`` per axis, or a point uniform in the disc of radius ``scale_mm``."""
    if distribution == "gaussian":
        return rng.normal(0.0, scale_mm, 2)
    radius, angle = scale_mm * np.sqrt(rng.random()), rng.uniform(0.0, 2 * np.pi)
    return radius * np.array([np.cos(angle), np.sin(angle)])


def jitter_click(click: Click, state: RoundState, scale_mm: float, distribution: str, outside: str,
                 rng: np.random.Generator) -> Click:
    """``click`` moved in its slice by :func:`jitter_offset` (rounded to the nearest
    voxel, clipped to the volume). ``outside="redraw"`` draws again while the click lands
    outside the error it was meant for (:func:`error_region`), up to :data:`REDRAWS`
    times, and keeps the intended voxel if none landed inside."""
    shape = np.asarray(state.label.shape)
    spacing = np.asarray(state.spacing[:2], np.float64)
    region = error_region(state, click.positive) if outside == "redraw" else None
    for _ in range(REDRAWS if region is not None else 1):
        moved = np.array(click.voxel)
        moved[:2] = np.clip(np.rint(moved[:2] + jitter_offset(rng, scale_mm, distribution) / spacing), 0, shape[:2] - 1)
        if region is None or region[tuple(moved)]:
            return Click(tuple(int(c) for c in moved), click.positive)
    return click


def smaller_component_click(click: Click, state: RoundState, rng: np.random.Generator) -> Click:
    """The click a person makes on the wrong blob: at the deepest voxel (largest
    Euclidean distance to the outside, in mm; the first in C order on ties) of an error
    component of the same kind (26-connected) smaller than the one under the intended
    click, drawn uniformly among them. Unchanged where the intended voxel lies in no
    error component or no smaller one exists."""
    region = error_region(state, click.positive)
    if not region[click.voxel]:
        return click
    components = cc3d.connected_components(region, connectivity=26)
    sizes = np.bincount(components.ravel())
    smaller = np.flatnonzero((sizes < sizes[components[click.voxel]]) & (np.arange(len(sizes)) > 0) & (sizes > 0))
    if not len(smaller):
        return click
    chosen = components == smaller[rng.integers(len(smaller))]
    depth = edt.edt(chosen, anisotropy=tuple(float(s) for s in state.spacing), black_border=True)
    voxel = np.unravel_index(int(np.argmax(depth)), depth.shape)
    return Click(tuple(int(c) for c in voxel), click.positive)
