"""The CVPR 2025 interactive 3D challenge's scores ("Foundation Models for Interactive 3D
Biomedical Image Segmentation", its ``CVPR25_iter_eval.py``), computed anew.

The challenge runs 6 steps per case: a bounding box (step 1), then 5 clicks (steps
2..6), one prediction each. Per step it scores DSC and NSD (DeepMind's surfel NSD at
2 mm, :mod:`benchmark.surfels`; set to 0 unless DSC > 0.2); per case:

- ``DSC_AUC``, ``NSD_AUC``: the trapezoid area under the last 5 steps (the clicks
  only) at x = 0..4, so at most 4;
- ``DSC_Final``, ``NSD_Final``: step 6's values;
- ``RunningTime_k`` (s) per step and ``TotalRunningTime``, their sum.

With several labels the challenge averages each step's DSC and NSD over the labels in
the gt; simedit scores one (the whole tumour), where that mean is the value itself.

In simedit's ``rounds.csv`` (see :mod:`benchmark.results`) a challenge session is
round 1 (the box) and rounds 2..6 (the clicks); round 0, the method's prediction
before any prompt, is no challenge step and is left out.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from benchmark.metrics import Spacing, _check_masks
from benchmark.surfels import surfel_surface_dice

N_CLICKS = 5  #: click steps after the box step
TOLERANCE_MM = 2.0  #: the NSD tolerance
NSD_MIN_DSC = 0.2  #: NSD is computed only when DSC exceeds this, else it is 0

# Column names, as the challenge's metrics CSV spells them, and simedit's additions.
KEY = ("method", "user", "case")
DSC_AUC, NSD_AUC, DSC_FINAL, NSD_FINAL = "DSC_AUC", "NSD_AUC", "DSC_Final", "NSD_Final"
TOTAL_TIME = "TotalRunningTime"
N_TIMED_OUT = "n_timed_out"  #: steps whose call passed the time limit
N_CARRIED = "n_carried"  #: steps filled from the session's last round (see challenge_table)
CASES = "cases"  #: in challenge_means: the number of cases averaged
SUMMARY = (DSC_AUC, NSD_AUC, DSC_FINAL, NSD_FINAL)
ROUND_COLUMNS = ("case", "method", "user", "round", "dice", "nsd", "model_ms")  #: what challenge_table reads


def dsc_column(step: int) -> str:
    """``DSC_<step>``, step 1 being the box."""
    return f"DSC_{step}"


def nsd_column(step: int) -> str:
    return f"NSD_{step}"


def time_column(step: int) -> str:
    """``RunningTime_<step>``, in seconds."""
    return f"RunningTime_{step}"


def step_columns(n_clicks: int = N_CLICKS) -> tuple[list[str], list[str], list[str]]:
    """The DSC, NSD and running-time column names of steps 1..n_clicks + 1."""
    steps = range(1, _check_n_clicks(n_clicks) + 2)
    return [dsc_column(k) for k in steps], [nsd_column(k) for k in steps], [time_column(k) for k in steps]


def challenge_nsd(dsc: float, pred: np.ndarray, gt: np.ndarray, spacing: Spacing,
                  tolerance_mm: float = TOLERANCE_MM) -> float:
    """One step's NSD as the challenge scores it: 0.0 unless ``dsc`` > 0.2, else
    DeepMind's surfel NSD (:func:`benchmark.surfels.surfel_surface_dice`).

    Args:
        dsc: this step's Dice of ``pred`` against ``gt``; NaN counts as not > 0.2.
        pred, gt: bool [X, Y, Z].
        spacing: voxel size in mm along X, Y, Z.
        tolerance_mm: the NSD tolerance (the challenge's: 2 mm).

    Empty masks, as the challenge's code would score them: exactly one empty gives a
    DSC of 0, so 0.0. Both empty: DeepMind's NSD is 0 / 0, NaN, returned when ``dsc``
    > 0.2 (simedit's ``metrics.dice`` gives 1.0 there); the challenge's own Dice is NaN
    there, which gives 0.0. The challenge itself never meets that case: it scores only
    the labels present in the gt.
    """
    _check_masks(pred, gt)
    if not float(dsc) > NSD_MIN_DSC:
        return 0.0
    return surfel_surface_dice(pred, gt, spacing, tolerance_mm)


def challenge_summary(dsc_steps: Sequence[float], nsd_steps: Sequence[float],
                      n_clicks: int = N_CLICKS) -> dict[str, float]:
    """A case's AUCs and final values from its per-step DSC and NSD (box step first).

    The AUC is the trapezoid area under the last ``n_clicks`` values at x = 0, 1, ...,
    n_clicks - 1 (the click steps only; scipy's ``cumulative_trapezoid(...)[-1]`` in
    the challenge), so it lies in [0, n_clicks - 1]; the final value is the last one.

    Returns:
        ``{"DSC_AUC", "NSD_AUC", "DSC_Final", "NSD_Final"}`` as floats.
    """
    _check_n_clicks(n_clicks)
    curves = []
    for name, values in (("dsc_steps", dsc_steps), ("nsd_steps", nsd_steps)):
        array = np.asarray(values, dtype=float)
        if array.ndim != 1 or array.size < n_clicks or not np.all(np.isfinite(array)):
            raise ValueError(f"{name} must be at least {n_clicks} finite per-step values (box step first), "
                             f"got {list(values)!r}")
        curves.append(array)
    if curves[0].size != curves[1].size:
        raise ValueError(f"dsc_steps and nsd_steps need one value per step each, got {curves[0].size} and "
                         f"{curves[1].size}")
    dsc, nsd = curves
    return {DSC_AUC: float(_auc(dsc, n_clicks)), NSD_AUC: float(_auc(nsd, n_clicks)),
            DSC_FINAL: float(dsc[-1]), NSD_FINAL: float(nsd[-1])}


def challenge_table(rounds: pd.DataFrame, n_clicks: int = N_CLICKS) -> pd.DataFrame:
    """The challenge's per-case metrics, one row per (method, user, case) session.

    Args:
        rounds: rows of ``rounds.csv`` (``benchmark.results.read_rounds``) with the
            columns :data:`ROUND_COLUMNS` and optionally ``timed_out``; round 1 is the
            box step and rounds 2..n_clicks + 1 the clicks; round 0 is ignored.
        n_clicks: the click steps (the challenge's: 5).

    Returns:
        Sorted by :data:`KEY`, the columns: method, user, case, ``DSC_1..``,
        ``NSD_1..``, ``RunningTime_1..`` (s, from ``model_ms``), ``TotalRunningTime``,
        DSC_AUC, NSD_AUC, DSC_Final, NSD_Final (as :func:`challenge_summary`; NaN
        values, e.g. an NSD not recorded, give NaN), ``n_timed_out`` (steps 1.. whose
        call timed out) and ``n_carried``.

    A session that stopped before the last step (the user had nothing left to fix,
    e.g. after a perfect prediction) has its last round's DSC and NSD carried to the
    missing steps, as the challenge would score them: it reruns the method on the
    unchanged prompts, which (for a deterministic method) predicts the same. Carried
    steps take running time 0; ``n_carried`` counts them.

    The NSD is the one recorded: the challenge's only if the rounds were scored with
    ``conventions: cvpr25`` (``challenge_nsd``). Raises ValueError for rounds beyond
    step n_clicks + 1, a session without round 1, or rounds missing in between.
    """
    n_steps = _check_n_clicks(n_clicks) + 1
    missing = [c for c in ROUND_COLUMNS if c not in rounds.columns]
    if missing:
        raise ValueError(f"rounds lacks the columns {missing}; pass rounds.csv as benchmark.results.read_rounds "
                         "reads it")
    key = list(KEY)
    steps = rounds[rounds["round"] >= 1].copy()
    steps["round"] = steps["round"].astype(int)
    duplicated = steps.duplicated(key + ["round"])
    if duplicated.any():
        raise ValueError(f"session {_name(steps[duplicated].iloc[0])} has round "
                         f"{steps[duplicated].iloc[0]['round']} twice; keep one row per (case, method, user, round)")
    if (steps["round"] > n_steps).any():
        row = steps[steps["round"] > n_steps].iloc[0]
        raise ValueError(f"session {_name(row)} has round {row['round']}, beyond the challenge's {n_steps} steps "
                         f"(box + {n_clicks} clicks); pass n_clicks={row['round'] - 1} or drop the later rounds")
    unscored = rounds[key].drop_duplicates().merge(steps[key].drop_duplicates(), how="left", indicator=True)
    if (unscored["_merge"] == "left_only").any():
        row = unscored[unscored["_merge"] == "left_only"].iloc[0]
        raise ValueError(f"session {_name(row)} has no round 1 (the box step): the challenge scores rounds "
                         f"1..{n_steps}; leave that session out")

    dsc_cols, nsd_cols, time_cols = step_columns(n_clicks)
    if steps.empty:
        return pd.DataFrame(columns=key + dsc_cols + nsd_cols + time_cols + [TOTAL_TIME, *SUMMARY, N_TIMED_OUT,
                                                                            N_CARRIED])
    steps["_ran"] = 1.0

    def wide(column: str) -> pd.DataFrame:
        """float [sessions, steps] of one column, NaN where a session has no round."""
        return steps.set_index(key + ["round"])[column].unstack("round").reindex(columns=range(1, n_steps + 1))

    ran = wide("_ran")
    n_ran = ran.notna().sum(axis=1).to_numpy()
    gaps = ran.notna().to_numpy() != (np.arange(n_steps)[None, :] < n_ran[:, None])
    if gaps.any():
        where = dict(zip(key, ran.index[np.flatnonzero(gaps.any(axis=1))[0]]))
        raise ValueError(f"session {_name(where)} lacks rounds between 1 and its last; "
                         "the challenge scores consecutive steps")
    # each step's source: itself, or the session's last round for the steps after it
    source = np.minimum(np.arange(n_steps)[None, :], n_ran[:, None] - 1)
    carried = np.arange(n_steps)[None, :] >= n_ran[:, None]
    dsc = np.take_along_axis(wide("dice").to_numpy(dtype=float), source, axis=1)
    nsd = np.take_along_axis(wide("nsd").to_numpy(dtype=float), source, axis=1)
    seconds = np.where(carried, 0.0, wide("model_ms").to_numpy(dtype=float) / 1000.0)
    timed_out = (wide("timed_out").to_numpy(dtype=float) if "timed_out" in steps.columns
                 else np.zeros_like(dsc))
    table = ran.index.to_frame(index=False)
    table[dsc_cols] = dsc
    table[nsd_cols] = nsd
    table[time_cols] = seconds
    table[TOTAL_TIME] = seconds.sum(axis=1)
    table[DSC_AUC], table[NSD_AUC] = _auc(dsc, n_clicks), _auc(nsd, n_clicks)
    table[DSC_FINAL], table[NSD_FINAL] = dsc[:, -1], nsd[:, -1]
    table[N_TIMED_OUT] = np.nan_to_num(np.where(carried, 0.0, timed_out)).sum(axis=1).astype(int)
    table[N_CARRIED] = carried.sum(axis=1)
    return table.sort_values(key, ignore_index=True)


def challenge_means(table: pd.DataFrame) -> pd.DataFrame:
    """Per (method, user): the mean over cases of every score of :func:`challenge_table`.

    Returns:
        Columns method, user, ``cases`` (count), DSC_AUC, NSD_AUC, DSC_Final,
        NSD_Final, ``DSC_k``, ``NSD_k`` and ``RunningTime_k`` per step (means; a NaN
        in any case gives NaN), ``TotalRunningTime`` (mean per case) and
        ``n_timed_out`` (summed over cases).
    """
    n_steps = sum(1 for c in table.columns if str(c).startswith("DSC_") and str(c)[4:].isdigit())
    dsc_cols, nsd_cols, time_cols = step_columns(max(n_steps - 1, 2))
    averaged = list(SUMMARY) + dsc_cols + nsd_cols + time_cols + [TOTAL_TIME]
    missing = [c for c in list(KEY) + averaged + [N_TIMED_OUT] if c not in table.columns]
    if missing:
        raise ValueError(f"table lacks the columns {missing}; pass the frame challenge_table returns")
    groups = table.groupby(["method", "user"], sort=True, observed=True)
    means = groups[averaged].agg(lambda s: s.mean(skipna=False))
    means.insert(0, CASES, groups.size())
    means[N_TIMED_OUT] = groups[N_TIMED_OUT].sum()
    return means.reset_index()


def _auc(values: np.ndarray, n_clicks: int) -> np.ndarray:
    """Trapezoid area under the last ``n_clicks`` values of ``values`` (float [..., steps])
    at x = 0..n_clicks - 1, summed in order as scipy's cumulative_trapezoid does."""
    clicks = values[..., -n_clicks:]
    return np.cumsum((clicks[..., 1:] + clicks[..., :-1]) / 2.0, axis=-1)[..., -1]


def _check_n_clicks(n_clicks: int) -> int:
    if isinstance(n_clicks, bool) or not isinstance(n_clicks, (int, np.integer)) or n_clicks < 2:
        raise ValueError(f"n_clicks must be an integer >= 2 (the challenge's: 5), got {n_clicks!r}")
    return int(n_clicks)


def _name(row: pd.Series | dict) -> str:
    return ", ".join(f"{k}={row[k]!r}" for k in KEY)

