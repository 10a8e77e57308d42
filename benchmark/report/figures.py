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
                           Line2D([], [], color="black", label="median")], loc="best", fontsize="small")
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
        fig = Figure(figsize=(8.5, 4.5))
        ax = fig.add_subplot()
        for label in labels:
            c = curve[curve["experiment"] == label].sort_values("interactions")
            ax.plot(c["interactions"], c["mean_dice"], marker="o", ms=4, color=colours[label], label=label)
            ax.fill_between(c["interactions"], c["ci_low"], c["ci_high"], color=colours[label], alpha=0.18, lw=0)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("Interactions (cumulative edits)")
        ax.set_ylabel("Mean Dice (whole tumour)")
        ax.set_title("Dice against interactions", fontsize=_TITLE)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
        fig.tight_layout()
    return fig


def edit_counts(sessions: pd.DataFrame, per_tool: pd.DataFrame) -> Figure:
    """One row per experiment: a histogram of edits per case, and its mean edits per case
    split by tool, with the share of cases left unedited.

    Args:
        sessions: ``statistics.session_table`` output of the experiments with edits.
        per_tool: the per experiment x tool table of ``statistics.edit_counts``
            (experiment, tool, per_case).
    """
    labels = _order(sessions)
    colours = _colours(labels)
    table = per_tool.pivot_table(index="experiment", columns="tool", values="per_case", observed=True,
                                 aggfunc="sum").reindex(labels).fillna(0.0)
    tool_colours = dict(zip(table.columns, sns.color_palette("Set2", len(table.columns))))
    counts = np.arange(int(sessions["n_edits"].max()) + 1)
    with _style():
        fig = Figure(figsize=(10.0, 1.2 + 0.8 * len(labels)), layout="constrained")
        axes = fig.subplots(len(labels), 2, sharex="col", squeeze=False, gridspec_kw={"width_ratios": [1.3, 1]})
        for (hist, bars), label in zip(axes, labels):
            edits = sessions.loc[sessions["experiment"] == label, "n_edits"].astype(int)
            hist.bar(counts, edits.value_counts().reindex(counts, fill_value=0), 0.8, color=colours[label])
            hist.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=3))
            hist.set_ylabel(_wrap(label), rotation=0, ha="right", va="center", labelpad=10)
            start = 0.0
            for tool, colour in tool_colours.items():
                bars.barh(0, table.loc[label, tool], 0.6, left=start, color=colour, label=tool)
                start += table.loc[label, tool]
            bars.annotate(f"{(edits == 0).mean():.0%} unedited", (start, 0), xytext=(4, 0), textcoords="offset points",
                          va="center", fontsize="small")
            bars.set_yticks([])
            bars.set_ylim(-0.6, 0.6)
        axes[0, 0].set_title("Cases per number of edits", fontsize=_TITLE)
        axes[0, 1].set_title("Mean edits per case, by tool", fontsize=_TITLE)
        axes[-1, 0].xaxis.set_major_locator(MaxNLocator(integer=True))
        axes[-1, 0].set_xlabel("Edits per case")
        axes[-1, 1].set_xlabel("Mean edits per case")
        axes[-1, 1].set_xlim(0, max(table.sum(axis=1).max(), 1e-9) * 1.4)  # room for the annotation
        handles, names = axes[0, 1].get_legend_handles_labels()
        fig.legend(handles, names, title="tool", loc="outside right upper", fontsize="small")
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
