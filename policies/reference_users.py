"""Click users of other interactive-segmentation harnesses, for comparison.

Each proposes one click per round (or nothing when the prediction is perfect):

- :class:`RitmClick` (RITM, ``isegm/inference/clicker.py``): the Euclidean distance
  transforms of the whole false-negative and false-positive maps, the volume border
  counting as boundary; the click goes where the larger maximum is (positive only if
  the false-negative maximum is strictly larger), never on a voxel clicked before.
- :class:`RandomClick`: a uniformly random error voxel. Choosing the error kind with
  probability proportional to its volume and then a voxel of that kind uniformly is
  the same as drawing uniformly from all error voxels, which is what it does.

Distances honour the voxel spacing (mm), unlike the originals, which work in pixels.
The CVPR 2025 challenge's user is :class:`policies.cvpr25_click.Cvpr25Click`.
"""

from __future__ import annotations

import edt
import numpy as np

from benchmark.edits import Click
from benchmark.errors import check_pair
from benchmark.policy import RoundState


def _bounding_box(flat_indices: np.ndarray, shape: tuple[int, ...]) -> tuple[slice, ...]:
    coords = np.unravel_index(flat_indices, shape)
    return tuple(slice(int(c.min()), int(c.max()) + 1) for c in coords)


def ritm_click(
    label: np.ndarray,
    prediction: np.ndarray,
    spacing: tuple[float, float, float],
    clicked: np.ndarray | None = None,
) -> Click | None:
    """RITM's click (see module docstring); None without error (or all of it clicked).

    Ties go to the first maximal voxel in C order, as in RITM.

    Args:
        label, prediction: bool [X, Y, Z].
        spacing: voxel size in mm along X, Y, Z.
        clicked: int [N, 3], voxels clicked before, excluded (RITM's not-clicked map).
    """
    check_pair(label, prediction)
    wrong = np.flatnonzero(label ^ prediction)
    if len(wrong) == 0:
        return None
    box = _bounding_box(wrong, label.shape)
    # One transform of the kind map: each voxel's distance to the nearest voxel of
    # another value, i.e. the FN map's EDT on FN voxels and the FP map's on FP voxels.
    kind = label[box].view(np.uint8) + 2 * prediction[box].view(np.uint8)
    kind[kind == 3] = 0  # 1 = false negative, 2 = false positive, 0 = correct
    distance = edt.edt(kind, anisotropy=spacing, black_border=True)
    if clicked is not None and len(clicked):
        inside = np.asarray(clicked) - [s.start for s in box]
        inside = inside[((inside >= 0) & (inside < distance.shape)).all(1)]
        distance[tuple(inside.T)] = 0
    best = {}
    for value in (1, 2):
        on_kind = np.where(kind == value, distance, 0)
        flat = int(np.argmax(on_kind))
        best[value] = (on_kind.ravel()[flat], flat)
    positive = best[1][0] > best[2][0]
    peak, flat = best[1 if positive else 2]
    if peak == 0:
        return None
    voxel = np.add(np.unravel_index(flat, distance.shape), [s.start for s in box])
    return Click(tuple(voxel), positive)


def random_click(label: np.ndarray, prediction: np.ndarray, rng: np.random.Generator) -> Click | None:
    """A uniformly random error voxel, positive on under-segmentation; None without error."""
    check_pair(label, prediction)
    wrong = np.flatnonzero(label ^ prediction)
    if len(wrong) == 0:
        return None
    voxel = np.unravel_index(wrong[rng.integers(len(wrong))], label.shape)
    return Click(tuple(voxel), bool(label[voxel]))


class RitmClick:
    """RITM's simulated user: one click per round, never twice on the same voxel."""

    name = "ritm"

    def propose(self, state: RoundState, rng: np.random.Generator) -> list[Click]:
        """One click (deterministic: ``rng`` is not used)."""
        clicked = [c.voxel for c in state.history.of_tool("selection")]
        click = ritm_click(state.label, state.prediction, state.spacing, np.asarray(clicked, np.intp).reshape(-1, 3))
        return [] if click is None else [click]


class RandomClick:
    """A user who clicks a random wrong voxel: one click per round."""

    name = "random"

    def propose(self, state: RoundState, rng: np.random.Generator) -> list[Click]:
        click = random_click(state.label, state.prediction, rng)
        return [] if click is None else [click]
