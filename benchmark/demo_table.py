"""The demo's results as the README shows them: ``OUT/demo-table.md``, printed by ``simedit demo``.

Everything comes from the files of the run: the report's ``tables/summary.csv`` (mean
final Dice and edits per case of each experiment), the adjustment sweep's
``analyses/sweep.csv`` (the editing network's mean volume at K = -0.5 and +0.5 over its
unedited volume) and the seconds each stage took, so the table on the front door can be
pasted from a run at the current commit and nowhere else.
"""

from __future__ import annotations

import platform
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

TABLE_FILE = "demo-table.md"


def sweep_ratios(sweep_csv: Path) -> dict[str, tuple[int, dict[float, float]]]:
    """Per method: its number of cases, and K -> mean over cases of volume / unedited volume
    (empty when no sweep ran)."""
    if not sweep_csv.is_file():
        return {}
    rows = pd.read_csv(sweep_csv)
    cases = rows.groupby("method")["case"].nunique()
    rows = rows[rows["base_volume_ml"] > 0].assign(ratio=lambda r: r["volume_ml"] / r["base_volume_ml"])
    return {method: (int(cases[method]), {float(k): float(v) for k, v in group.groupby("k")["ratio"].mean().items()})
            for method, group in rows.groupby("method")}


def demo_table(results: Path, report: Path, seconds: Mapping[str, float], code: Mapping[str, object] | None = None) -> str:
    """Markdown: the experiments' mean Dice and edits, the K sweep, and the stage times.

    Args:
        results: the protocol's results folder (``analyses/`` inside).
        report: its report folder (``tables/summary.csv`` inside).
        seconds: stage -> seconds of this run.
        code: :func:`benchmark.fingerprint.code_state` of the code that ran, whose
            commit (and uncommitted changes) the caption names.
    """
    summary = pd.read_csv(report / "tables" / "summary.csv")
    lines = ["| experiment | Dice | edits per case |", "| --- | ---: | ---: |"]
    for row in summary.itertuples():
        edits = "0" if row.mean_edits == 0 else f"{row.mean_edits:.2f}"
        lines.append(f"| {row.experiment} | {row.mean_dice:.3f} | {edits} |")
    cases = int(summary["cases"].max()) if len(summary) else 0
    notes = [f"Mean final Dice on {cases} held-out phantoms (`report/tables/summary.csv`)."]
    for method, (n, ratios) in sweep_ratios(results / "analyses" / "sweep.csv").items():
        ends = ", ".join(f"{ratios[k]:.2f}x at K = {k:+g}" for k in (min(ratios), max(ratios)))
        notes.append(f"Adjustment sweep, {method} on {n} cases: mean volume over the unedited one {ends}.")
    stages = ", ".join(f"{stage} {s / 60:.1f} min" if s >= 60 else f"{stage} {s:.0f} s" for stage, s in seconds.items())
    commit = (code or {}).get("git_commit")
    where = f" at {str(commit)[:7]}{' with uncommitted changes' if (code or {}).get('git_dirty') else ''}" if commit else ""
    notes.append(f"Made by `simedit demo`{where} on {platform.machine()} with {_cores()} cores: {stages} "
                 f"({sum(seconds.values()) / 60:.1f} min in all).")
    return "\n".join(lines) + "\n\n" + "\n".join(notes) + "\n"


def _cores() -> int:
    from baselines.training.threads import cores

    return cores()
