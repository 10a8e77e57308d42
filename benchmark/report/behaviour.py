"""The report's section "How the edits behaved": what each edit round did, per experiment.

From the behaviour columns of ``rounds.csv`` (:class:`benchmark.results.RoundRecord`:
fixed, broken, fp_ml, fn_ml, far_share, reach_mm, effort_s). An *edit round* is a row
with ``round`` > 0; a *session* is one (experiment, method, user, case). Experiments
with no edit round (a "none" user) are left out, as the report's other edit tables do.
Results folders written by an older simedit hold these columns as NaN: every number
built on them is then NaN (shown "n/a", never 0), and :func:`missing_columns` names them
so the captions can say so.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from benchmark.edit_quality import monotonicity
from benchmark.report.figures import _TITLE, _colours, _order, _style
from benchmark.report.tables import write_table

#: The columns this section reads beyond Dice (NaN in results of an older simedit).
MEASURED = ("fixed", "broken", "fp_ml", "fn_ml", "far_share", "reach_mm", "effort_s")
_SESSION = ["experiment", "method", "user", "case"]
TITLE = "How the edits behaved"


def _prepared(rounds: pd.DataFrame) -> pd.DataFrame:
    """``rounds`` sorted by session and round, absent behaviour columns added as NaN, with
    ``effort_step``: this round's effort_s minus the previous round's (a first row: itself)."""
    frame = rounds.copy()
    for column in MEASURED:
        if column not in frame.columns:
            frame[column] = np.nan
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    if not isinstance(frame["experiment"].dtype, pd.CategoricalDtype):
        labels = frame["experiment"].astype(str)
        frame["experiment"] = pd.Categorical(labels, categories=labels.unique())
    frame = frame.sort_values([*_SESSION, "round"]).reset_index(drop=True)
    previous = frame.groupby(_SESSION, observed=True, sort=False)["effort_s"].shift(1)
    first = ~frame.duplicated(_SESSION)
    frame["effort_step"] = frame["effort_s"] - previous.where(~first, 0.0)
    return frame


def edited_experiments(rounds: pd.DataFrame) -> list[str]:
    """The experiments with at least one edit round, in their order."""
    frame = _prepared(rounds)
    return [str(e) for e in _order(frame) if ((frame["experiment"] == e) & (frame["round"] > 0)).any()]


def missing_columns(rounds: pd.DataFrame) -> dict[str, list[str]]:
    """Per experiment with edit rounds, the :data:`MEASURED` columns with no value in any of
    its rounds (an older simedit's results; far_share and reach_mm also for adjustment-only
    experiments, whose edits have no voxels). Experiments missing none are left out."""
    frame = _prepared(rounds)
    out = {}
    for label in edited_experiments(frame):
        own = frame[frame["experiment"] == label]
        gone = [c for c in MEASURED if own[c].isna().all()]
        if gone:
            out[label] = gone
    return out


def _share(values: pd.Series, condition: pd.Series) -> float:
    """Share of the defined ``values`` where ``condition`` holds; NaN when none is defined."""
    defined = values.notna()
    return float(condition[defined].mean()) if defined.any() else float("nan")


def _session_row(session: pd.DataFrame, target: float) -> dict[str, float]:
    dice = session["dice"].to_numpy(float)
    dice = dice[np.isfinite(dice)]
    shape = monotonicity(dice) if dice.size else {"falls": np.nan, "ended_below_best": np.nan, "monotone": np.nan}
    last = session.iloc[-1]
    hits = np.flatnonzero(session["dice"].to_numpy(float) >= target)
    return {"monotone": float(shape["monotone"]), "falls": float(shape["falls"]),
            "below_best": float(shape["ended_below_best"]), "fp_ml": last["fp_ml"], "fn_ml": last["fn_ml"],
            "effort_s": last["effort_s"], "reached": float(hits.size > 0),
            "effort_to_target": session["effort_s"].iloc[hits[0]] if hits.size else np.nan}


def target_name(target: float) -> str:
    """The column suffix of a Dice target, as in :mod:`benchmark.statistics` (0.9 -> "90")."""
    return f"{100 * target:g}"


def behaviour_summary(rounds: pd.DataFrame, target: float = 0.9) -> pd.DataFrame:
    """One row per experiment with edit rounds, in experiment order.

    Columns (pooled over the experiment's edit rounds, or over its sessions):

    - ``sessions``: its sessions (those without edits included); ``edit_rounds``: its rows
      with round > 0.
    - ``mean_fixed``, ``mean_broken``: mean voxels fixed / broken per edit round.
    - ``share_rounds_broken``: share of edit rounds that broke at least one voxel.
    - ``share_monotone``, ``mean_falls``, ``share_below_best``: from
      :func:`benchmark.edit_quality.monotonicity` of each session's Dice per round: share
      of sessions whose Dice never fell, mean number of falls per session, share whose
      final Dice is below their best round's.
    - ``median_far_share``, ``median_reach_mm``: medians over the edit rounds where they are
      defined (share of changed voxels beyond the locality radius of the edits; their 95th-percentile
      distance to the edits).
    - ``final_fp_ml``, ``final_fn_ml``, ``final_effort_s``: means over sessions of the last
      round's false-positive and false-negative component volume and cumulative effort.
    - ``share_reached_<t>``: share of sessions with a round of Dice >= t (round 0 counts);
      ``median_effort_<t>``: median effort_s at the first such round, over those sessions.
    - ``effort_share_harmful``: effort of the edit rounds that broke more voxels than they
      fixed (their effort_s increments) over the effort of all edit rounds.

    Each is NaN where its columns hold no value (results of an older simedit).
    """
    frame = _prepared(rounds)
    name = target_name(target)
    rows = []
    for label in edited_experiments(frame):
        own = frame[frame["experiment"] == label]
        edits = own[own["round"] > 0]
        per_session = pd.DataFrame([_session_row(s, target) for _, s in own.groupby(_SESSION, observed=True)])
        steps = edits["effort_step"]
        harmful = (edits["broken"] > edits["fixed"]) & edits["broken"].notna() & edits["fixed"].notna()
        total = steps.sum(min_count=1)
        reached = per_session["reached"] > 0
        rows.append({
            "experiment": label, "sessions": len(per_session), "edit_rounds": len(edits),
            "mean_fixed": edits["fixed"].mean(), "mean_broken": edits["broken"].mean(),
            "share_rounds_broken": _share(edits["broken"], edits["broken"] > 0),
            "share_monotone": per_session["monotone"].mean(), "mean_falls": per_session["falls"].mean(),
            "share_below_best": per_session["below_best"].mean(),
            "median_far_share": edits["far_share"].median(), "median_reach_mm": edits["reach_mm"].median(),
            "final_fp_ml": per_session["fp_ml"].mean(), "final_fn_ml": per_session["fn_ml"].mean(),
            "final_effort_s": per_session["effort_s"].mean(),
            f"share_reached_{name}": per_session["reached"].mean(),
            f"median_effort_{name}": per_session.loc[reached, "effort_to_target"].median(),
            "effort_share_harmful": (steps[harmful].sum() / total if pd.notna(total) and total > 0
                                     else float("nan")),
        })
    out = pd.DataFrame(rows)
    if len(out):
        out["experiment"] = pd.Categorical(out["experiment"], categories=frame["experiment"].cat.categories)
    return out


def per_round(rounds: pd.DataFrame) -> pd.DataFrame:
    """Mean fixed and broken voxels at each edit round number (1, 2, ...) per experiment:
    columns experiment, round, sessions (rows at that round), mean_fixed, mean_broken."""
    frame = _prepared(rounds)
    edits = frame[(frame["round"] > 0) & frame["experiment"].isin(edited_experiments(frame))]
    grouped = edits.groupby(["experiment", "round"], observed=True, sort=True)
    out = pd.DataFrame({"sessions": grouped.size(), "mean_fixed": grouped["fixed"].mean(),
                        "mean_broken": grouped["broken"].mean()}).reset_index()
    out["round"] = out["round"].astype(int)
    return out


def dice_by_effort(rounds: pd.DataFrame, grid: Sequence[float] | None = None) -> pd.DataFrame:
    """Mean Dice against effort in seconds, per experiment with edit rounds.

    Each session is a step function of seconds s: the Dice of its last round with
    effort_s <= s (its final Dice after its last round); the mean over the experiment's
    sessions at each s of ``grid``. The default grid is every effort_s value recorded
    (where the means change), 0 included. Sessions with a NaN effort_s are left out, and
    an experiment with none left has no rows.

    Returns:
        Columns experiment, effort_s, mean_dice, sessions.
    """
    frame = _prepared(rounds)
    frame = frame[frame["experiment"].isin(edited_experiments(frame))]
    bad = frame.groupby(_SESSION, observed=True)["effort_s"].transform(lambda e: e.isna().any())
    frame = frame[~bad.astype(bool)]
    seconds = np.unique(np.append(frame["effort_s"].to_numpy(float), 0.0)) if grid is None else np.asarray(grid, float)
    parts = []
    for label in _order(frame):
        curves = []
        for _, session in frame[frame["experiment"] == label].groupby(_SESSION, observed=True):
            effort, dice = session["effort_s"].to_numpy(float), session["dice"].to_numpy(float)
            at = np.searchsorted(effort, seconds, side="right") - 1  # effort_s is cumulative: sorted
            curves.append(np.where(at >= 0, dice[np.maximum(at, 0)], np.nan))
        parts.append(pd.DataFrame({"experiment": label, "effort_s": seconds,
                                   "mean_dice": np.nanmean(curves, axis=0), "sessions": len(curves)}))
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["experiment", "effort_s", "mean_dice", "sessions"])
    out["experiment"] = pd.Categorical(out["experiment"], categories=frame["experiment"].cat.categories)
    return out


def _num(x: float, digits: int) -> str:
    return "n/a" if pd.isna(x) else f"{x:.{digits}f}"


def _pct(x: float) -> str:  # NaN (not recorded) is "n/a", never 0%
    return "n/a" if pd.isna(x) else f"{x:.0%}"


def summary_display(summary: pd.DataFrame, target: float = 0.9) -> pd.DataFrame:
    """:func:`behaviour_summary` as strings; "n/a" where a number is undefined or missing."""
    s, name = summary, target_name(target)
    return pd.DataFrame({
        "Experiment": s["experiment"].astype(str), "Sessions": s["sessions"].astype(int).astype(str),
        "Edit rounds": s["edit_rounds"].astype(int).astype(str),
        "Fixed/round": [_num(x, 1) for x in s["mean_fixed"]], "Broken/round": [_num(x, 1) for x in s["mean_broken"]],
        "Rounds broke": [_pct(x) for x in s["share_rounds_broken"]],
        "Monotone": [_pct(x) for x in s["share_monotone"]], "Falls": [_num(x, 2) for x in s["mean_falls"]],
        "Ended below best": [_pct(x) for x in s["share_below_best"]],
        "Far share": [_num(x, 3) for x in s["median_far_share"]],
        "Reach (mm)": [_num(x, 1) for x in s["median_reach_mm"]],
        "Final FP (ml)": [_num(x, 2) for x in s["final_fp_ml"]],
        "Final FN (ml)": [_num(x, 2) for x in s["final_fn_ml"]],
        "Effort (s)": [_num(x, 1) for x in s["final_effort_s"]],
        f"Reached {target:g}": [_pct(x) for x in s[f"share_reached_{name}"]],
        f"Effort to {target:g} (s)": [_num(x, 1) for x in s[f"median_effort_{name}"]],
        "Effort on harmful rounds": [_pct(x) for x in s["effort_share_harmful"]],
    })


def per_round_display(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`per_round` as strings."""
    return pd.DataFrame({"Experiment": table["experiment"].astype(str), "Round": table["round"].astype(str),
                         "Sessions": table["sessions"].astype(str),
                         "Mean fixed": [_num(x, 1) for x in table["mean_fixed"]],
                         "Mean broken": [_num(x, 1) for x in table["mean_broken"]]})


def fixed_broken_figure(table: pd.DataFrame) -> Figure:
    """Two panels: mean fixed and mean broken voxels per edit round, one line per experiment
    (:func:`per_round`'s frame; experiments without values are not drawn)."""
    labels = _order(table)
    colours = _colours(labels)
    with _style():
        fig = Figure(figsize=(10.0, 4.0), layout="constrained")
        axes = fig.subplots(1, 2, sharex=True)
        for ax, column, title in zip(axes, ("mean_fixed", "mean_broken"), ("Fixed voxels", "Broken voxels")):
            for label in labels:
                own = table[(table["experiment"] == label) & table[column].notna()]
                if len(own):
                    ax.plot(own["round"], own[column], marker="o", ms=4, color=colours[label], label=label)
            ax.set_title(f"{title} per round (mean)", fontsize=_TITLE)
            ax.set_xlabel("Edit round")
        axes[0].set_ylabel("Voxels")
        handles, names = axes[0].get_legend_handles_labels()
        if handles:
            fig.legend(handles, names, loc="outside right upper", fontsize="small")
    return fig


def dice_effort_figure(curve: pd.DataFrame) -> Figure:
    """Mean Dice against effort in seconds (:func:`dice_by_effort`), one step line per experiment."""
    labels = _order(curve)
    colours = _colours(labels)
    with _style():
        fig = Figure(figsize=(8.5, 4.5), layout="constrained")
        ax = fig.add_subplot()
        for label in labels:
            own = curve[curve["experiment"] == label]
            ax.plot(own["effort_s"], own["mean_dice"], drawstyle="steps-post", color=colours[label], label=label)
        ax.set_xlabel("Effort (s a person would spend on the edits)")
        ax.set_ylabel("Mean Dice (whole tumour)")
        ax.set_title("Dice against effort", fontsize=_TITLE)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    return fig


def section(rounds: pd.DataFrame, table, figure, tables_dir, target: float = 0.9) -> None:
    """Add the section's tables and figures through build.py's ``table`` and ``figure``;
    nothing when no experiment has an edit round. ``tables_dir`` gets the Dice-against-
    effort curve as CSV (``behaviour_dice_effort.csv``)."""
    if not 0 < target <= 1:
        raise ValueError(f"the Dice target must be in (0, 1], got {target!r}")
    summary = behaviour_summary(rounds, target)
    if summary.empty:
        return
    missing = missing_columns(rounds)
    gone = "".join(f" {label}: no {', '.join(cols)} recorded (results of an older simedit, or not defined for its "
                   "edits); shown as n/a." for label, cols in missing.items())
    table("behaviour", TITLE, "Per experiment with edits (round > 0 is an edit round; a session is one case). "
          "Fixed/Broken: mean voxels an edit round fixed / broke; Rounds broke: share of edit rounds with broken > 0; "
          "Monotone: sessions whose Dice never fell; Falls: mean falls of Dice per session; Ended below best: "
          "sessions ending below their best round; Far share, Reach: medians over edit rounds of the share of changed "
          "voxels beyond the locality radius (metrics.locality_mm, default 10 mm) of the edits and of their "
          "95th-percentile distance; Final FP/FN: autoPET false-positive "
          "/ false-negative component volumes, and Effort: seconds a person would spend, at each session's last "
          f"round (means); Reached {target:g}: sessions reaching Dice >= {target:g}, Effort to {target:g}: median "
          "effort at the first such round; Effort on harmful rounds: share of the edit rounds' effort spent on "
          f"rounds that broke more voxels than they fixed.{gone}", summary, summary_display(summary, target))
    rounds_table = per_round(rounds)
    table("behaviour_rounds", f"{TITLE}: per round",
          "Mean voxels fixed and broken at each edit round; Sessions: sessions that reached that round.",
          rounds_table, per_round_display(rounds_table), left=2)
    if rounds_table[["mean_fixed", "mean_broken"]].notna().any().any():
        figure("behaviour_rounds", f"{TITLE}: fixed and broken voxels per round",
               "Mean voxels each edit round fixed (left) and broke (right), by round number.",
               fixed_broken_figure(rounds_table))
    curve = dice_by_effort(rounds)
    if len(curve):
        write_table(curve, None, tables_dir, "behaviour_dice_effort")
        figure("dice_vs_effort", f"{TITLE}: Dice against effort",
               "Mean Dice against the seconds a person would have spent on the edits: each session's Dice at s is "
               "that of its last round with effort <= s (its final Dice after it ended); experiments without "
               "effort_s are not drawn.", dice_effort_figure(curve))
