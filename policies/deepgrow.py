"""MONAI DeepGrow's simulated click: one random click per round, drawn deep inside the larger error.

The rule of ``FindDiscrepancyRegionsd`` and ``AddRandomGuidanced``
(``add_guidance``, ``find_guidance``) in ``monai/apps/deepgrow/transforms.py`` of
github.com/Project-MONAI/MONAI, commit d388d1c6fec8cb3a0eebee5b5a0b9776ca59ca83:

1. Discrepancies: FN = label & ~prediction (MONAI's ``pos_disparity``), FP =
   prediction & ~label (``neg_disparity``).
2. Kind: FN when ``sum(FN) >= sum(FP)`` (a tie goes to FN), else FP; no click when
   both are empty. (MONAI's ``can_be_positive``/``can_be_negative`` guards only ever
   matter when there is no error at all.)
3. Voxel: with d the chessboard distance transform of the chosen mask (scipy's
   ``distance_transform_cdt``, default metric), MONAI draws an error voxel with
   probability proportional to ``exp(d) - 1``. ``distance_transform_cdt`` does not
   count the array's border as background: d is the chessboard distance to the
   nearest non-error voxel *inside the array*. MONAI applies it to the [C=1, D, H, W]
   map; the singleton channel axis adds no neighbours, so this is the 3D transform.
   When the error fills the whole array there is no background: scipy returns -1
   everywhere and MONAI's weights ``exp(-1) - 1`` normalise to a uniform draw; so here.
4. Sign: positive for FN.

MONAI draws whether to click at all, with probability ``data["probability"]``
(``AddRandomGuidanced.randomize``), which ``monai/apps/deepgrow/interaction.py`` sets
to 1.0 in evaluation (``1 - j / max_interactions`` only in training). A simedit user
clicks every round, so the probability is 1 and that draw, whose outcome is then
fixed, is not made.

Differences that do not change the distribution: the work is done on the chosen
error's bounding box grown by one voxel (clipped to the array), which gives the same
distances (every voxel outside the box is background, and the grown box holds the
nearest one); the weights are computed as ``exp(d - dmax) * (1 - exp(-d))``,
``exp(d) - 1`` scaled by ``exp(-dmax)``, which cannot overflow (MONAI's overflows to
inf, and its probabilities to NaN, once d > 709). The draw is ``rng.choice`` with
these probabilities over the error voxels in C order, the inverse-CDF draw MONAI's
``RandomState.choice`` makes. Distances are in voxels, as in MONAI (the spacing is
not used).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from benchmark.edits import Click
from benchmark.errors import check_pair
from benchmark.policy import RoundState


def _grown_box(mask: np.ndarray) -> tuple[slice, ...]:
    """The bounding box of the True voxels of a non-empty bool [X, Y, Z] mask, grown by
    one voxel on every side where the array allows."""
    box = []
    for axis, n in enumerate(mask.shape):
        hit = np.flatnonzero(mask.any(axis=tuple(a for a in range(mask.ndim) if a != axis)))
        box.append(slice(max(int(hit[0]) - 1, 0), min(int(hit[-1]) + 2, n)))
    return tuple(box)


def chosen_error(label: np.ndarray, prediction: np.ndarray) -> tuple[bool, np.ndarray] | None:
    """DeepGrow's choice of error kind: (positive, mask), or None without error.

    Args:
        label, prediction: bool [X, Y, Z].

    Returns:
        positive: True for under-segmentation (FN), chosen when its volume is at
        least the over-segmentation's; mask: bool [X, Y, Z], the chosen error.
    """
    check_pair(label, prediction)
    fn, fp = label & ~prediction, prediction & ~label
    n_fn, n_fp = int(np.count_nonzero(fn)), int(np.count_nonzero(fp))
    if n_fn == 0 and n_fp == 0:
        return None
    return (True, fn) if n_fn >= n_fp else (False, fp)


def stable_weights(distance: np.ndarray) -> np.ndarray:
    """float64 weights proportional to ``exp(d) - 1``, largest 1 - exp(-dmax), for d >= 1.

    ``exp(d) - 1 = exp(dmax) * exp(d - dmax) * (1 - exp(-d))``; both factors after
    ``exp(dmax)`` keep full relative precision and never overflow.
    """
    d = np.asarray(distance, dtype=np.float64)
    return np.exp(d - d.max()) * -np.expm1(-d)


def deepgrow_distribution(label: np.ndarray, prediction: np.ndarray) -> tuple[bool, np.ndarray, np.ndarray] | None:
    """The click's distribution: (positive, voxels, p), or None without error.

    Args:
        label, prediction: bool [X, Y, Z].

    Returns:
        positive: the sign of the click; voxels: int64 [N], the chosen error's voxels
        as flat C-order indices into [X, Y, Z], ascending; p: float64 [N], the
        probability of each, summing to 1.
    """
    chosen = chosen_error(label, prediction)
    if chosen is None:
        return None
    positive, mask = chosen
    box = _grown_box(mask)
    crop = mask[box]
    distance = ndi.distance_transform_cdt(crop, metric="chessboard")[crop]
    if distance.max() < 1:  # the error is the whole array: no background, uniform draw
        p = np.full(distance.shape, 1.0 / distance.size)
    else:
        w = stable_weights(distance)
        p = w / w.sum()
    local = np.nonzero(crop)
    voxels = np.ravel_multi_index(tuple(c + s.start for c, s in zip(local, box)), mask.shape)
    return positive, voxels.astype(np.int64), p


def deepgrow_probabilities(label: np.ndarray, prediction: np.ndarray) -> tuple[bool, np.ndarray] | None:
    """(positive, p): float64 [X, Y, Z], each voxel's probability of being clicked
    (0 outside the chosen error, summing to 1); None without error."""
    dist = deepgrow_distribution(label, prediction)
    if dist is None:
        return None
    positive, voxels, p = dist
    out = np.zeros(label.shape, np.float64)
    out.ravel()[voxels] = p
    return positive, out


def deepgrow_click(label: np.ndarray, prediction: np.ndarray, rng: np.random.Generator) -> Click | None:
    """DeepGrow's click (see module docstring); None without error.

    Args:
        label, prediction: bool [X, Y, Z].
        rng: the one draw (``rng.choice`` with probabilities: one uniform number).
    """
    dist = deepgrow_distribution(label, prediction)
    if dist is None:
        return None
    positive, voxels, p = dist
    flat = voxels[rng.choice(len(voxels), p=p)]
    return Click(tuple(int(c) for c in np.unravel_index(flat, label.shape)), positive)


class DeepgrowClick:
    """MONAI DeepGrow's simulated user: one random click per round in the larger error."""

    name = "deepgrow"

    def propose(self, state: RoundState, rng: np.random.Generator) -> list[Click]:
        click = deepgrow_click(state.label, state.prediction, rng)
        return [] if click is None else [click]
