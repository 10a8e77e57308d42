"""The report's figures, each a pure function of statistics tables returning a Figure.

Figures are built as ``matplotlib.figure.Figure`` objects (no pyplot, so no global figure
state and no display needed) under a seaborn style, and saved with :func:`save_figure`
as PNG (150 dpi) and PDF with no creation date, so a rebuild writes the same bytes.
Experiments appear in the order of the ``experiment`` Categorical of the tables given.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from benchmark.report.tables import format_p

DPI = 150
_TITLE = 12
_WRAP = 16


def save_figure(fig: Figure, folder: Path, name: str) -> tuple[Path, Path]:
    """Write ``fig`` as ``folder/name.png`` (150 dpi) and ``folder/name.pdf``; returns both paths."""
    folder.mkdir(parents=True, exist_ok=True)
    png, pdf = folder / f"{name}.png", folder / f"{name}.pdf"
    fig.savefig(png, dpi=DPI)
    fig.savefig(pdf, metadata={"CreationDate": None})
    return png, pdf


@contextmanager
def _style() -> Iterator[None]:
    with sns.axes_style("whitegrid"), sns.plotting_context("notebook", font_scale=0.9):
        yield


def _order(frame: pd.DataFrame) -> list[str]:
    """The experiments of ``frame`` in their Categorical order (appearance order otherwise)."""
    column = frame["experiment"]
    if isinstance(column.dtype, pd.CategoricalDtype):
        return [c for c in column.cat.categories if (column == c).any()]
    return list(dict.fromkeys(column))


def _wrap(label: str) -> str:
    return textwrap.fill(label, _WRAP, break_long_words=False)


def _colours(labels: list[str]) -> dict[str, tuple[float, float, float]]:
    return dict(zip(labels, sns.color_palette("colorblind", len(labels))))


def _experiment_ticks(ax, labels: list[str]) -> None:
    ax.set_xticks(range(len(labels)))
    rotate = len(labels) > 6 or max(map(len, labels)) > 3 * _WRAP
    ax.set_xticklabels([_wrap(s) for s in labels], rotation=30 if rotate else 0, ha="right" if rotate else "center")


def dice_boxplot(sessions: pd.DataFrame, rng: np.random.Generator) -> Figure:
    """Box plot of final Dice per experiment with every case as a jittered point (Fig. 3).

    Args:
        sessions: ``statistics.session_table`` output (experiment, final_dice per case).
        rng: draws the horizontal jitter of the points.
    """
    labels = _order(sessions)
    values = [sessions.loc[sessions["experiment"] == e, "final_dice"].dropna().to_numpy() for e in labels]
    colours = _colours(labels)
    with _style():
        fig = Figure(figsize=(max(5.0, 1.2 * len(labels) + 1.5), 4.5))
        ax = fig.add_subplot()
        boxes = ax.boxplot(values, positions=range(len(labels)), widths=0.55, showfliers=False, patch_artist=True,
                           medianprops={"color": "black"})
        for patch, label in zip(boxes["boxes"], labels):
            patch.set(facecolor=(*colours[label], 0.35), edgecolor="0.3")
        for i, v in enumerate(values):
            ax.scatter(i + rng.uniform(-0.18, 0.18, v.size), v, s=14, color=colours[labels[i]], alpha=0.8,
                       edgecolors="none", zorder=3)
            ax.scatter([i], [v.mean()] if v.size else [np.nan], marker="D", s=40, color="white", edgecolors="black",
                       zorder=4)
        _experiment_ticks(ax, labels)
        ax.set_ylabel("Final Dice (whole tumour)")
        ax.set_title("Final Dice per experiment", fontsize=_TITLE)
        ax.legend(handles=[Line2D([], [], marker="D", ls="", mfc="white", mec="black", label="mean"),
                           Line2D([], [], color="black", label="median")], loc="lower right", fontsize="small")
        fig.tight_layout()
    return fig


def dice_vs_interactions(curve: pd.DataFrame) -> Figure:
    """Mean Dice against interactions, one line per experiment, with its confidence band.

    Args:
        curve: ``statistics.dice_curve`` output (experiment, interactions, mean_dice, ci_low,
            ci_high, n) for the experiments with edits.
    """
    labels = _order(curve)
    colours = _colours(labels)
    with _style():
        fig = Figure(figsize=(6.5, 4.5))
        ax = fig.add_subplot()
        for label in labels:
            c = curve[curve["experiment"] == label].sort_values("interactions")
            ax.plot(c["interactions"], c["mean_dice"], marker="o", ms=4, color=colours[label], label=label)
            ax.fill_between(c["interactions"], c["ci_low"], c["ci_high"], color=colours[label], alpha=0.18, lw=0)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("Interactions (cumulative edits)")
        ax.set_ylabel("Mean Dice (whole tumour)")
        ax.set_title("Dice against interactions", fontsize=_TITLE)
        ax.legend(loc="lower right", fontsize="small")
        fig.tight_layout()
    return fig


def edit_counts(sessions: pd.DataFrame, per_tool: pd.DataFrame) -> Figure:
    """Edits per case (histogram) and mean edits per case by tool (stacked bars).

    Args:
        sessions: ``statistics.session_table`` output of the experiments with edits.
        per_tool: the per experiment x tool table of ``statistics.edit_counts``
            (experiment, tool, per_case).
    """
    labels = _order(sessions)
    colours = _colours(labels)
    with _style():
        fig = Figure(figsize=(11.0, 4.5))
        left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.2, 1]})
        top = int(sessions["n_edits"].max())
        width = 0.8 / len(labels)
        for i, label in enumerate(labels):
            counts = sessions.loc[sessions["experiment"] == label, "n_edits"].astype(int).value_counts()
            x = np.arange(top + 1)
            left.bar(x - 0.4 + width * (i + 0.5), counts.reindex(x, fill_value=0), width, color=colours[label],
                     label=label)
        left.xaxis.set_major_locator(MaxNLocator(integer=True))
        left.yaxis.set_major_locator(MaxNLocator(integer=True))
        left.set_xlabel("Edits per case")
        left.set_ylabel("Cases")
        left.set_title("Edits per case", fontsize=_TITLE)
        left.legend(fontsize="small")

        table = per_tool.pivot_table(index="experiment", columns="tool", values="per_case", observed=True,
                                     aggfunc="sum").reindex(labels).fillna(0.0)
        bottom = np.zeros(len(labels))
        for tool, colour in zip(table.columns, sns.color_palette("Set2", len(table.columns))):
            right.bar(range(len(labels)), table[tool], 0.6, bottom=bottom, color=colour, label=tool)
            bottom += table[tool].to_numpy()
        unedited = sessions.assign(u=sessions["n_edits"] == 0).groupby("experiment", observed=True)["u"].mean()
        for i, label in enumerate(labels):
            right.annotate(f"{unedited[label]:.0%} unedited", (i, bottom[i]), xytext=(0, 3),
                           textcoords="offset points", ha="center", va="bottom", fontsize="small")
        right.set_ylim(0, max(bottom.max(), 1e-9) * 1.15)
        _experiment_ticks(right, labels)
        right.set_ylabel("Mean edits per case")
        right.set_title("Edits by tool", fontsize=_TITLE)
        handles, names = right.get_legend_handles_labels()
        right.legend(handles[::-1], names[::-1], title="tool", fontsize="small")  # in stacking order
        fig.tight_layout()
    return fig


def paired_differences(comparisons: pd.DataFrame, level: float = 0.95) -> Figure:
    """Forest plot: each experiment's paired difference in final Dice to the reference.

    Args:
        comparisons: ``statistics.all_comparisons`` output against one reference (a,
            b, n, mean_diff, ci_low, ci_high, p_holm); one row per experiment b.
        level: the confidence level of the intervals, for the axis label.
    """
    rows = comparisons.iloc[::-1]  # the first comparison on top
    reference = comparisons["a"].iloc[0]
    with _style():
        fig = Figure(figsize=(7.0, 1.0 + 0.6 * len(rows)))
        ax = fig.add_subplot()
        y = np.arange(len(rows))
        err = [rows["mean_diff"] - rows["ci_low"], rows["ci_high"] - rows["mean_diff"]]
        ax.errorbar(rows["mean_diff"], y, xerr=err, fmt="o", color="black", ecolor="0.4", capsize=3)
        ax.axvline(0.0, color="0.5", ls="--", lw=1)
        ax.set_yticks(y)
        ax.set_yticklabels([f"{r.b}\nn={r.n}, Holm p={format_p(r.p_holm)}" for r in rows.itertuples()],
                           fontsize="small")
        ax.set_ylim(-0.6, len(rows) - 0.4)
        ax.set_xlabel(f"Difference in final Dice to {reference} ({level:.0%} bootstrap CI)")
        ax.set_title(f"Paired differences to {reference}", fontsize=_TITLE)
        fig.tight_layout()
    return fig
