"""Shared by the tests of benchmark.phantoms: the small grid, a hand-made ball tumour, shell means."""

from __future__ import annotations

import numpy as np

from benchmark.phantoms.tumour import ENHANCING, NECROSIS, OEDEMA

SHAPE = (48, 48, 32)


def ball_tumour(template, radius: float):
    """A hand-made tumour at the template's deepest white matter: necrosis, rim, oedema shells.

    Returns (label uint8, strength float32), both [X, Y, Z] on the template's grid.
    """
    depth = np.where(template.tissue[1] > 0.9, template.depth, 0)
    centre = np.unravel_index(np.argmax(depth), depth.shape)
    distance = np.sqrt(sum((np.indices(depth.shape)[k] - centre[k]) ** 2 for k in range(3)))
    label = np.zeros(depth.shape, dtype=np.uint8)
    label[distance < 2 * radius] = OEDEMA
    label[distance < radius] = ENHANCING
    label[distance < radius - 1.5] = NECROSIS
    strength = np.where(label == OEDEMA, 1 - (distance - radius) / radius, 0).astype(np.float32)
    return label, strength


def shell_means(values: np.ndarray, signed: np.ndarray, edges) -> np.ndarray:
    """Mean of ``values`` where edges[i] <= ``signed`` < edges[i + 1] (both [X, Y, Z]): float [len(edges) - 1]."""
    return np.array([values[(signed >= a) & (signed < b)].mean() for a, b in zip(edges[:-1], edges[1:])])
