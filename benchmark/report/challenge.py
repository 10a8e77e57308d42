"""The report's section for runs scored by the CVPR 2025 challenge's conventions, and NSD.

For experiments run with ``metrics: {conventions: cvpr25}``, per experiment: the
challenge's case scores averaged (DSC_AUC, NSD_AUC, final DSC and NSD, time per step),
and the mean DSC, NSD and running time at each step (1 the box, 2-6 the clicks). Steps
whose prompt a method does not take (a box given to the editing network) are counted as
unsupported, not failed. For experiments with NSD but simedit's conventions: the final
NSD per experiment.
"""

from __future__ import annotations

import pandas as pd

from benchmark.challenge_scores import (CASES, DSC_AUC, DSC_FINAL, N_CARRIED, N_CLICKS, N_TIMED_OUT, NSD_AUC,
                                        NSD_FINAL, TOTAL_TIME, challenge_means, challenge_table, step_columns)
from benchmark.report.load import Results, read_run_info

#: The experiment column the challenge's (method, user) key stands for in the report.
_EXPERIMENT = "experiment"


def conventions(results: Results) -> dict[str, str]:
    """Each experiment's metric conventions (run.json's session settings), by label."""
    out = {}
    for experiment in results.present:
        session = read_run_info(experiment).get("config", {}).get("session", {})
        out[experiment.label] = str(session.get("conventions", "simedit"))
    return out


def challenge_frames(rounds: pd.DataFrame, labels: list[str]) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """(per-case scores, per-experiment means, problems) of the experiments ``labels``.

    Args:
        rounds: the report's rounds (``load_rounds``: rounds.csv rows with ``experiment``).
        labels: experiments scored by the challenge's conventions, in report order.

    Returns:
        ``challenge_table`` with an ``experiment`` column first (one row per case and
        experiment), per experiment its means (``challenge_means``) with
        ``unsupported_steps``: steps 1-6 whose prompts the method did not take, and one
        line per experiment the challenge cannot score (e.g. more than 6 rounds), left out.
    """
    tables, means, problems = [], [], []
    for label in labels:
        own = rounds[rounds[_EXPERIMENT] == label]
        try:
            table = challenge_table(own.drop(columns=[_EXPERIMENT]))
        except ValueError as error:
            problems.append(f"{label}: {error}")
            continue
        table.insert(0, _EXPERIMENT, label)
        tables.append(table)
        mean = challenge_means(table.drop(columns=[_EXPERIMENT])).drop(columns=["method", "user"])
        mean.insert(0, _EXPERIMENT, label)
        steps = own[own["round"].between(1, N_CLICKS + 1)]
        mean["unsupported_steps"] = int((steps["unsupported"].fillna("") != "").sum())
        mean["carried_steps"] = int(table[N_CARRIED].sum())
        means.append(mean)
    if not tables:
        return pd.DataFrame(), pd.DataFrame(), problems
    return pd.concat(tables, ignore_index=True), pd.concat(means, ignore_index=True), problems


def challenge_display(means: pd.DataFrame) -> pd.DataFrame:
    """The challenge's scores per experiment, as strings."""
    steps = N_CLICKS + 1
    return pd.DataFrame({
        "Experiment": means[_EXPERIMENT].astype(str),
        "Cases": means[CASES].astype(int).astype(str),
        "DSC_AUC": [_num(x) for x in means[DSC_AUC]],
        "NSD_AUC": [_num(x) for x in means[NSD_AUC]],
        "DSC_Final": [_num(x) for x in means[DSC_FINAL]],
        "NSD_Final": [_num(x) for x in means[NSD_FINAL]],
        "Time per step (s)": [_num(x / steps, 2) for x in means[TOTAL_TIME]],
        "Timed out": means[N_TIMED_OUT].astype(int).astype(str),
        "Unsupported steps": means["unsupported_steps"].astype(int).astype(str),
    })


def steps_display(means: pd.DataFrame) -> pd.DataFrame:
    """Mean DSC, NSD and running time at each step, three rows per experiment."""
    dsc, nsd, time = step_columns(N_CLICKS)
    rows = []
    for _, row in means.iterrows():
        for name, columns, digits in (("DSC", dsc, 4), ("NSD", nsd, 4), ("time (s)", time, 2)):
            rows.append([str(row[_EXPERIMENT]), name, *(_num(row[c], digits) for c in columns)])
    headers = ["Experiment", "Score", "1 (box)", *(f"{k} (click {k - 1})" for k in range(2, N_CLICKS + 2))]
    return pd.DataFrame(rows, columns=headers)


def final_nsd(rounds: pd.DataFrame, labels: list[str]) -> pd.DataFrame:
    """Per experiment: cases and mean, sd and median final NSD (each session's last round)."""
    last = rounds[rounds[_EXPERIMENT].isin(labels)].sort_values("round").groupby(
        [_EXPERIMENT, "case"], observed=True).tail(1)
    grouped = last.groupby(_EXPERIMENT, observed=True, sort=True)["nsd"]
    frame = pd.DataFrame({"cases": grouped.size(), "mean_nsd": grouped.mean(), "sd_nsd": grouped.std(),
                          "median_nsd": grouped.median()}).reset_index()
    return frame[frame[_EXPERIMENT].isin(labels)].reset_index(drop=True)


def final_nsd_display(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "Experiment": frame[_EXPERIMENT].astype(str),
        "Cases": frame["cases"].astype(int).astype(str),
        "Final NSD": [f"{_num(m)} ± {_num(s)}" for m, s in zip(frame["mean_nsd"], frame["sd_nsd"])],
        "Median": [_num(x) for x in frame["median_nsd"]],
    })


def _num(x: float, digits: int = 4) -> str:
    return "n/a" if pd.isna(x) else f"{x:.{digits}f}"
