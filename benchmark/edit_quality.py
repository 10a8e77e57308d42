"""What one round's edits did to the prediction, and how a session's Dice curve behaved.

Masks are bool [X, Y, Z] in the canonical voxel order; ``spacing`` is the voxel size in
mm along X, Y, Z; edit voxels are int [N, 3] (x, y, z) indices into those arrays. Every
function is pure and deterministic, and cheap enough to run every round of a session on
a 240 x 240 x 155 BraTS grid (tens of milliseconds on one core).

- :func:`fixed_broken`: voxels an edit round corrected, and voxels it spoilt;
- :func:`component_errors`: autoPET's false-positive and false-negative volumes;
- :func:`locality`: whether the change stayed near the edits (share beyond a radius,
  95th-percentile reach in mm);
- :func:`edit_voxels`: the voxels a round's edits touched, for :func:`locality`;
- :func:`monotonicity`: whether a session's Dice ever fell.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import cc3d
import edt
import numpy as np
from scipy.spatial import cKDTree

from benchmark.edits import Adjustment, Box, Click, Edit, Stroke
from benchmark.metrics import Spacing, _check_curve, _check_spacing, bounding_box

#: Connectivity of autoPET's connected components (``con_comp`` and
#: ``false_pos_pix``/``false_neg_pix`` in lab-midas/autoPETCTIV
#: ``evaluation_metrics/evaluation_metrics.py``; the same in lab-midas/autoPET
#: ``val_script.py``): voxels sharing a face or an edge, not only a corner.
AUTOPET_CONNECTIVITY = 18

#: :func:`locality` runs one distance transform on the bounding box of the changed and
#: edit voxels when the box has at most this many voxels (about 50 ms on one core);
#: beyond it, changed voxels far from small edits would make the box most of the
#: volume (290 ms for 240 x 240 x 155), and a k-d tree over the edit voxels is faster.
#: Both give the exact Euclidean distances.
EDT_MAX_VOXELS = 1_500_000


def fixed_broken(before: np.ndarray, after: np.ndarray, label: np.ndarray) -> tuple[int, int]:
    """Voxels a round fixed and voxels it broke.

    Args:
        before, after: bool [X, Y, Z], the prediction before and after the round's edits.
        label: bool [X, Y, Z], the ground truth.

    Returns:
        ``(fixed, broken)``: the number of voxels wrong before (``before != label``) and
        right after, and of those right before and wrong after. ``fixed - broken`` is
        the drop in wrong voxels (|before ^ label| - |after ^ label|); voxels that did
        not change count in neither.
    """
    _check_masks(before=before, after=after, label=label)
    changed = before != after
    n_changed = int(np.count_nonzero(changed))
    # A changed voxel is right after exactly when it was wrong before.
    fixed = int(np.count_nonzero(changed & (before != label))) if n_changed else 0
    return fixed, n_changed - fixed


def component_errors(pred: np.ndarray, label: np.ndarray, spacing: Spacing) -> tuple[float, float]:
    """autoPET's false-positive and false-negative volumes, in ml.

    As in the autoPET IV evaluation (lab-midas/autoPETCTIV,
    ``evaluation_metrics/evaluation_metrics.py``: ``false_pos_pix``, ``false_neg_pix``,
    ``compute_metrics``; autoPET I-III used the same definition in lab-midas/autoPET
    ``val_script.py``), with 18-connected components (cc3d, :data:`AUTOPET_CONNECTIVITY`):

    - false-positive volume: the voxels of every connected component of ``pred`` that
      shares no voxel with ``label``, times the voxel volume;
    - false-negative volume: the voxels of every connected component of ``label`` that
      shares no voxel with ``pred``, times the voxel volume.

    A component that overlaps the other mask by a single voxel counts as found in full;
    these volumes measure missed and invented lesions, not boundary errors.

    Args:
        pred, label: bool [X, Y, Z], the prediction and the ground truth.
        spacing: voxel size in mm along X, Y, Z (1 ml = 1000 mm^3).

    Returns:
        ``(fp_ml, fn_ml)``. An empty prediction has fp 0.0; an empty label has fn nan,
        as autoPET IV returns (its earlier script gave 0).
    """
    _check_masks(pred=pred, label=label)
    voxel_ml = float(np.prod(_check_spacing(spacing))) / 1000.0
    box = bounding_box(pred | label)
    if box is None:
        return 0.0, float("nan")
    # Components of either mask lie inside the union's bounding box, and so does every
    # voxel where the two masks can overlap: the crop changes nothing.
    pred, label = pred[box], label[box]
    fp = _unmatched_voxels(pred, label)
    fn = _unmatched_voxels(label, pred) if label.any() else float("nan")
    return fp * voxel_ml, fn * voxel_ml


def locality(
    before: np.ndarray,
    after: np.ndarray,
    edit_voxels: np.ndarray,
    spacing: Spacing,
    radius_mm: float = 10.0,
) -> tuple[float, float]:
    """How far from the edits the prediction changed.

    Every changed voxel (``before != after``) gets its Euclidean distance in mm (voxel
    centres, ``spacing``) to the nearest edit voxel; an edit voxel that itself changed
    has distance 0.

    Args:
        before, after: bool [X, Y, Z], the prediction before and after the round.
        edit_voxels: int [N, 3] (x, y, z) indices of the round's edit voxels, inside the
            volume (:func:`edit_voxels`); repeats are allowed.
        spacing: voxel size in mm along X, Y, Z.
        radius_mm: finite, >= 0; a change counts as distant when strictly farther.

    Returns:
        ``(share_beyond, reach_mm)``: the fraction of changed voxels farther than
        ``radius_mm`` from every edit voxel, in [0, 1], and the 95th percentile of the
        changed voxels' distances in mm (numpy's linear interpolation). Both are nan
        when there are no edit voxels (an adjustment-only round: no place to be local
        to) or nothing changed (no change has no locality; 0.0 would read as "perfectly
        local", which an edit that did nothing is not). Callers that count ineffective
        edits use ``np.array_equal(before, after)``.

    Distances come from one exact Euclidean distance transform (``edt``, with the
    spacing as anisotropy and ``black_border=False``, so the array's edge is not an
    edit) of the complement of the edit voxels, on the bounding box of the changed and
    edit voxels together. The crop is exact: the box contains every edit voxel, so the
    nearest edit voxel of any changed voxel lies in the box too, and the transform
    inside the box sees the same set of edit voxels as one over the whole volume. When
    that box exceeds :data:`EDT_MAX_VOXELS` (a change far from small edits), a k-d tree
    over the edit voxels (in mm) gives the same distances faster. Distances from the
    transform are float32: a distance within about 1e-6 mm of ``radius_mm`` may fall
    on either side of it.
    """
    _check_masks(before=before, after=after)
    spacing = _check_spacing(spacing)
    if not (np.isfinite(radius_mm) and radius_mm >= 0):
        raise ValueError(f"radius_mm must be a finite distance >= 0 in mm, got {radius_mm!r}")
    seeds = _check_voxels(edit_voxels, before.shape)
    if len(seeds) == 0:
        return float("nan"), float("nan")
    changed = before != after
    box = bounding_box(changed)
    if box is None:
        return float("nan"), float("nan")
    lower = np.minimum([s.start for s in box], seeds.min(axis=0))
    upper = np.maximum([s.stop for s in box], seeds.max(axis=0) + 1)
    if np.prod(upper - lower) <= EDT_MAX_VOXELS:
        crop = tuple(slice(a, b) for a, b in zip(lower, upper))
        free = np.ones(tuple(upper - lower), np.uint8)
        free[tuple((seeds - lower).T)] = 0
        to_edit = edt.edt(free, anisotropy=spacing, black_border=False)
        distances = to_edit[changed[crop]].astype(np.float64)
    else:
        scale = np.asarray(spacing)
        tree = cKDTree(seeds * scale, balanced_tree=False, compact_nodes=False)
        distances, _ = tree.query(np.argwhere(changed) * scale)
    share = float(np.count_nonzero(distances > radius_mm) / distances.size)
    return share, float(np.percentile(distances, 95))


def edit_voxels(edits: Iterable[Edit], shape: tuple[int, int, int]) -> np.ndarray:
    """The voxels a round's edits touched: the argument :func:`locality` takes.

    Args:
        edits: one round's edits (any mix of tools).
        shape: (X, Y, Z) of the volume.

    Returns:
        int (np.intp) [N, 3] (x, y, z), edits in order: a click's voxel, a stroke's
        voxels (as drawn: its voxels, not its two-voxel stamp), every voxel inside a box
        (corners inclusive, clipped to the volume; a box around a large tumour gives
        some 10^5 rows), none for an adjustment (it acts everywhere). A voxel several
        edits share repeats. [0, 3] when no edit has voxels.

    Raises:
        ValueError: a click or stroke voxel lies outside ``shape``, or an edit is not a
            Click, Stroke, Adjustment or Box.
    """
    shape = tuple(int(n) for n in shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"shape must be 3 positive sizes (X, Y, Z), got {shape!r}")
    parts = [np.empty((0, 3), np.intp)]
    for e in edits:
        if isinstance(e, (Click, Stroke)):
            parts.append(_check_voxels(e.voxels, shape, f"{e.tool} edit"))
        elif isinstance(e, Box):
            lo = np.maximum(e.lower, 0)
            hi = np.minimum(e.upper, np.asarray(shape) - 1)
            if np.all(lo <= hi):
                axes = [np.arange(a, b + 1, dtype=np.intp) for a, b in zip(lo, hi)]
                parts.append(np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3))
        elif not isinstance(e, Adjustment):
            raise ValueError(f"edits must be Click, Stroke, Adjustment or Box, got {type(e).__name__}")
    return np.concatenate(parts)


def monotonicity(dice: Sequence[float]) -> dict[str, Any]:
    """Whether a session's Dice ever fell, from its per-round Dice (round 0 first).

    Returns:
        ``{"falls": int, "largest_fall": float, "ended_below_best": bool,
        "monotone": bool}``: the number of rounds whose Dice is strictly below the
        previous round's; the largest such drop (0.0 without falls); whether the final
        Dice is below the session's best; and whether no round fell (``falls == 0``).
        A one-round session is monotone.

    Raises:
        ValueError: ``dice`` is empty, not 1-D, or not finite.
    """
    values = _check_curve(dice, None)
    if not np.all(np.isfinite(values)):
        raise ValueError(f"dice must be finite per-round values, got {list(values)}")
    drops = -np.diff(values)
    falls = int(np.count_nonzero(drops > 0))
    return {
        "falls": falls,
        "largest_fall": float(drops.max()) if falls else 0.0,
        "ended_below_best": bool(values[-1] < values.max()),
        "monotone": falls == 0,
    }


def _unmatched_voxels(mask: np.ndarray, other: np.ndarray) -> int:
    """Voxels of the 18-connected components of ``mask`` that share no voxel with ``other``."""
    if not mask.any():
        return 0
    components, n = cc3d.connected_components(mask, connectivity=AUTOPET_CONNECTIVITY, return_N=True)
    sizes = np.bincount(components[mask], minlength=n + 1)
    found = np.zeros(n + 1, bool)
    found[components[mask & other]] = True
    return int(sizes[~found].sum())


def _check_voxels(voxels: Any, shape: tuple[int, ...], name: str = "edit_voxels") -> np.ndarray:
    v = np.asarray(voxels)
    if v.size == 0:
        return np.empty((0, 3), np.intp)
    if v.ndim != 2 or v.shape[1] != 3 or not np.issubdtype(v.dtype, np.integer):
        raise ValueError(f"{name} must be integer voxel indices of shape (N, 3), got {v.dtype} {v.shape}")
    outside = ((v < 0) | (v >= np.asarray(shape))).any(axis=1)
    if outside.any():
        raise ValueError(f"{name} has voxels outside the volume {tuple(shape)}: {v[outside][:3].tolist()}")
    return v.astype(np.intp, copy=False)


def _check_masks(**masks: np.ndarray) -> None:
    shapes = set()
    for name, mask in masks.items():
        if not isinstance(mask, np.ndarray) or mask.dtype != bool or mask.ndim != 3:
            described = f"{mask.dtype} {mask.shape}" if isinstance(mask, np.ndarray) else type(mask).__name__
            raise ValueError(f"{name} must be a bool numpy array [X, Y, Z], got {described}")
        shapes.add(mask.shape)
    if len(shapes) > 1:
        raise ValueError("masks differ in shape: " + ", ".join(f"{n} {m.shape}" for n, m in masks.items()))
