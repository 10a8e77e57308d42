"""Statistics over experiments: per-session tables, summaries, paired tests, Dice curves.

Every function starts from the tidy rounds frame of one or more runs with an extra
``experiment`` column (str, the label a figure shows), as built by
``benchmark.report.load.load_rounds(folder)``: one row per (experiment, case, round) with
at least the columns of ``benchmark.results.read_rounds`` that are named below. Round 0
is the prediction before any edit; ``n_edits`` is cumulative.

*Interactions* are cumulative edits (one click, one stroke, one adjustment value each).
Sessions stop early (Dice target reached, nothing left to fix), so they have different
numbers of rounds; where sessions are compared at a common interaction count, a session
that stopped keeps its last Dice (carried forward).

Experiments keep their order: a pandas Categorical ``experiment`` column keeps its
categories' order; any other column is ordered by first appearance. Output frames carry
``experiment`` as a Categorical with that order.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats

from benchmark import metrics
from benchmark.names import unknown_name

ROUND_INPUT = ("experiment", "case", "method", "user", "round", "dice", "n_edits")
SESSION_INPUT = ("experiment", "case", "method", "user", "initial_dice", "final_dice",
                 "n_edits", "edited", "auc")

_ROUNDS_SOURCE = ("build it with benchmark.report.load.load_rounds(folder), which adds the "
                  "experiment column to benchmark.results.read_rounds(folder)")
_SESSIONS_SOURCE = "build it with benchmark.statistics.session_table(rounds)"


@dataclass(frozen=True)
class Comparison:
    """Final Dice of experiment ``b`` minus ``a`` over the cases both have, paired by case.

    Attributes:
        n: shared cases.
        mean_diff: mean of the paired differences (b - a); NaN when n = 0.
        ci_low, ci_high: percentile bootstrap interval of the mean difference.
        wilcoxon_stat, p_value: two-sided Wilcoxon signed-rank test (Pratt's zero
            handling); NaN when n < 2 or every difference is 0.
    """

    a: str
    b: str
    n: int
    mean_diff: float
    ci_low: float
    ci_high: float
    wilcoxon_stat: float
    p_value: float


def session_table(rounds: pd.DataFrame, thresholds: Sequence[float] = (0.85, 0.90),
                  budget: int | None = None) -> pd.DataFrame:
    """One row per (experiment, case): the session's start, end and threshold metrics.

    Args:
        rounds: the rounds frame with an ``experiment`` column (see the module doc);
            each (experiment, case) must hold one session (one method and user).
        thresholds: Dice thresholds t for NoC@t and reached@t; the column suffix is
            100 t (0.85 -> ``noc_85``, 0.925 -> ``noc_92.5``).
        budget: the interaction budget, >= 1; None takes the largest ``n_edits`` in
            ``rounds`` (at least 1), so every experiment is scored against the same one.

    Returns:
        Columns experiment, method, user, case, initial_dice (round 0), final_dice
        (last round), n_edits (final cumulative), edited (n_edits > 0), rounds (last
        round index), auc, and per threshold ``noc_<t>``, ``reached_<t>``.

        - ``noc_<t>``: ``benchmark.metrics.noc``: the interactions spent when Dice
          first reached t; a session that never reaches t within the budget counts
          the budget (so NoC means are lower bounds of the true effort; NoF, the
          sessions with ``reached_<t>`` False, says how many were capped).
        - ``reached_<t>``: ``benchmark.metrics.reached`` on the curve truncated to the
          rounds with n_edits <= budget.
        - ``auc``: ``benchmark.metrics.auc`` (normalised: mean Dice over interactions)
          of the curve truncated to the budget and carried forward to it, so a session
          that stopped early is scored over the same 0..budget range as the others.
    """
    _require(rounds, ROUND_INPUT, "rounds", _ROUNDS_SOURCE)
    rounds = _ordered(rounds)
    names = _threshold_names(thresholds)
    if budget is None:
        budget = max(1, int(rounds["n_edits"].max())) if len(rounds) else 1
    elif isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or budget < 1:
        raise ValueError(f"budget must be a whole number of interactions >= 1, got {budget!r}")
    rows = []
    for key, round_index, dice, spent in _sessions(rounds):
        within = spent <= budget
        capped_dice, capped_spent = np.append(dice[within], dice[within][-1]), np.append(spent[within], budget)
        row = {
            **key, "initial_dice": dice[0], "final_dice": dice[-1], "n_edits": int(spent[-1]),
            "edited": bool(spent[-1] > 0), "rounds": int(round_index[-1]),
            "auc": metrics.auc(capped_dice, capped_spent),
        }
        for t, name in zip(thresholds, names):
            row[f"noc_{name}"] = metrics.noc(dice, spent, t, budget)
            row[f"reached_{name}"] = metrics.reached(dice[within], t)
        rows.append(row)
    columns = ["experiment", "method", "user", "case", "initial_dice", "final_dice", "n_edits",
               "edited", "rounds", "auc", *(f"{k}_{n}" for n in names for k in ("noc", "reached"))]
    table = pd.DataFrame(rows, columns=columns)
    table["experiment"] = pd.Categorical(table["experiment"], categories=rounds["experiment"].cat.categories)
    return table


def experiment_summary(sessions: pd.DataFrame) -> pd.DataFrame:
    """One row per experiment, from :func:`session_table`'s frame.

    Returns:
        Columns experiment, method, user (", "-joined when several), cases, mean_dice,
        sd_dice (ddof 1; NaN for one case), median_dice, q1_dice, q3_dice (final Dice,
        linear-interpolation quartiles as in a box plot), initial_dice (mean), mean_edits,
        share_unedited, auc (mean), and per threshold of the table ``noc_<t>`` (mean,
        never-reached sessions counting the budget) and ``nof_<t>`` (sessions that
        never reached t within the budget).
    """
    _require(sessions, SESSION_INPUT, "sessions", _SESSIONS_SOURCE)
    sessions = _ordered(sessions)
    names = [c.removeprefix("noc_") for c in sessions.columns if c.startswith("noc_")]
    _require(sessions, tuple(f"reached_{n}" for n in names), "sessions", _SESSIONS_SOURCE)
    rows = []
    for experiment, group in sessions.groupby("experiment", observed=True, sort=True):
        final = group["final_dice"]
        row = {
            "experiment": experiment,
            "method": ", ".join(group["method"].unique()), "user": ", ".join(group["user"].unique()),
            "cases": len(group), "mean_dice": final.mean(), "sd_dice": final.std(ddof=1),
            "median_dice": final.median(), "q1_dice": final.quantile(0.25), "q3_dice": final.quantile(0.75),
            "initial_dice": group["initial_dice"].mean(), "mean_edits": group["n_edits"].mean(),
            "share_unedited": 1.0 - group["edited"].astype(bool).mean(), "auc": group["auc"].mean(),
        }
        for name in names:
            row[f"noc_{name}"] = group[f"noc_{name}"].mean()
            row[f"nof_{name}"] = int((~group[f"reached_{name}"].astype(bool)).sum())
        rows.append(row)
    columns = ["experiment", "method", "user", "cases", "mean_dice", "sd_dice", "median_dice", "q1_dice",
               "q3_dice", "initial_dice", "mean_edits", "share_unedited", "auc",
               *(f"{k}_{n}" for n in names for k in ("noc", "nof"))]
    summary = pd.DataFrame(rows, columns=columns)
    summary["experiment"] = pd.Categorical(summary["experiment"], categories=sessions["experiment"].cat.categories)
    return summary


def paired_comparison(sessions: pd.DataFrame, a: str, b: str, n_boot: int = 10000,
                      rng: np.random.Generator | None = None, level: float = 0.95) -> Comparison:
    """Final Dice of experiment ``b`` minus ``a`` on the cases both have, paired by case.

    The interval is a paired percentile bootstrap: ``n_boot`` resamples of the shared
    cases with replacement, each giving the mean of its differences; the interval is
    the (1 - level)/2 and (1 + level)/2 quantiles of those means.

    The test is ``scipy.stats.wilcoxon`` (two-sided) with ``zero_method="pratt"``: exact
    zero differences are common here (a session left unedited in both experiments gives
    the same Dice), and Pratt's method ranks them with the others before dropping them,
    which avoids the paradox of discarding them first ("wilcox": making a difference
    more favourable can lower the significance). With fewer than 2 shared cases, or all
    differences 0, there is nothing to rank and the statistic and p are NaN (scipy would
    warn and report p = 1 there, so the test is not called).

    Args:
        sessions: :func:`session_table`'s frame.
        a, b: experiment labels.
        n_boot: bootstrap resamples, >= 1.
        rng: the source of the resamples; None uses ``np.random.default_rng(0)`` so a
            report is the same every time it is built.
        level: the interval's coverage, in (0, 1).
    """
    _require(sessions, SESSION_INPUT, "sessions", _SESSIONS_SOURCE)
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise ValueError(f"n_boot must be a whole number of resamples >= 1, got {n_boot!r}")
    if not 0 < level < 1:
        raise ValueError(f"level must be a coverage in (0, 1), e.g. 0.95, got {level!r}")
    rng = np.random.default_rng(0) if rng is None else rng
    final = {name: _final_by_case(sessions, name) for name in (a, b)}
    shared = final[a].index.intersection(final[b].index)
    diff = (final[b][shared] - final[a][shared]).to_numpy(float)
    n = diff.size
    if n == 0:
        return Comparison(a, b, 0, *[float("nan")] * 5)
    means = diff[rng.integers(0, n, size=(n_boot, n))].mean(axis=1)
    ci_low, ci_high = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    if n < 2 or not diff.any():
        statistic = p_value = float("nan")
    else:
        statistic, p_value = stats.wilcoxon(diff, zero_method="pratt", alternative="two-sided")
    return Comparison(a, b, n, float(diff.mean()), float(ci_low), float(ci_high),
                      float(statistic), float(p_value))


def all_comparisons(sessions: pd.DataFrame, reference: str | None = None, n_boot: int = 10000,
                    rng: np.random.Generator | None = None, level: float = 0.95) -> pd.DataFrame:
    """:func:`paired_comparison` for every pair of experiments, with Holm-adjusted p.

    Args:
        sessions: :func:`session_table`'s frame.
        reference: None compares every pair (a earlier than b in experiment order);
            a label compares every other experiment (b) against it (a).
        n_boot, level: as in :func:`paired_comparison`.
        rng: one generator drawn from by each comparison in turn; None uses
            ``np.random.default_rng(0)``.

    Returns:
        One row per comparison: the fields of :class:`Comparison` plus ``p_holm``,
        Holm's step-down adjustment over the comparisons that have a p-value.
    """
    _require(sessions, SESSION_INPUT, "sessions", _SESSIONS_SOURCE)
    order = [str(e) for e in _ordered(sessions)["experiment"].cat.categories
             if (sessions["experiment"] == e).any()]
    if reference is None:
        pairs = list(itertools.combinations(order, 2))
    elif reference not in order:
        raise ValueError(unknown_name("reference experiment", reference, order))
    else:
        pairs = [(reference, other) for other in order if other != reference]
    rng = np.random.default_rng(0) if rng is None else rng
    table = pd.DataFrame([asdict(paired_comparison(sessions, a, b, n_boot, rng, level)) for a, b in pairs],
                         columns=[*Comparison.__dataclass_fields__])
    table["p_holm"] = holm(table["p_value"].to_numpy(float))
    return table


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values, in the input order; NaN stays NaN.

    With the m finite p-values sorted ascending, p_(i) becomes
    max over j <= i of min(1, (m - j + 1) p_(j)).
    """
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full_like(p, np.nan)
    finite = np.flatnonzero(~np.isnan(p))
    order = finite[np.argsort(p[finite], kind="stable")]
    m = order.size
    adjusted[order] = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    return adjusted


def dice_curve(rounds: pd.DataFrame, max_interactions: int | None = None, level: float = 0.95) -> pd.DataFrame:
    """Mean Dice of each experiment after 0..max interactions, with a t interval over cases.

    At count k a session contributes its Dice at its last round with n_edits <= k, so a
    session that stopped early keeps its last Dice. Every case of the experiment counts
    at every k.

    Args:
        rounds: the rounds frame with an ``experiment`` column (see the module doc).
        max_interactions: the last count, >= 0, for every experiment; None: each
            experiment's own largest ``n_edits`` (a curve ends where its users stopped,
            rather than running flat across budgets it never had).
        level: the interval's coverage, in (0, 1).

    Returns:
        Columns experiment, interactions, mean_dice, ci_low, ci_high, n (cases). The
        interval is mean +- t_{(1+level)/2, n-1} sd / sqrt(n); with one case or no
        spread it has no width (ci_low = ci_high = mean).
    """
    _require(rounds, ROUND_INPUT, "rounds", _ROUNDS_SOURCE)
    if not 0 < level < 1:
        raise ValueError(f"level must be a coverage in (0, 1), e.g. 0.95, got {level!r}")
    if max_interactions is not None and (isinstance(max_interactions, bool) or not isinstance(max_interactions, (int, np.integer)) \
            or max_interactions < 0):
        raise ValueError(f"max_interactions must be a whole number >= 0, got {max_interactions!r}")
    rounds = _ordered(rounds)
    sessions: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    for key, _, dice, spent in _sessions(rounds):
        sessions.setdefault(key["experiment"], []).append((dice, spent))
    parts = []
    for experiment, rows in sessions.items():
        last = max_interactions if max_interactions is not None else int(max(spent[-1] for _, spent in rows))
        counts = np.arange(last + 1)
        values = np.array([dice[np.searchsorted(spent, counts, "right") - 1] for dice, spent in rows])  # [cases, counts]
        n = values.shape[0]
        mean = values.mean(axis=0)
        half = np.zeros_like(mean)
        if n > 1:
            half = stats.t.ppf((1 + level) / 2, n - 1) * values.std(axis=0, ddof=1) / np.sqrt(n)
        parts.append(pd.DataFrame({"experiment": experiment, "interactions": counts, "mean_dice": mean,
                                   "ci_low": mean - half, "ci_high": mean + half, "n": n}))
    curve = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["experiment", "interactions", "mean_dice", "ci_low", "ci_high", "n"])
    curve["experiment"] = pd.Categorical(curve["experiment"], categories=rounds["experiment"].cat.categories)
    return curve


def edit_counts(rounds: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """How many edits each experiment's sessions made, overall and per tool.

    Args:
        rounds: the rounds frame with an ``experiment`` column and ``tools`` (each
            round's edit tools, ``;``-joined: "selection;brush" is 2 edits).

    Returns:
        (per experiment: experiment, cases, mean_edits, median_edits, share_unedited,
        max_edits, from each session's final n_edits;
        per experiment x tool: experiment, tool, edits (edits of that tool over all its
        sessions), per_case (edits / cases); every tool used in any experiment appears
        for every experiment, 0 where unused.)
    """
    _require(rounds, (*ROUND_INPUT, "tools"), "rounds", _ROUNDS_SOURCE)
    rounds = _ordered(rounds)
    final = rounds.groupby(["experiment", "case"], observed=True, sort=True)["n_edits"].max().reset_index()
    by_experiment = final.groupby("experiment", observed=True, sort=True)["n_edits"].agg(
        cases="size", mean_edits="mean", median_edits="median",
        share_unedited=lambda e: float((e == 0).mean()), max_edits="max").reset_index()
    tools = (rounds[["experiment", "tools"]].assign(tool=rounds["tools"].fillna("").astype(str).str.split(";"))
             .explode("tool"))
    tools["tool"] = tools["tool"].str.strip()
    tools = tools[tools["tool"] != ""]
    used = sorted(tools["tool"].unique())
    grid = pd.MultiIndex.from_product([by_experiment["experiment"], used], names=["experiment", "tool"])
    edits = tools.groupby(["experiment", "tool"], observed=True).size().reindex(grid, fill_value=0)
    by_tool = edits.rename("edits").reset_index()
    by_tool["per_case"] = by_tool["edits"] / by_tool["experiment"].map(
        by_experiment.set_index("experiment")["cases"]).astype(float)
    by_tool["experiment"] = pd.Categorical(by_tool["experiment"], categories=rounds["experiment"].cat.categories)
    return by_experiment, by_tool


def _ordered(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with ``experiment`` as a Categorical: its own order, or first appearance."""
    if isinstance(frame["experiment"].dtype, pd.CategoricalDtype):
        return frame
    labels = frame["experiment"].astype(str)
    return frame.assign(experiment=pd.Categorical(labels, categories=labels.unique()))


def _final_by_case(sessions: pd.DataFrame, experiment: str) -> pd.Series:
    present = [str(e) for e in pd.unique(sessions["experiment"].astype(str))]
    if experiment not in present:
        raise ValueError(unknown_name("experiment", experiment, present))
    rows = sessions[sessions["experiment"].astype(str) == experiment]
    if rows["case"].duplicated().any():
        raise ValueError(f"sessions: experiment {experiment!r} has several rows for one case; "
                         f"{_SESSIONS_SOURCE}")
    return rows.set_index("case")["final_dice"]


def _sessions(rounds: pd.DataFrame) -> Iterator[tuple[dict[str, str], np.ndarray, np.ndarray, np.ndarray]]:
    """Each session of a rounds frame, in experiment order then by case, rounds in order.

    Yields ({experiment, method, user, case}, round, dice, n_edits as float), the arrays
    [rounds]. Raises when an (experiment, case) holds several sessions or repeats a round.
    """
    rounds = _ordered(rounds)
    pairs = rounds.drop_duplicates(["experiment", "case", "method", "user"])
    mixed = pairs[pairs.duplicated(["experiment", "case"], keep=False)]
    if len(mixed):
        first = mixed.iloc[0]
        found = "; ".join(f"{m} / {u}" for m, u in mixed.loc[mixed["case"] == first["case"], ["method", "user"]]
                          .itertuples(index=False))
        raise ValueError(f"rounds: experiment {first['experiment']!r} has several sessions for case "
                         f"{first['case']!r} ({found}); give each (method, user) pair its own experiment label")
    repeated = rounds[rounds.duplicated(["experiment", "case", "round"])]
    if len(repeated):
        first = repeated.iloc[0]
        raise ValueError(f"rounds: experiment {first['experiment']!r}, case {first['case']!r} repeats "
                         f"round {first['round']}; {_ROUNDS_SOURCE}")
    rounds = rounds.sort_values(["experiment", "case", "round"])
    starts = np.flatnonzero(~rounds.duplicated(["experiment", "case"]).to_numpy())
    bounds = zip(starts, [*starts[1:], len(rounds)])
    labels = rounds[["experiment", "method", "user", "case"]].to_numpy()
    round_index, dice, spent = (rounds[c].to_numpy(float) for c in ("round", "dice", "n_edits"))
    for lo, hi in bounds:
        key = dict(zip(("experiment", "method", "user", "case"), labels[lo]))
        yield key, round_index[lo:hi], dice[lo:hi], spent[lo:hi]


def _threshold_names(thresholds: Sequence[float]) -> list[str]:
    if not thresholds or not all(0 < t <= 1 for t in thresholds):
        raise ValueError(f"thresholds must be Dice values in (0, 1], e.g. (0.85, 0.90), got {thresholds!r}")
    names = [f"{100 * t:g}" for t in thresholds]
    if len(set(names)) != len(names):
        raise ValueError(f"thresholds repeat a value: {thresholds!r}")
    return names


def _require(frame: pd.DataFrame, columns: Sequence[str], what: str, source: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{what} must be a pandas DataFrame, got {type(frame).__name__}; {source}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} frame lacks columns {missing}; {source}")
