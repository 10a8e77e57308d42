"""The report's section "Robustness to the user": populations of simulated users against the oracle.

An experiment is a *population* when its user has a realism knob
(:mod:`benchmark.realism.knobs`) in any stage of its chain, or it ran more than one user
seed (``repeats``). Its *oracle* is the first experiment, in experiment order, with the
same ``method`` whose ``user`` is the population's user with the knobs removed
(:func:`without_knobs`; both spellings compared in that form) and which ran user seed 0
only. Per population the statistics go per user seed (one simulated person) first: the
mean over cases of each seed, then its median and 5th/95th percentiles across seeds
(numpy's linear percentiles). NoC@t is :func:`benchmark.statistics.session_table`'s, over
every experiment of the report (the same budget as the summary table's).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from benchmark import statistics
from benchmark.chain import THEN, chain_stages
from benchmark.realism import split_options
from benchmark.report.behaviour import target_name
from benchmark.report.figures import _TITLE, _colours, _order, _style
from benchmark.report.load import with_user_units
from benchmark.report.tables import write_table
from benchmark.specs import parse_user_spec

TITLE = "Robustness to the user"
NA = "n/a"
_PERCENTILES = (5, 50, 95)


def _stages(spec: str) -> list[tuple[str, dict, dict]] | None:
    """(name, own options, knobs) of each stage of a user spec; None when it does not parse."""
    try:
        return [(p.name, *split_options(p.options)) for p in map(parse_user_spec, chain_stages(spec))]
    except (TypeError, ValueError):
        return None


def _text(value) -> str:
    """An option's value as a spec spells it (YAML scalars)."""
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    return str(value)


def without_knobs(spec: str) -> str:
    """The user ``spec`` with its realism knobs removed: each stage ``NAME[:k=v,...]`` with
    its own options in their order, stages joined by " then " (a spec that does not parse
    is returned as it is)."""
    stages = _stages(spec)
    if stages is None:
        return spec
    return f" {THEN} ".join(name + (":" + ",".join(f"{k}={_text(v)}" for k, v in own.items()) if own else "")
                            for name, own, _ in stages)


def has_knobs(spec: str) -> bool:
    """Whether any stage of the user ``spec`` sets a realism knob."""
    return any(knobs for _, _, knobs in _stages(spec) or [])


def _units(rounds: pd.DataFrame) -> pd.DataFrame:
    """``rounds`` with ``case_id`` and ``user_seed`` (as the report's loaders give them) and
    ``experiment`` as a Categorical."""
    frame = rounds if "case_id" in rounds.columns else with_user_units(rounds)
    if not isinstance(frame["experiment"].dtype, pd.CategoricalDtype):
        labels = frame["experiment"].astype(str)
        frame = frame.assign(experiment=pd.Categorical(labels, categories=labels.unique()))
    return frame


def experiments(rounds: pd.DataFrame) -> pd.DataFrame:
    """One row per experiment, in order: experiment, method, user (of its first row),
    user_seeds (distinct seeds), knobs (its user has a knob), population, oracle (the
    oracle's label; "n/a" for none, and for experiments that are no population)."""
    frame = _units(rounds)
    rows = []
    for label in _order(frame):
        own = frame[frame["experiment"] == label]
        seeds = set(own["user_seed"].astype(int))
        knobs = has_knobs(str(own["user"].iloc[0]))
        rows.append({"experiment": label, "method": str(own["method"].iloc[0]), "user": str(own["user"].iloc[0]),
                     "user_seeds": len(seeds), "knobs": knobs, "population": knobs or len(seeds) > 1,
                     "seed_zero_only": seeds == {0}})
    table = pd.DataFrame(rows, columns=["experiment", "method", "user", "user_seeds", "knobs", "population",
                                        "seed_zero_only"])
    plain = table[~table["population"] & table["seed_zero_only"]]
    bare = {label: without_knobs(user) for label, user in zip(plain["experiment"], plain["user"])}
    oracles = []
    for row in table.itertuples():
        target = without_knobs(row.user)
        found = [label for label, method in zip(plain["experiment"], plain["method"])
                 if method == row.method and bare[label] == target] if row.population else []
        oracles.append(found[0] if found else NA)
    table["oracle"] = oracles
    return table.drop(columns="seed_zero_only")


def _percentiles(values: pd.Series) -> list[float]:
    values = values.dropna().to_numpy(float)
    return list(np.percentile(values, _PERCENTILES)) if values.size else [np.nan] * len(_PERCENTILES)


def population_summary(rounds: pd.DataFrame, target: float = 0.9) -> pd.DataFrame:
    """One row per population experiment, in order.

    Columns: experiment, method, user, oracle (label or "n/a"), oracle_dice and
    oracle_noc_<t> (means over the oracle's cases of final Dice and NoC@t; NaN without
    an oracle), user_seeds, cases (distinct case ids), dice_median, dice_p5, dice_p95 and
    noc_<t>_median, _p5, _p95 (across user seeds, of each seed's mean over cases),
    sd_over_cases (sd, ddof 1, across cases of each case's mean final Dice over seeds)
    and sd_over_users (sd across seeds of each seed's mean final Dice over cases).
    """
    frame = _units(rounds)
    name = target_name(target)
    noc = f"noc_{name}"
    sessions = statistics.session_table(frame, thresholds=(target,))
    units = frame[["experiment", "case", "case_id", "user_seed"]].drop_duplicates(["experiment", "case"])
    sessions = sessions.merge(units, on=["experiment", "case"], how="left")
    table = experiments(frame)
    rows = []
    for row in table[table["population"]].itertuples():
        own = sessions[sessions["experiment"] == row.experiment]
        oracle = sessions[sessions["experiment"] == row.oracle]
        by_seed = own.groupby("user_seed", sort=True)[["final_dice", noc]].mean()
        by_case = own.groupby("case_id", sort=True)["final_dice"].mean()
        dice, nocs = _percentiles(by_seed["final_dice"]), _percentiles(by_seed[noc])
        rows.append({
            "experiment": row.experiment, "method": row.method, "user": row.user, "oracle": row.oracle,
            "oracle_dice": oracle["final_dice"].mean(), f"oracle_{noc}": oracle[noc].mean(),
            "user_seeds": int(own["user_seed"].nunique()), "cases": int(own["case_id"].nunique()),
            "dice_median": dice[1], "dice_p5": dice[0], "dice_p95": dice[2],
            f"{noc}_median": nocs[1], f"{noc}_p5": nocs[0], f"{noc}_p95": nocs[2],
            "sd_over_cases": by_case.std(ddof=1), "sd_over_users": by_seed["final_dice"].std(ddof=1)})
    columns = ["experiment", "method", "user", "oracle", "oracle_dice", f"oracle_{noc}", "user_seeds", "cases",
               "dice_median", "dice_p5", "dice_p95", f"{noc}_median", f"{noc}_p5", f"{noc}_p95", "sd_over_cases",
               "sd_over_users"]
    out = pd.DataFrame(rows, columns=columns)
    out["experiment"] = pd.Categorical(out["experiment"], categories=frame["experiment"].cat.categories)
    return out


def ranking(summary: pd.DataFrame) -> pd.DataFrame:
    """Methods ranked by their oracle's mean final Dice and by their population's median
    final Dice (1 = best, ties share the best rank), among the populations of one user
    spec (the ``user`` of :func:`population_summary`), one row per method with both (its
    first such population).

    Columns: user, method, oracle, population, oracle_dice, oracle_rank,
    population_dice, population_rank, rank_changed.
    """
    both = summary[(summary["oracle"] != NA) & summary["oracle_dice"].notna() & summary["dice_median"].notna()]
    parts = []
    for user in dict.fromkeys(both["user"]):
        group = both[both["user"] == user].drop_duplicates("method")
        part = pd.DataFrame({"user": user, "method": group["method"], "oracle": group["oracle"],
                             "population": group["experiment"].astype(str), "oracle_dice": group["oracle_dice"],
                             "oracle_rank": group["oracle_dice"].rank(ascending=False, method="min").astype(int),
                             "population_dice": group["dice_median"],
                             "population_rank": group["dice_median"].rank(ascending=False, method="min").astype(int)})
        parts.append(part.sort_values(["oracle_rank", "method"], kind="stable"))
    columns = ["user", "method", "oracle", "population", "oracle_dice", "oracle_rank", "population_dice",
               "population_rank"]
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
    out["rank_changed"] = out["oracle_rank"] != out["population_rank"]
    return out


def population_curves(rounds: pd.DataFrame, summary: pd.DataFrame | None = None) -> pd.DataFrame:
    """Dice against interactions (cumulative edits) per population experiment.

    Each seed's curve is :func:`benchmark.statistics.dice_curve`'s mean over cases (a
    session that stopped early keeps its last Dice) at 0..the population's largest
    n_edits; per count, the median and 5th/95th percentiles across seeds. The oracle's
    curve (its own dice_curve, up to its largest n_edits) is ``oracle_dice``.

    Returns:
        Columns experiment, interactions, seeds, median_dice, p5_dice, p95_dice,
        oracle_dice (NaN outside a curve's range or without an oracle), oracle (its label).
    """
    frame = _units(rounds)
    summary = population_summary(frame) if summary is None else summary
    columns = ["experiment", "interactions", "seeds", "median_dice", "p5_dice", "p95_dice", "oracle_dice", "oracle"]
    parts = []
    for row in summary.itertuples():
        own = frame[frame["experiment"] == row.experiment]
        per_seed = own.assign(experiment=own["user_seed"].astype(str), case=own["case_id"])
        curve = statistics.dice_curve(per_seed, max_interactions=int(own["n_edits"].max()))
        wide = curve.pivot_table(index="interactions", columns="experiment", values="mean_dice", observed=True)
        bands = np.percentile(wide.to_numpy(float), _PERCENTILES, axis=1)
        part = pd.DataFrame({"interactions": wide.index.astype(int), "seeds": wide.shape[1], "median_dice": bands[1],
                             "p5_dice": bands[0], "p95_dice": bands[2]})
        if row.oracle != NA:
            oracle = statistics.dice_curve(frame[frame["experiment"] == row.oracle])
            part = part.merge(oracle[["interactions", "mean_dice"]].rename(columns={"mean_dice": "oracle_dice"}),
                              on="interactions", how="outer")
        parts.append(part.assign(experiment=row.experiment, oracle=row.oracle))
    out = pd.concat(parts, ignore_index=True).reindex(columns=columns) if parts else pd.DataFrame(columns=columns)
    out["experiment"] = pd.Categorical(out["experiment"], categories=frame["experiment"].cat.categories)
    return out


def _num(x: float, digits: int) -> str:
    return NA if pd.isna(x) else f"{x:.{digits}f}"


def _band(median: float, low: float, high: float, digits: int) -> str:
    return f"{_num(median, digits)} [{_num(low, digits)}–{_num(high, digits)}]"


def summary_display(summary: pd.DataFrame, target: float = 0.9) -> pd.DataFrame:
    """:func:`population_summary` as strings (Dice to 4 decimals, NoC to 2)."""
    s, noc = summary, f"noc_{target_name(target)}"
    return pd.DataFrame({
        "Experiment": s["experiment"].astype(str), "Method": s["method"].astype(str),
        "Oracle": s["oracle"].astype(str), "Oracle Dice": [_num(x, 4) for x in s["oracle_dice"]],
        f"Oracle NoC@{target:g}": [_num(x, 2) for x in s[f"oracle_{noc}"]],
        "User seeds": s["user_seeds"].astype(int).astype(str),
        "Dice median [5–95%]": [_band(*v, 4) for v in zip(s["dice_median"], s["dice_p5"], s["dice_p95"])],
        f"NoC@{target:g} median [5–95%]": [_band(*v, 2) for v in zip(s[f"{noc}_median"], s[f"{noc}_p5"],
                                                                        s[f"{noc}_p95"])],
        "Spread over cases": [_num(x, 4) for x in s["sd_over_cases"]],
        "Spread over users": [_num(x, 4) for x in s["sd_over_users"]],
    })


def ranking_display(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`ranking` as strings."""
    t = table
    return pd.DataFrame({
        "User": t["user"].astype(str), "Method": t["method"].astype(str),
        "Oracle Dice": [_num(x, 4) for x in t["oracle_dice"]], "Oracle rank": t["oracle_rank"].astype(str),
        "Population median Dice": [_num(x, 4) for x in t["population_dice"]],
        "Population rank": t["population_rank"].astype(str),
        "Rank changed": ["yes" if x else "no" for x in t["rank_changed"]],
    })


def curves_figure(curves: pd.DataFrame) -> Figure:
    """:func:`population_curves`: per population its median line with the 5–95% band across
    user seeds, and its oracle dashed in the same colour."""
    labels = _order(curves)
    colours = _colours(labels)
    with _style():
        fig = Figure(figsize=(8.5, 4.5))
        ax = fig.add_subplot()
        for label in labels:
            c = curves[curves["experiment"] == label].sort_values("interactions")
            pop = c[c["median_dice"].notna()]
            ax.plot(pop["interactions"], pop["median_dice"], marker="o", ms=4, color=colours[label], label=label)
            ax.fill_between(pop["interactions"], pop["p5_dice"], pop["p95_dice"], color=colours[label], alpha=0.18,
                            lw=0)
            oracle = c[c["oracle_dice"].notna()]
            if len(oracle):
                ax.plot(oracle["interactions"], oracle["oracle_dice"], ls="--", color=colours[label],
                        label=str(oracle['oracle'].iloc[0]))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("Interactions (cumulative edits)")
        ax.set_ylabel("Mean Dice (whole tumour)")
        ax.set_title("Dice against interactions, across simulated users", fontsize=_TITLE)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
        fig.tight_layout()
    return fig


def section(rounds: pd.DataFrame, table, figure, tables_dir, target: float = 0.9) -> None:
    """Add the section's tables and figure through build.py's ``table`` and ``figure``;
    nothing when no experiment is a population. ``tables_dir`` gets the curves as CSV
    (``population_dice_curve.csv``)."""
    if not 0 < target <= 1:
        raise ValueError(f"the Dice target must be in (0, 1], got {target!r}")
    summary = population_summary(rounds, target)
    if summary.empty:
        return
    oracle = ("Oracle: the experiment with the same method whose user is this one without its realism knobs, with "
              "one user seed")
    table("population", TITLE, f"Per population of simulated users (a user with realism knobs, or several user "
          f"seeds). {oracle}; its final Dice and NoC@{target:g} are means over cases (n/a: no such experiment). Per "
          f"user seed (one simulated person) the mean over cases of final Dice and of NoC@{target:g}, then the "
          "median [5th–95th percentile] across seeds. Spread over cases: sd across cases of each case's mean final "
          "Dice over seeds; over users: sd across seeds of each seed's mean final Dice over cases.", summary,
          summary_display(summary, target), left=3)
    ranks = ranking(summary)
    if len(ranks):
        table("population_ranking", f"{TITLE}: ranking", "Methods ranked (1 = best) by their oracle's mean final "
              "Dice and by their population's median final Dice, among the populations of one user.", ranks,
              ranking_display(ranks), left=2)
    curves = population_curves(rounds, summary)
    write_table(curves, None, tables_dir, "population_dice_curve")
    figure("population_dice_vs_interactions", f"{TITLE}: Dice against interactions",
           "Per population, the median across user seeds of each seed's mean Dice over cases against interactions "
           "(cumulative edits; a session that stopped early keeps its last Dice); band: 5th to 95th percentile "
           f"across seeds; dashed: its oracle. {oracle}.", curves_figure(curves))
