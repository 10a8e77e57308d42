"""Build the report of a results folder: tables, figures and the front page.

Everything is computed from the results files alone (rounds.csv, sessions.csv, run.json,
protocol.json and OUT/analyses), with seeded randomness (bootstrap, jitter), so building
again into an empty folder writes the same files.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmark import statistics
from benchmark.report import behaviour, challenge, figures, population
from benchmark.report.load import Results, describe, load_rounds, load_sessions, read_run_info
from benchmark.report.page import FigureBlock, Page, TableBlock, write_page
from benchmark.report.tables import (comparisons_display, edits_display, summary_display, tools_display,
                                     write_table)

LEVEL = 0.95

#: The analyses figures (piece of OUT/analyses), in page order: (module, figure title, caption).
ANALYSES = (
    ("panels", "Editing examples per tool (Fig. 4)",
     "One axial slice per example: the prediction before and after each tool's edits, with the ground truth."),
    ("sweep", "Adjustment sweep (Fig. 5)",
     "Predicted volume and Dice against the adjustment value K given to the editing network."),
    ("robustness", "Robustness to wrong edits (Fig. 6)",
     "How far deliberately wrong edits (foreground in healthy tissue, background inside the tumour) "
     "change the prediction."),
)


def build_report(folder: Path, out: Path | None = None, reference: str | None = None, n_boot: int = 10000,
                 seed: int = 0, dice_target: float = 0.9) -> Path:
    """Write the report of a protocol folder or a plain run folder.

    Args:
        folder: the results folder (``protocol.json`` + ``experiments/``, or a run
            folder with ``rounds.csv``).
        out: where to write it (default ``folder/report``): ``figures/``, ``tables/``,
            ``index.md``, ``index.html``.
        reference: label or id of the experiment the others are compared with (default:
            the first experiment with results).
        n_boot: bootstrap resamples for the confidence intervals of the differences.
        seed: seeds the bootstrap and the jitter of the box plot's points.
        dice_target: the Dice t of "How the edits behaved" (sessions reaching t, effort to it).

    Returns:
        ``out``.

    Raises:
        ValueError: not a results folder, nothing to report, an unknown reference, or a
            dice_target outside (0, 1].
    """
    if not (isinstance(dice_target, (int, float)) and 0 < dice_target <= 1):
        raise ValueError(f"dice_target must be a Dice in (0, 1], got {dice_target!r}")
    folder = Path(folder)
    out = folder / "report" if out is None else Path(out)
    results = describe(folder)
    rounds = load_rounds(folder)
    ref = _reference(results, reference)
    tables_dir, figures_dir = out / "tables", out / "figures"

    sessions = statistics.session_table(rounds)
    summary = statistics.experiment_summary(sessions)
    per_experiment, per_tool = statistics.edit_counts(rounds)
    edited = [str(e) for e, n in sessions.groupby("experiment", observed=True, sort=True)["n_edits"].max().items()
              if n > 0]
    counts = _case_counts(sessions)
    blocks: list[TableBlock | FigureBlock] = []

    def table(name: str, title: str, caption: str, frame: pd.DataFrame, display: pd.DataFrame, left: int = 1) -> None:
        files = write_table(frame, display, tables_dir, name, left)
        blocks.append(TableBlock(title, caption, display, tuple(str(f.relative_to(out)) for f in files), left))

    def figure(name: str, title: str, caption: str, fig) -> None:
        png, pdf = figures.save_figure(fig, figures_dir, name)
        blocks.append(FigureBlock(title, caption, str(png.relative_to(out)), str(pdf.relative_to(out))))

    table("summary", "Summary", "Final Dice per experiment (mean ± sd, median and quartiles), Dice before any edit, "
          "NoC@t: mean interactions to reach Dice t (sessions that never do count the budget, the most edits any "
          "session made), NoF@t: sessions that never reach t, AUC: normalised area under Dice against "
          f"interactions. {counts}.", summary, summary_display(summary))
    write_table(sessions, None, tables_dir, "sessions")
    figure("dice_boxplot", "Final Dice per experiment (Fig. 3)",
           "Final Dice (whole tumour) of every case after its last round. Boxes: quartiles and median; whiskers: "
           f"1.5 IQR; diamonds: means; points: cases. {counts}.",
           figures.dice_boxplot(sessions, np.random.default_rng(seed)))
    if edited:
        curve = statistics.dice_curve(rounds[rounds["experiment"].isin(edited)], level=LEVEL)
        figure("dice_vs_interactions", "Dice against interactions",
               "Mean Dice against the number of interactions (cumulative edits) for the experiments with edits; a "
               f"session that stopped early keeps its last Dice. Bands: {LEVEL:.0%} t intervals over cases. "
               f"{_case_counts(sessions[sessions['experiment'].isin(edited)])}.", figures.dice_vs_interactions(curve))
        figure("edit_counts", "Edits",
               "Left: cases per number of edits. Right: mean edits per case by tool, with the share of cases left "
               f"unedited. {_case_counts(sessions[sessions['experiment'].isin(edited)])}.",
               figures.edit_counts(sessions[sessions["experiment"].isin(edited)],
                                   per_tool[per_tool["experiment"].isin(edited)]))
    _challenge_section(results, rounds, table, tables_dir)
    table("edits", "Edits per case", f"Edits per session, over every session of each experiment. {counts}.",
          per_experiment, edits_display(per_experiment))
    per_tool = per_tool[per_tool["experiment"].isin(edited)]
    if len(per_tool):
        table("edits_by_tool", "Edits by tool", "Edits of each tool over all sessions of an experiment with edits, "
              "and per case.", per_tool, tools_display(per_tool), left=2)
    if summary["experiment"].nunique() > 1:
        comparisons = statistics.all_comparisons(sessions, reference=ref, n_boot=n_boot,
                                                 rng=np.random.default_rng(seed), level=LEVEL)
        note = (f"Final Dice of each experiment minus {ref}, paired by case over the cases both have; "
                f"{LEVEL:.0%} bootstrap CI of the mean ({n_boot} resamples, seed {seed}); p: Wilcoxon signed-rank "
                f"test (Pratt's handling of zero differences), Holm p adjusted over the {len(comparisons)} comparisons.")
        table("comparisons", f"Paired comparisons with {ref}", note, comparisons, comparisons_display(comparisons),
              left=2)
        figure("paired_differences", f"Paired differences to {ref}", note,
               figures.paired_differences(comparisons, LEVEL))
    behaviour.section(rounds, table, figure, tables_dir, dice_target)
    population.section(rounds, table, figure, tables_dir, dice_target)
    for name, title, caption in ANALYSES:
        fig = _analysis_figure(name, results.analyses)
        if fig is not None:
            figure(name, title, f"{caption} From {results.analyses.name}/ (see its CSV files).", fig)

    out.mkdir(parents=True, exist_ok=True)
    write_page(_page(results, rounds, sessions, blocks), out)
    return out


def _challenge_section(results: Results, rounds: pd.DataFrame, table, tables_dir: Path) -> None:
    """The challenge's scores for experiments run by its conventions; final NSD for the
    others that recorded NSD (see :mod:`benchmark.report.challenge`)."""
    kinds = challenge.conventions(results)
    scored = [label for label, kind in kinds.items() if kind == "cvpr25"]
    per_case, means, problems = challenge.challenge_frames(rounds, scored) if scored else (None, pd.DataFrame(), [])
    shown = set(means["experiment"]) if len(means) else set()
    with_nsd = [label for label in rounds.loc[rounds["nsd"].notna(), "experiment"].astype(str).unique()
                if label not in shown]
    if len(means):
        left_out = f" Not scored: {'; '.join(problems)}." if problems else ""
        note = ("Step 1 is the box, steps 2-6 the clicks; round 0 (before any prompt) is no step. DSC_AUC, NSD_AUC: "
                "trapezoid over the five click steps (x = 0..4, at most 4); NSD: the challenge's surface elements at "
                "the protocol's tolerance, 0 where DSC <= 0.2. Time: a prediction's wall time (s). Unsupported steps: "
                "prompts the method does not take (recorded, the previous prediction stands); a session that stopped "
                "early (nothing left to fix) keeps its last scores for the remaining steps "
                f"({int(means['carried_steps'].sum())} steps here).{left_out}")
        table("challenge", "CVPR 2025 challenge scores", f"Means over cases (per case: tables/challenge_cases.csv). "
              f"{note}", means,
              challenge.challenge_display(means))
        table("challenge_steps", "DSC, NSD and time per step", f"Means over cases. {note}", means,
              challenge.steps_display(means), left=2)
        write_table(per_case, None, tables_dir, "challenge_cases")
    if with_nsd:
        frame = challenge.final_nsd(rounds, with_nsd)
        why = f" The challenge cannot score: {'; '.join(problems)}." if problems else ""
        table("nsd", "Final NSD", "Normalised surface Dice of each session's last prediction at the protocol's "
              "tolerance (by its conventions), mean ± sd and median over cases." + why, frame,
              challenge.final_nsd_display(frame))


def _reference(results: Results, reference: str | None) -> str:
    if reference is None:
        return results.present[0].label
    try:
        experiment = results.find(reference)
    except ValueError as error:  # name the option: "unknown experiment" alone does not say which input was wrong
        raise ValueError(f"reference (--reference): {error}") from None
    if experiment.problem:
        raise ValueError(f"the reference experiment {experiment.label!r} has no results: {experiment.problem}")
    return experiment.label


def _case_counts(sessions: pd.DataFrame) -> str:
    """'n = 12 cases per experiment', or each experiment's count when they differ."""
    n = sessions.groupby("experiment", observed=True, sort=True)["case"].nunique()
    if n.nunique() == 1:
        return f"n = {n.iloc[0]} cases per experiment"
    return "n = " + ", ".join(f"{e}: {k}" for e, k in n.items()) + " cases"


def _analysis_figure(name: str, folder: Path):
    """The figure of ``benchmark.analyses.<name>`` from ``folder``, or None when that
    module is not installed or its files are absent."""
    module_name = f"benchmark.analyses.{name}"
    if not folder.is_dir() or importlib.util.find_spec(module_name) is None:
        return None
    module = importlib.import_module(module_name)
    data = getattr(module, f"read_{name}")(folder)
    return None if data is None else getattr(module, f"plot_{name}")(data)


def _page(results: Results, rounds: pd.DataFrame, sessions: pd.DataFrame,
          blocks: list[TableBlock | FigureBlock]) -> Page:
    all_sessions = load_sessions(results.folder)
    failed = all_sessions[all_sessions["status"] == "failed"]
    intro = [f"Results: {results.folder.resolve()}"]
    if results.source:
        intro.append(f"Protocol: {results.source}")
    intro.append(f"{len(results.present)} experiments with results, {sessions['case'].nunique()} cases, "
                 f"{len(sessions)} finished sessions, {len(failed)} failed; {len(rounds)} rounds.")
    warnings = tuple(f"experiment {e.label!r} is not reported: {e.problem}." for e in results.experiments
                     if e.problem)
    failures = failed[["experiment", "case", "error"]].astype(str).rename(columns=str.capitalize)
    return Page(results.title, tuple(intro), warnings, _provenance(results), tuple(blocks),
                failures.reset_index(drop=True))


def _provenance(results: Results) -> pd.DataFrame:
    """One row per distinct (commit, seed, versions) over the experiments' run.json."""
    rows: dict[tuple, list[str]] = {}
    for e in results.present:
        info: dict[str, Any] = read_run_info(e)
        packages = info.get("packages") or {}
        key = ((info.get("git_commit") or "unknown")[:12], str(info.get("seed", "unknown")),
               str(info.get("python", "unknown")),
               *(str(packages.get(p) or "unknown") for p in ("simedit", "numpy", "torch")))
        rows.setdefault(key, []).append(e.label)
    columns = ["Git commit", "Seed", "Python", "simedit", "numpy", "torch"]
    frame = pd.DataFrame(list(rows), columns=columns)
    frame.insert(0, "Experiments", [", ".join(labels) for labels in rows.values()])
    return frame
