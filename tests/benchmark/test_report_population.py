"""The report's section "Robustness to the user", against numbers worked out by hand."""

import json

import numpy as np
import pandas as pd
import pytest

from benchmark.report import build, build_report, population
from benchmark.results import RUN_FILE, ResultsWriter, RoundRecord, SessionRecord

CASES = ("c1", "c2", "c3")
#: Final Dice by experiment: the oracle one row, a population one row per user seed (case c1, c2, c3).
#: Under the oracle A beats B; under the population B's median beats A's.
FINAL = {
    "A": [(0.95, 0.85, 0.70)],
    "B": [(0.90, 0.78, 0.70)],
    "A pop": [(0.95, 0.85, 0.70), (0.85, 0.75, 0.60), (0.75, 0.65, 0.50), (0.65, 0.55, 0.40)],
    "B pop": [(0.90, 0.78, 0.70), (0.88, 0.76, 0.68), (0.86, 0.74, 0.66), (0.84, 0.72, 0.64)],
}
METHOD = {"A": "mA", "B": "mB", "A pop": "mA", "B pop": "mB"}
POPULATION_USER = "multi:target_dice=0.99,jitter_mm=0..2"
USER = {"A": "multi:target_dice=0.99", "B": "multi:target_dice=0.99", "A pop": POPULATION_USER,
        "B pop": POPULATION_USER}
TARGET = 0.8


def sessions_of(label):
    """(case, user seed, [(dice, n_edits) per round]): round 0 at final - 0.3, then the final
    Dice after 1 edit (oracles) or 1 + seed edits (populations)."""
    for seed, finals in enumerate(FINAL[label]):
        for case, final in zip(CASES, finals):
            yield case, seed, [(round(final - 0.3, 6), 0), (final, 1 + seed)]


def rounds_frame(labels=tuple(FINAL)):
    rows = [{"experiment": label, "case": case, "user_seed": seed, "method": METHOD[label], "user": USER[label],
             "round": r, "dice": dice, "n_edits": n, "tools": "brush" if r else ""}
            for label in labels for case, seed, rounds in sessions_of(label) for r, (dice, n) in enumerate(rounds)]
    out = pd.DataFrame(rows)
    out["experiment"] = pd.Categorical(out["experiment"], categories=list(labels), ordered=True)
    return out.sample(frac=1.0, random_state=0)  # row order must not matter


def test_knobs_are_removed_stage_by_stage_keeping_the_other_options():
    assert population.without_knobs("multi:target_dice=0.95,jitter_mm=2,max_edits_per_round=1,slip=0.1") == \
        "multi:target_dice=0.95,max_edits_per_round=1"
    assert population.without_knobs("box then multi:jitter_mm=1") == "box then multi"
    assert population.without_knobs("mylab.users:Mine:k_step=0.05,x=true") == "mylab.users:Mine:x=true"
    assert population.has_knobs("box then multi:jitter_mm=1") and population.has_knobs("multi:slip=0..0.2")
    assert not population.has_knobs("multi:target_dice=0.9") and not population.has_knobs("none")


def test_populations_and_their_oracles():
    rows = [("plain", "m", "multi:target_dice=0.9", (0,)), ("two seeds", "m", "multi:target_dice=0.9", (0, 1)),
            ("knob", "m", "multi:jitter_mm=1,target_dice=0.9", (0,)), ("other method", "n", "multi:jitter_mm=1", (0,)),
            ("chain oracle", "m", "box then multi", (0,)), ("chain other", "m", "box then multi:target_dice=0.5", (0,)),
            ("chain", "m", "box then multi:jitter_mm=1", (0, 1, 2)), ("seed 1 only", "n", "multi", (1,))]
    frame = pd.DataFrame([{"experiment": e, "method": m, "user": u, "case": "c", "user_seed": s, "round": 0,
                           "dice": 0.5, "n_edits": 0} for e, m, u, seeds in rows for s in seeds])
    table = population.experiments(frame).set_index("experiment")
    assert list(table.index) == [r[0] for r in rows]
    assert not table.loc["plain", "population"] and not table.loc["chain oracle", "population"]
    assert table.loc["two seeds", "population"] and table.loc["knob", "population"]
    assert not table.loc["seed 1 only", "population"]  # one seed, no knob
    assert table.loc["two seeds", "oracle"] == "plain" and table.loc["knob", "oracle"] == "plain"
    assert table.loc["chain", "oracle"] == "chain oracle" and table.loc["chain", "user_seeds"] == 3
    assert table.loc["other method", "oracle"] == "n/a"  # "seed 1 only" is method n, user multi, but not seed 0
    summary = population.population_summary(frame)
    assert list(summary["experiment"]) == ["two seeds", "knob", "other method", "chain"]


def test_the_summary_matches_a_hand_computation():
    s = population.population_summary(rounds_frame(), TARGET).set_index("experiment")
    assert list(s.index) == ["A pop", "B pop"]
    a, b = s.loc["A pop"], s.loc["B pop"]
    assert a.oracle == "A" and b.oracle == "B" and a.user_seeds == 4 and a.cases == 3
    assert a.oracle_dice == pytest.approx((0.95 + 0.85 + 0.70) / 3)
    assert b.oracle_dice == pytest.approx((0.90 + 0.78 + 0.70) / 3)
    # NoC@0.8, budget 4 (the most edits of any session): oracle A reaches it in c1, c2 with 1 edit
    assert a.oracle_noc_80 == pytest.approx((1 + 1 + 4) / 3) and b.oracle_noc_80 == pytest.approx((1 + 4 + 4) / 3)
    seeds_a = [(0.95 + 0.85 + 0.70) / 3, (0.85 + 0.75 + 0.60) / 3, (0.75 + 0.65 + 0.50) / 3, (0.65 + 0.55 + 0.40) / 3]
    assert a.dice_median == pytest.approx((seeds_a[1] + seeds_a[2]) / 2)
    # linear percentiles of 4 sorted values: the 5th at 0.15 of the way from the first to the second
    ascending = sorted(seeds_a)
    assert a.dice_p5 == pytest.approx(ascending[0] + 0.15 * (ascending[1] - ascending[0]))
    assert a.dice_p95 == pytest.approx(ascending[2] + 0.85 * (ascending[3] - ascending[2]))
    # seed s spends 1 + s edits; reached where final >= 0.8, else the budget 4
    noc_a = [(1 + 1 + 4) / 3, (2 + 4 + 4) / 3, 4, 4]
    noc_b = [(1 + 4 + 4) / 3, (2 + 4 + 4) / 3, (3 + 4 + 4) / 3, 4]
    assert a.noc_80_median == pytest.approx((noc_a[1] + noc_a[2]) / 2)
    assert b.noc_80_median == pytest.approx((noc_b[1] + noc_b[2]) / 2)
    assert a.noc_80_p5 == pytest.approx(2 + 0.15 * (10 / 3 - 2)) and a.noc_80_p95 == pytest.approx(4)
    case_means_a = [(0.95 + 0.85 + 0.75 + 0.65) / 4, (0.85 + 0.75 + 0.65 + 0.55) / 4, (0.70 + 0.60 + 0.50 + 0.40) / 4]
    assert a.sd_over_cases == pytest.approx(np.std(case_means_a, ddof=1))
    assert a.sd_over_users == pytest.approx(np.std(seeds_a, ddof=1))
    assert b.sd_over_users == pytest.approx(np.std([0.7933333, 0.7733333, 0.7533333, 0.7333333], ddof=1), rel=1e-5)
    display = population.summary_display(s.reset_index(), TARGET)
    assert list(display.columns) == ["Experiment", "Method", "Oracle", "Oracle Dice", "Oracle NoC@0.8", "User seeds",
                                     "Dice median [5–95%]", "NoC@0.8 median [5–95%]", "Spread over cases",
                                     "Spread over users"]
    assert display.loc[0, "Oracle Dice"] == "0.8333"
    assert display.loc[0, "Dice median [5–95%]"] == "0.6833 [0.5483–0.8183]"


def test_the_ranking_flips_under_the_population():
    ranks = population.ranking(population.population_summary(rounds_frame(), TARGET))
    assert list(ranks["method"]) == ["mA", "mB"] and set(ranks["user"]) == {POPULATION_USER}
    assert list(ranks["oracle_rank"]) == [1, 2] and list(ranks["population_rank"]) == [2, 1]
    assert ranks["rank_changed"].all()
    assert list(population.ranking_display(ranks)["Rank changed"]) == ["yes", "yes"]
    # without B's population only A has both: rank 1 either way
    alone = population.ranking(population.population_summary(rounds_frame(("A", "B", "A pop")), TARGET))
    assert list(alone["method"]) == ["mA"] and not alone["rank_changed"].any()


def test_the_curves_carry_the_last_dice_forward():
    curves = population.population_curves(rounds_frame())
    a = curves[curves["experiment"] == "A pop"].set_index("interactions")
    assert list(a.index) == [0, 1, 2, 3, 4] and (a["seeds"] == 4).all()
    final = np.array([np.mean(f) for f in FINAL["A pop"]])
    # at k edits seed s shows its final Dice when k >= 1 + s, its round 0 (final - 0.3) before
    for k in range(5):
        per_seed = np.where(k >= 1 + np.arange(4), final, final - 0.3)
        assert a.loc[k, "median_dice"] == pytest.approx(np.median(per_seed)), k
        assert a.loc[k, "p5_dice"] == pytest.approx(np.percentile(per_seed, 5)), k
    oracle = np.mean(FINAL["A"][0])
    assert a.loc[0, "oracle_dice"] == pytest.approx(oracle - 0.3) and a.loc[1, "oracle_dice"] == pytest.approx(oracle)
    assert a.loc[2:, "oracle_dice"].isna().all()  # the oracle's curve ends at its own last edit


def write(root, label, folder):
    writer = ResultsWriter(root / "experiments" / folder)
    for case, seed, rounds in sessions_of(label):
        records = [RoundRecord(case, METHOD[label], USER[label], r, dice, float("nan"), n, "brush" if r else "", "",
                               1.0, 2.0, float("nan"), 30.0, user_seed=seed) for r, (dice, n) in enumerate(rounds)]
        writer.write(SessionRecord(case, METHOD[label], USER[label], "ok", "user", 1, rounds[-1][0], rounds[-1][1],
                                   0.1, user_seed=seed), records)
    (root / "experiments" / folder / RUN_FILE).write_text(json.dumps({"config": {}, "seed": 0}))
    return {"id": folder, "label": label, "folder": f"experiments/{folder}", "method": METHOD[label],
            "user": USER[label]}


def protocol(root, labels):
    entries = [write(root, label, f"e{i}") for i, label in enumerate(labels)]
    (root / "protocol.json").write_text(json.dumps({"name": "p", "experiments": entries}))
    return root


def test_the_section_is_in_the_built_report(tmp_path):
    out = build_report(protocol(tmp_path, tuple(FINAL)), n_boot=20, dice_target=TARGET)
    table = pd.read_csv(out / "tables" / "population.csv")
    assert list(table["experiment"]) == ["A pop", "B pop"] and list(table["oracle"]) == ["A", "B"]
    assert table.loc[0, "dice_median"] == pytest.approx(0.683333, rel=1e-5)
    ranks = pd.read_csv(out / "tables" / "population_ranking.csv")
    assert list(ranks["population_rank"]) == [2, 1]
    assert rb"\toprule" in (out / "tables" / "population.tex").read_bytes()
    assert (out / "tables" / "population_dice_curve.csv").is_file()
    assert (out / "figures" / "population_dice_vs_interactions.png").stat().st_size > 10_000
    page = (out / "index.md").read_text()
    assert "## Robustness to the user" in page and "Oracle NoC@0.8" in page
    assert page.index("## Robustness to the user") > page.index("## How the edits behaved")


def test_no_population_no_section(tmp_path, monkeypatch):
    folder = protocol(tmp_path / "results", ("A", "B"))
    out = build_report(folder, tmp_path / "with", n_boot=20)
    monkeypatch.setattr(build.population, "section", lambda *args: None)
    without = build_report(folder, tmp_path / "without", n_boot=20)
    assert (out / "index.md").read_bytes() == (without / "index.md").read_bytes()
    assert sorted(p.name for p in out.rglob("*")) == sorted(p.name for p in without.rglob("*"))
    assert "Robustness to the user" not in (out / "index.md").read_text()
