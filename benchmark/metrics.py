"""Segmentation metrics per round, and session metrics over one session's curve.

Masks are bool [X, Y, Z] in the canonical voxel order; ``spacing`` is the voxel size in
mm along X, Y, Z. Every function is pure and deterministic.

Surfaces and distances (hd95, surface_dice): a mask's surface is the set of its voxels
with at least one of their 6 face neighbours outside the mask (mask minus its
6-connected erosion; the volume border counts as outside), as in medpy and MONAI.
Distances are Euclidean, in mm, between surface voxel centres, computed with the ``edt``
package on the union's bounding box only.

Empty masks follow the BraTS leaderboard rules, except that HD95 with exactly one empty
mask is nan unless the caller gives a penalty (BraTS uses :data:`BRATS_HD95_PENALTY`).
"""

from __future__ import annotations

from collections.abc import Sequence

import edt
import numpy as np

#: HD95 (mm) the BraTS leaderboard assigns when exactly one of the masks is empty:
#: the diagonal of the 240 x 240 x 155 1-mm grid.
BRATS_HD95_PENALTY = 373.13

Spacing = tuple[float, float, float]


def dice(pred: np.ndarray, gt: np.ndarray) -> float:
    """Dice coefficient 2|P & G| / (|P| + |G|) of two bool [X, Y, Z] masks.

    Both empty gives 1.0 (BraTS/medpy convention: nothing to find, nothing found);
    exactly one empty gives 0.0.
    """
    _check_masks(pred, gt)
    total = np.count_nonzero(pred) + np.count_nonzero(gt)
    if total == 0:
        return 1.0
    return float(2 * np.count_nonzero(pred & gt) / total)


def hd95(
    pred: np.ndarray,
    gt: np.ndarray,
    spacing: Spacing = (1.0, 1.0, 1.0),
    *,
    directed_max: bool = False,
    empty_penalty: float | None = None,
) -> float:
    """95th-percentile Hausdorff distance in mm between the surfaces of two bool masks.

    Args:
        pred, gt: bool [X, Y, Z].
        spacing: voxel size in mm along X, Y, Z.
        directed_max: False (default, medpy's ``hd95``): the 95th percentile of the
            distances of both directions pooled (pred surface to gt surface, and gt
            surface to pred surface). True (BraTS, MONAI ``compute_hausdorff_distance``
            with ``percentile=95``): the larger of the two directed 95th percentiles,
            which is never smaller than the pooled one.
        empty_penalty: returned when exactly one mask is empty; None gives nan.

    Returns:
        0.0 when both masks are empty; ``empty_penalty`` (nan by default) when exactly
        one is; otherwise the distance (numpy's linear-interpolation percentile).
    """
    _check_masks(pred, gt)
    spacing = _check_spacing(spacing)
    has_pred, has_gt = pred.any(), gt.any()
    if not (has_pred or has_gt):
        return 0.0
    if not (has_pred and has_gt):
        return float("nan") if empty_penalty is None else float(empty_penalty)
    pred_to_gt, gt_to_pred = _surface_distances(pred, gt, spacing)
    if directed_max:
        return float(max(np.percentile(pred_to_gt, 95), np.percentile(gt_to_pred, 95)))
    return float(np.percentile(np.concatenate([pred_to_gt, gt_to_pred]), 95))


def surface_dice(pred: np.ndarray, gt: np.ndarray, spacing: Spacing, tolerance_mm: float = 2.0) -> float:
    """Normalised surface Dice (NSD): the fraction of both surfaces within tolerance.

    (#pred surface voxels within ``tolerance_mm`` of the gt surface + #gt surface voxels
    within it of the pred surface) / (#pred surface voxels + #gt surface voxels); a
    distance equal to the tolerance counts as within. Each surface voxel weighs 1: this
    equals MONAI's ``compute_surface_dice`` (default ``use_subvoxels=False``). DeepMind's
    surface-distance (used by the CVPR 2025 interactive 3D challenge) instead places
    area-weighted surface elements between voxels and scores higher: 0.83 against 0.68
    here for a radius-15 sphere shifted by 3 mm at 2 mm tolerance. Compare NSD values
    only within one implementation.

    Args:
        pred, gt: bool [X, Y, Z].
        spacing: voxel size in mm along X, Y, Z.
        tolerance_mm: the acceptable surface deviation, >= 0.

    Returns:
        1.0 when both masks are empty, 0.0 when exactly one is, else a value in [0, 1].
    """
    _check_masks(pred, gt)
    spacing = _check_spacing(spacing)
    if not (np.isfinite(tolerance_mm) and tolerance_mm >= 0):
        raise ValueError(f"tolerance_mm must be a finite distance >= 0 in mm, got {tolerance_mm!r}")
    has_pred, has_gt = pred.any(), gt.any()
    if not (has_pred or has_gt):
        return 1.0
    if not (has_pred and has_gt):
        return 0.0
    pred_to_gt, gt_to_pred = _surface_distances(pred, gt, spacing)
    within = np.count_nonzero(pred_to_gt <= tolerance_mm) + np.count_nonzero(gt_to_pred <= tolerance_mm)
    return float(within / (pred_to_gt.size + gt_to_pred.size))


def volumes(pred: np.ndarray, gt: np.ndarray, spacing: Spacing) -> dict[str, float]:
    """Volumes in mm^3 of two bool [X, Y, Z] masks' disagreement.

    Returns:
        ``{"gt_mm3": |G|, "over_mm3": |P & ~G|, "under_mm3": |G & ~P|}``, each times the
        voxel volume; the prediction's volume is gt + over - under.
    """
    _check_masks(pred, gt)
    voxel_mm3 = float(np.prod(_check_spacing(spacing)))
    n_pred, n_gt, n_both = (int(np.count_nonzero(m)) for m in (pred, gt, pred & gt))
    return {
        "gt_mm3": n_gt * voxel_mm3,
        "over_mm3": (n_pred - n_both) * voxel_mm3,
        "under_mm3": (n_gt - n_both) * voxel_mm3,
    }


def reached(dice: Sequence[float], threshold: float) -> bool:
    """Whether any round of a session's Dice curve (round 0 first) reaches ``threshold``.

    NoF@t over a set of sessions is the number with ``reached(curve, t) == False``; give
    the curve truncated to the interaction budget.
    """
    return bool(np.any(_check_curve(dice, None) >= threshold))


def noc(dice: Sequence[float], interactions: Sequence[float], threshold: float, budget: float) -> float:
    """Number of interactions a session needed to reach Dice >= ``threshold`` (NoC@t).

    Args:
        dice: Dice per round, round 0 (no edits yet) first.
        interactions: interactions spent up to each round (e.g. cumulative edits),
            non-decreasing, so round 0 is normally 0.
        threshold: the Dice to reach.
        budget: what a session counts if it never reaches the threshold, or reaches it
            only after spending more than the budget (RITM's convention).

    Returns:
        ``interactions`` at the first round whose Dice >= threshold, capped at ``budget``.
    """
    values = _check_curve(dice, interactions)
    hits = np.flatnonzero(values >= threshold)
    if hits.size == 0:
        return float(budget)
    return float(min(interactions[hits[0]], budget))


def auc(dice: Sequence[float], interactions: Sequence[float], normalise: bool = True) -> float:
    """Area under a session's Dice curve over interactions (trapezoid rule).

    Args:
        dice: Dice per round, round 0 first.
        interactions: interactions spent up to each round, non-decreasing.
        normalise: divide by the interaction range (last - first), giving the mean Dice
            over the session in [0, 1]. A curve with no range (a single round, or no
            interaction spent) then gives its last Dice; unnormalised it gives 0.0.
    """
    values = _check_curve(dice, interactions)
    x = np.asarray(interactions, dtype=float)
    area = float(np.trapezoid(values, x))
    if not normalise:
        return area
    span = x[-1] - x[0]
    return area / span if span > 0 else float(values[-1])


def bounding_box(mask: np.ndarray) -> tuple[slice, slice, slice] | None:
    """The smallest box of index slices holding every True voxel of a bool [X, Y, Z] mask
    (any 3D axis order); None when it is empty."""
    spans = [np.flatnonzero(mask.any(axis=other)) for other in ((1, 2), (0, 2), (0, 1))]
    if spans[0].size == 0:
        return None
    return tuple(slice(int(s[0]), int(s[-1]) + 1) for s in spans)  # type: ignore[return-value]


def _surface_distances(pred: np.ndarray, gt: np.ndarray, spacing: Spacing) -> tuple[np.ndarray, np.ndarray]:
    """Distances (mm, float32) from each pred surface voxel to the gt surface, and back.

    Both masks must be non-empty. Works on the union's bounding box: every surface
    voxel of either mask lies inside it, so the nearest one is found there too.
    """
    box = bounding_box(pred | gt)
    pred_surface, gt_surface = _surface(pred[box]), _surface(gt[box])
    to_gt = edt.edt(np.logical_not(gt_surface).view(np.uint8), anisotropy=spacing, black_border=False)
    to_pred = edt.edt(np.logical_not(pred_surface).view(np.uint8), anisotropy=spacing, black_border=False)
    return to_gt[pred_surface], to_pred[gt_surface]


def _surface(mask: np.ndarray) -> np.ndarray:
    """bool [X, Y, Z]: voxels of ``mask`` with a 6-neighbour outside it (or outside the array)."""
    padded = np.pad(mask, 1)
    inner = (slice(1, -1),) * 3
    eroded = mask.copy()
    for axis in range(3):
        for lo, hi in ((0, -2), (2, None)):
            shifted = list(inner)
            shifted[axis] = slice(lo, hi)
            eroded &= padded[tuple(shifted)]
    return mask & ~eroded


def _check_masks(pred: np.ndarray, gt: np.ndarray) -> None:
    for name, mask in (("pred", pred), ("gt", gt)):
        if not isinstance(mask, np.ndarray) or mask.dtype != bool or mask.ndim != 3:
            described = f"{mask.dtype} {mask.shape}" if isinstance(mask, np.ndarray) else type(mask).__name__
            raise TypeError(f"{name} must be a bool numpy array [X, Y, Z], got {described}; "
                            "convert with np.asarray(mask, dtype=bool)")
    if pred.shape != gt.shape:
        raise ValueError(f"pred shape {pred.shape} differs from gt shape {gt.shape}")


def _check_spacing(spacing: Sequence[float]) -> Spacing:
    values = tuple(float(s) for s in spacing)
    if len(values) != 3 or not all(np.isfinite(s) and s > 0 for s in values):
        raise ValueError(f"spacing must be 3 positive voxel sizes in mm (X, Y, Z), got {spacing!r}")
    return values  # type: ignore[return-value]


def _check_curve(dice: Sequence[float], interactions: Sequence[float] | None) -> np.ndarray:
    values = np.asarray(dice, dtype=float)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"dice must be a non-empty sequence of per-round values, got {dice!r}")
    if interactions is not None:
        x = np.asarray(interactions, dtype=float)
        if x.shape != values.shape:
            raise ValueError(
                f"dice and interactions need one value per round each, got {values.size} and {x.size}"
            )
        if np.any(np.diff(x) < 0):
            raise ValueError(f"interactions must be non-decreasing (cumulative counts), got {list(x)}")
    return values
