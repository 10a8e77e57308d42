"""The report's tables: statistics frames written as CSV, LaTeX (booktabs) and Markdown.

Each table has two forms: the statistics frame itself, written to CSV with 6 significant
digits for further work, and a *display* frame of strings (Dice to 4 decimals, p-values
in scientific notation below 1e-3) that the LaTeX, Markdown and HTML versions show.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                  "±": r"$\pm$", "–": "--"}


def format_p(p: float) -> str:
    """A p-value for people: 3 decimals, scientific notation below 1e-3, "n/a" for NaN."""
    if p is None or math.isnan(p):
        return "n/a"
    return f"{p:.1e}" if p < 1e-3 else f"{p:.3f}"


def _num(x: float, digits: int) -> str:
    return "n/a" if pd.isna(x) else f"{x:.{digits}f}"


def summary_display(summary: pd.DataFrame) -> pd.DataFrame:
    """``statistics.experiment_summary`` as strings, one row per experiment."""
    s = summary
    return pd.DataFrame({
        "Experiment": s["experiment"].astype(str),
        "Cases": s["cases"].astype(int).astype(str),
        "Initial Dice": [_num(x, 4) for x in s["initial_dice"]],
        "Final Dice": [f"{_num(m, 4)} ± {_num(sd, 4)}" for m, sd in zip(s["mean_dice"], s["sd_dice"])],
        "Median [IQR]": [f"{_num(m, 4)} [{_num(a, 4)}–{_num(b, 4)}]"
                         for m, a, b in zip(s["median_dice"], s["q1_dice"], s["q3_dice"])],
        "NoC@0.85": [_num(x, 2) for x in s["noc_85"]],
        "NoC@0.90": [_num(x, 2) for x in s["noc_90"]],
        "NoF@0.85": s["nof_85"].astype(int).astype(str),
        "NoF@0.90": s["nof_90"].astype(int).astype(str),
        "AUC": [_num(x, 4) for x in s["auc"]],
        "Mean edits": [_num(x, 2) for x in s["mean_edits"]],
        "Unedited": [f"{x:.0%}" for x in s["share_unedited"]],
    })


def comparisons_display(comparisons: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """``statistics.all_comparisons`` as strings: difference b - a with its CI and p-values."""
    c = comparisons
    return pd.DataFrame({
        "Reference": c["a"].astype(str),
        "Experiment": c["b"].astype(str),
        "Pairs": c["n"].astype(int).astype(str),
        "Mean difference": [f"{x:+.4f}" if not pd.isna(x) else "n/a" for x in c["mean_diff"]],
        f"{level:.0%} CI": [f"[{_num(a, 4)}, {_num(b, 4)}]" for a, b in zip(c["ci_low"], c["ci_high"])],
        "Wilcoxon W": [_num(x, 1) for x in c["wilcoxon_stat"]],
        "p": [format_p(x) for x in c["p_value"]],
        "Holm p": [format_p(x) for x in c["p_holm"]],
    })


def edits_display(per_experiment: pd.DataFrame) -> pd.DataFrame:
    """The per-experiment part of ``statistics.edit_counts`` as strings."""
    e = per_experiment
    return pd.DataFrame({
        "Experiment": e["experiment"].astype(str),
        "Mean edits": [_num(x, 2) for x in e["mean_edits"]],
        "Median edits": [_num(x, 1) for x in e["median_edits"]],
        "Max edits": [_num(x, 0) for x in e["max_edits"]],
        "Unedited": [f"{x:.0%}" for x in e["share_unedited"]],
    })


def tools_display(per_tool: pd.DataFrame) -> pd.DataFrame:
    """The per experiment x tool part of ``statistics.edit_counts`` as strings."""
    t = per_tool
    return pd.DataFrame({
        "Experiment": t["experiment"].astype(str),
        "Tool": t["tool"].astype(str),
        "Edits": t["edits"].astype(int).astype(str),
        "Per case": [_num(x, 2) for x in t["per_case"]],
    })


def write_table(frame: pd.DataFrame, display: pd.DataFrame | None, folder: Path, name: str,
                left: int = 1) -> list[Path]:
    """Write ``frame`` as ``folder/name.csv`` and, given a display frame, ``name.tex``
    (the first ``left`` columns aligned left)."""
    folder.mkdir(parents=True, exist_ok=True)
    csv = folder / f"{name}.csv"
    frame.to_csv(csv, index=False, float_format="%.6g", lineterminator="\n")
    if display is None:
        return [csv]
    tex = folder / f"{name}.tex"
    tex.write_text(latex_table(display, left), encoding="utf-8")
    return [csv, tex]


def latex_table(display: pd.DataFrame, left: int = 1) -> str:
    """A booktabs ``tabular`` of a display frame: the first ``left`` columns (text)
    aligned left, the others (numbers) right."""
    def row(cells) -> str:
        return " & ".join(latex_escape(str(c)) for c in cells) + r" \\"

    spec = "l" * left + "r" * (display.shape[1] - left)
    lines = [rf"\begin{{tabular}}{{{spec}}}", r"\toprule", row(display.columns), r"\midrule"]
    lines += [row(r) for r in display.itertuples(index=False)]
    lines += [r"\bottomrule", r"\end{tabular}", ""]
    return "\n".join(lines)


def latex_escape(text: str) -> str:
    """``text`` with LaTeX's special characters escaped (``_``, ``%``, ``&``, ...)."""
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def markdown_table(display: pd.DataFrame, left: int = 1) -> str:
    """A GitHub-flavoured Markdown table of a display frame, aligned as :func:`latex_table`."""
    def row(cells) -> str:
        return "| " + " | ".join(str(c).replace("|", r"\|") for c in cells) + " |"

    align = ["---"] * left + ["---:"] * (display.shape[1] - left)
    return "\n".join([row(display.columns), "| " + " | ".join(align) + " |",
                      *(row(r) for r in display.itertuples(index=False))])
