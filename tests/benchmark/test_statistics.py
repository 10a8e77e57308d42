import itertools
import time
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from benchmark import metrics
from benchmark.statistics import (
    Comparison,
    all_comparisons,
    dice_curve,
    edit_counts,
    experiment_summary,
    holm,
    paired_comparison,
    session_table,
)


def rounds_frame(sessions):
    """A rounds frame from {(experiment, case): [(n_edits, dice, tools), ...]} (round 0 first)."""
    rows = []
    for (experiment, case), curve in sessions.items():
        for r, (n_edits, dice, tools) in enumerate(curve):
            rows.append({"experiment": experiment, "case": case, "method": f"m-{experiment}", "user": "u",
                         "round": r, "dice": dice, "n_edits": n_edits, "tools": tools})
    return pd.DataFrame(rows)


def random_rounds(rng, experiments=("a", "b", "c"), cases=12, budget=5):
    sessions = {}
    for e in experiments:
        for c in range(cases):
            d, n, curve = rng.uniform(0.6, 0.95), 0, []
            curve.append((0, d, ""))
            for _ in range(rng.integers(0, budget + 1)):
                step = int(rng.integers(1, 3))
                n += step
                d = min(1.0, d + rng.uniform(-0.02, 0.08))
                curve.append((n, d, ";".join(rng.choice(["selection", "brush", "adjustment"], step))))
            sessions[(e, f"case{c:02d}")] = curve
    return rounds_frame(sessions)


def sessions_from_finals(finals):
    """A session-table-like frame from {experiment: {case: final_dice}}."""
    rows = [{"experiment": e, "case": c, "method": "m", "user": "u", "initial_dice": d, "final_dice": d,
             "n_edits": 0, "edited": False, "auc": d}
            for e, by_case in finals.items() for c, d in by_case.items()]
    return pd.DataFrame(rows)


# --- session_table / experiment_summary ------------------------------------------------


def test_session_table_matches_metrics_on_each_curve():
    rounds = random_rounds(np.random.default_rng(1))
    budget = int(rounds["n_edits"].max())
    table = session_table(rounds)
    assert len(table) == 36
    for row in table.itertuples():
        s = rounds[(rounds["experiment"] == row.experiment) & (rounds["case"] == row.case)].sort_values("round")
        dice, spent = s["dice"].to_numpy(), s["n_edits"].to_numpy()
        assert row.initial_dice == dice[0] and row.final_dice == dice[-1] and row.n_edits == spent[-1]
        assert row.edited == (spent[-1] > 0) and row.rounds == len(s) - 1
        assert row.noc_85 == metrics.noc(dice, spent, 0.85, budget)
        assert row.noc_90 == metrics.noc(dice, spent, 0.90, budget)
        assert row.reached_85 == metrics.reached(dice, 0.85)
        assert row.reached_90 == metrics.reached(dice, 0.90)
        # carried forward to the budget: the last Dice holds over (last n_edits, budget]
        expected_auc = (np.trapezoid(dice, spent) + dice[-1] * (budget - spent[-1])) / budget
        assert row.auc == pytest.approx(expected_auc, abs=1e-12)


def test_budget_truncates_reached_and_caps_noc():
    rounds = rounds_frame({("e", "c"): [(0, 0.5, ""), (1, 0.8, "brush"), (3, 0.92, "brush;brush")]})
    row = session_table(rounds, budget=2).iloc[0]
    assert row.noc_90 == 2 and not row.reached_90  # reached only after 3 > 2 interactions
    assert row.noc_85 == 2 and not row.reached_85
    assert row.auc == pytest.approx(((0.5 + 0.8) / 2 + 0.8) / 2)
    assert row.final_dice == 0.92  # the session's own end, budget or not
    full = session_table(rounds).iloc[0]
    assert full.noc_90 == 3 and full.reached_90 and full.noc_85 == 3


def test_summary_counts_unedited_and_never_reached():
    rounds = rounds_frame({
        ("x", "c1"): [(0, 0.95, "")],
        ("x", "c2"): [(0, 0.70, ""), (1, 0.88, "selection")],
        ("x", "c3"): [(0, 0.60, ""), (2, 0.80, "brush;brush"), (4, 0.84, "brush;adjustment")],
        ("y", "c1"): [(0, 0.50, "")],
    })
    table = session_table(rounds, thresholds=(0.85, 0.9, 0.925))
    assert "noc_92.5" in table.columns
    summary = experiment_summary(table).set_index("experiment")
    x = summary.loc["x"]
    assert x.cases == 3 and x.share_unedited == pytest.approx(1 / 3)
    assert x.mean_dice == pytest.approx(np.mean([0.95, 0.88, 0.84]))
    assert x.sd_dice == pytest.approx(np.std([0.95, 0.88, 0.84], ddof=1))
    quartiles = np.percentile([0.95, 0.88, 0.84], [25, 50, 75])
    assert (x.q1_dice, x.median_dice, x.q3_dice) == pytest.approx(tuple(quartiles))
    assert x.initial_dice == pytest.approx(np.mean([0.95, 0.70, 0.60]))
    assert x.mean_edits == pytest.approx(5 / 3)
    assert x.nof_85 == 1 and x.nof_90 == 2 and x["nof_92.5"] == 2
    assert x.noc_85 == pytest.approx((0 + 1 + 4) / 3)  # c3 never reaches: counts the budget, 4
    assert x.noc_90 == pytest.approx((0 + 4 + 4) / 3)
    y = summary.loc["y"]
    assert y.cases == 1 and np.isnan(y.sd_dice) and y.nof_85 == 1 and y.share_unedited == 1.0


def test_experiment_order_follows_categorical_else_first_appearance():
    rounds = random_rounds(np.random.default_rng(2), experiments=("zeta", "alpha", "mid"), cases=3)
    assert list(experiment_summary(session_table(rounds))["experiment"]) == ["zeta", "alpha", "mid"]
    rounds["experiment"] = pd.Categorical(rounds["experiment"], categories=["mid", "zeta", "alpha"])
    assert list(experiment_summary(session_table(rounds))["experiment"]) == ["mid", "zeta", "alpha"]
    assert list(dice_curve(rounds)["experiment"].unique()) == ["mid", "zeta", "alpha"]
    assert list(edit_counts(rounds)[0]["experiment"]) == ["mid", "zeta", "alpha"]


def test_inputs_are_validated():
    rounds = random_rounds(np.random.default_rng(3), cases=2)
    with pytest.raises(ValueError, match=r"lacks columns \['experiment'\].*load_rounds"):
        session_table(rounds.drop(columns="experiment"))
    with pytest.raises(ValueError, match=r"lacks columns \['tools'\]"):
        edit_counts(rounds.drop(columns="tools"))
    with pytest.raises(ValueError, match=r"lacks columns \['auc'\].*session_table"):
        experiment_summary(session_table(rounds).drop(columns="auc"))
    with pytest.raises(ValueError, match="budget"):
        session_table(rounds, budget=0)
    two_users = pd.concat([rounds, rounds.assign(user="other")])
    with pytest.raises(ValueError, match="several sessions for case"):
        session_table(two_users)
    with pytest.raises(ValueError, match="repeats round 0"):
        dice_curve(pd.concat([rounds, rounds.iloc[:1]]))
    sessions = session_table(rounds)
    with pytest.raises(ValueError, match="did you mean 'b'"):
        paired_comparison(sessions, "a", "bb")


# --- paired comparison -------------------------------------------------------------------


def test_bootstrap_interval_matches_scipy_percentile_bootstrap():
    rng = np.random.default_rng(4)
    a = rng.uniform(0.7, 0.9, 60)
    b = a + rng.normal(0.02, 0.03, 60)
    sessions = sessions_from_finals({"a": dict(enumerate(a)), "b": dict(enumerate(b))})
    got = paired_comparison(sessions, "a", "b", n_boot=40000, rng=np.random.default_rng(5))
    ref = stats.bootstrap(((b - a),), np.mean, n_resamples=40000, method="percentile",
                          confidence_level=0.95, rng=np.random.default_rng(6)).confidence_interval
    se = np.std(b - a, ddof=1) / np.sqrt(60)
    assert got.ci_low == pytest.approx(ref.low, abs=0.05 * se)
    assert got.ci_high == pytest.approx(ref.high, abs=0.05 * se)
    assert got.mean_diff == pytest.approx(np.mean(b - a))
    assert got.ci_low < got.mean_diff < got.ci_high
    assert got.n == 60 and got.a == "a" and got.b == "b"


def test_bootstrap_is_reproducible_and_narrows_with_more_cases():
    rng = np.random.default_rng(7)
    widths = []
    for n in (10, 40, 160):
        a = rng.uniform(0.7, 0.9, n)
        sessions = sessions_from_finals({"a": dict(enumerate(a)), "b": dict(enumerate(a + rng.normal(0, 0.05, n)))})
        first = paired_comparison(sessions, "a", "b")
        assert first == paired_comparison(sessions, "a", "b")  # default generator: seed 0
        widths.append(first.ci_high - first.ci_low)
    assert widths[0] > widths[1] > widths[2]


def test_bootstrap_is_vectorised():
    rng = np.random.default_rng(8)
    sessions = sessions_from_finals({"a": dict(enumerate(rng.uniform(size=100))),
                                     "b": dict(enumerate(rng.uniform(size=100)))})
    start = time.perf_counter()
    paired_comparison(sessions, "a", "b", n_boot=10000)
    assert time.perf_counter() - start < 0.5


def test_wilcoxon_uses_only_shared_cases():
    rng = np.random.default_rng(9)
    a = {f"c{i}": v for i, v in enumerate(rng.uniform(0.6, 0.9, 20))}
    b = {c: v + rng.normal(0.03, 0.05) for c, v in list(a.items())[5:]}  # c0..c4 missing
    b.update({"only_b": 0.1, "c3x": 0.99})
    b["c7"] = a["c7"]  # one exact zero difference
    got = paired_comparison(sessions_from_finals({"a": a, "b": b}), "a", "b")
    shared = [c for c in a if c in b]
    diff = np.array([b[c] - a[c] for c in shared])
    ref = stats.wilcoxon(diff, zero_method="pratt")
    assert got.n == 15 == len(shared)
    assert got.mean_diff == pytest.approx(diff.mean())
    assert got.wilcoxon_stat == ref.statistic and got.p_value == pytest.approx(ref.pvalue)


def test_wilcoxon_undefined_gives_nan_without_warnings():
    same = sessions_from_finals({"a": {"c1": 0.8, "c2": 0.7}, "b": {"c1": 0.8, "c2": 0.7, "c3": 0.5}})
    one = sessions_from_finals({"a": {"c1": 0.8}, "b": {"c1": 0.9}})
    none = sessions_from_finals({"a": {"c1": 0.8}, "b": {"c2": 0.9}})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        zeros, single, empty = (paired_comparison(s, "a", "b") for s in (same, one, none))
    assert zeros.n == 2 and zeros.mean_diff == 0 and np.isnan(zeros.p_value) and np.isnan(zeros.wilcoxon_stat)
    assert zeros.ci_low == zeros.ci_high == 0
    assert single.n == 1 and np.isnan(single.p_value) and single.ci_low == pytest.approx(0.1)
    assert empty.n == 0 and np.isnan(empty.mean_diff) and np.isnan(empty.ci_low)


# --- Holm and all comparisons ------------------------------------------------------------


def holm_brute_force(p):
    """Holm by its definition: reject H_(i) at alpha when p_(j) <= alpha / (m - j + 1) for
    all j <= i; the adjusted p is the smallest alpha that rejects, searched over candidates."""
    p = list(p)
    m = len(p)
    ranked = sorted(range(m), key=lambda i: p[i])
    candidates = sorted({min(1.0, (m - j) * p[ranked[j]]) for j in range(m)} | {1.0})
    adjusted = []
    for i in range(m):
        position = ranked.index(i)
        for alpha in candidates:
            if all(p[ranked[j]] <= alpha / (m - j) + 1e-15 for j in range(position + 1)):
                adjusted.append(alpha)
                break
    return adjusted


def test_holm_matches_its_definition():
    rng = np.random.default_rng(10)
    for m in (1, 2, 5, 9):
        p = rng.uniform(0, 0.2, m)
        assert holm(p) == pytest.approx(holm_brute_force(p))
    assert holm([0.01, 0.01, 0.04]) == pytest.approx([0.03, 0.03, 0.04])
    got = holm([0.02, np.nan, 0.5, 0.001])
    assert np.isnan(got[1])
    assert got[[0, 2, 3]] == pytest.approx(holm_brute_force([0.02, 0.5, 0.001]))


def test_all_comparisons_pairs_and_reference():
    rng = np.random.default_rng(11)
    finals = {e: {f"c{i}": v for i, v in enumerate(rng.uniform(0.5, 0.9, 15) + shift)}
              for e, shift in (("b", 0.0), ("a", 0.05), ("c", 0.1))}
    sessions = sessions_from_finals(finals)
    table = all_comparisons(sessions, n_boot=500)
    assert list(zip(table["a"], table["b"])) == list(itertools.combinations(["b", "a", "c"], 2))
    assert table["p_holm"].to_numpy() == pytest.approx(holm_brute_force(table["p_value"]))
    rng_a = np.random.default_rng(3)
    expected = [paired_comparison(sessions, "a", other, n_boot=500, rng=rng_a) for other in ("b", "c")]
    against = all_comparisons(sessions, reference="a", n_boot=500, rng=np.random.default_rng(3))
    rows = against[list(Comparison.__dataclass_fields__)].to_dict("records")
    assert [Comparison(**row) for row in rows] == expected
    with pytest.raises(ValueError, match="did you mean 'a'"):
        all_comparisons(sessions, reference="aa")


# --- Dice curve ----------------------------------------------------------------------------


def test_dice_curve_carries_stopped_sessions_forward():
    rounds = rounds_frame({
        ("e", "s1"): [(0, 0.5, ""), (1, 0.7, "brush"), (3, 0.9, "brush;brush")],
        ("e", "s2"): [(0, 0.8, ""), (2, 0.95, "selection;selection")],  # stopped at the target
        ("e", "s3"): [(0, 0.96, "")],  # never edited
        ("f", "s1"): [(0, 0.6, "")],
    })
    curve = dice_curve(rounds, level=0.9)
    e = curve[curve["experiment"] == "e"]
    by_count = {0: [0.5, 0.8, 0.96], 1: [0.7, 0.8, 0.96], 2: [0.7, 0.95, 0.96], 3: [0.9, 0.95, 0.96]}
    assert list(e["interactions"]) == [0, 1, 2, 3] and set(e["n"]) == {3}
    for row in e.itertuples():
        values = by_count[row.interactions]
        low, high = stats.t.interval(0.9, 2, loc=np.mean(values), scale=stats.sem(values))
        assert row.mean_dice == pytest.approx(np.mean(values))
        assert (row.ci_low, row.ci_high) == pytest.approx((low, high))
    f = curve[curve["experiment"] == "f"]
    # f never edited: its curve is its round 0 alone, not flat across e's budget
    assert list(f["interactions"]) == [0] and (f.mean_dice.item(), f.ci_low.item(), f.ci_high.item()) == (0.6,) * 3
    assert list(dice_curve(rounds, max_interactions=1)["interactions"]) == [0, 1, 0, 1]
    assert list(dice_curve(rounds, max_interactions=1)["mean_dice"])[-1] == 0.6


# --- edit counts ---------------------------------------------------------------------------


def test_edit_counts_parse_tools():
    rounds = rounds_frame({
        ("e", "s1"): [(0, 0.5, ""), (2, 0.7, "selection;brush"), (3, 0.9, "brush")],
        ("e", "s2"): [(0, 0.8, "")],
        ("f", "s1"): [(0, 0.6, ""), (1, 0.7, "adjustment")],
    })
    per_experiment, per_tool = edit_counts(rounds)
    e = per_experiment.set_index("experiment").loc["e"]
    assert (e.cases, e.mean_edits, e.median_edits, e.share_unedited, e.max_edits) == (2, 1.5, 1.5, 0.5, 3)
    got = {(r.experiment, r.tool): (r.edits, r.per_case) for r in per_tool.itertuples()}
    assert got == {("e", "adjustment"): (0, 0.0), ("e", "brush"): (2, 1.0), ("e", "selection"): (1, 0.5),
                   ("f", "adjustment"): (1, 1.0), ("f", "brush"): (0, 0.0), ("f", "selection"): (0, 0.0)}
    # each tool occurrence is one edit, as n_edits counts them
    assert per_tool.groupby("experiment", observed=True)["edits"].sum().to_dict() == {"e": 3, "f": 1}
