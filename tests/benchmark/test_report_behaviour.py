"""The report's section "How the edits behaved", against numbers worked out by hand."""

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from benchmark.cli import main
from benchmark.report import behaviour, build_report
from benchmark.results import RUN_FILE, ResultsWriter, RoundRecord, SessionRecord

NAN = float("nan")
COLUMNS = ("dice", "fixed", "broken", "fp_ml", "fn_ml", "far_share", "reach_mm", "effort_s")
#: Experiment "A" by case: one row per round, values in COLUMNS' order.
SESSIONS_A = {
    # Dice falls once (round 2, which broke 50 > fixed 20, effort +15), reaches 0.9 in round 3 at 30 s
    "c1": [(0.50, NAN, NAN, 5, 3, NAN, NAN, 0), (0.70, 100, 10, 4, 2, 0.1, 4, 10),
           (0.65, 20, 50, 4, 2, 0.5, 20, 25), (0.92, 200, 0, 1, 0, 0.0, 2, 30)],
    # an adjustment (no locality), then a fall that broke 10 > fixed 5 (+4 s); never reaches 0.9
    "c2": [(0.60, NAN, NAN, 2, 2, NAN, NAN, 0), (0.80, 50, 0, 1, 1, NAN, NAN, 5),
           (0.75, 5, 10, 1, 1, 0.2, 12, 9)],
    # good from the start: no edit round, reaches 0.9 in round 0 (0 s)
    "c3": [(0.95, NAN, NAN, 0, 0, NAN, NAN, 0)],
}


def frame(sessions, experiment="A", old=False):
    rows = []
    for case, values in sessions.items():
        for r, v in enumerate(values):
            row = dict(zip(COLUMNS, v))
            if old:  # results of an older simedit: only Dice
                row = {"dice": row["dice"], **{c: NAN for c in COLUMNS[1:]}}
            rows.append({"experiment": experiment, "case": case, "method": "m", "user": "u", "round": r,
                         "n_edits": r, **row})
    return pd.DataFrame(rows)


@pytest.fixture
def rounds():
    old = frame({"o1": [(0.5,), (0.6,)]}, "Old", old=True)
    none = frame({"n1": [(0.7, NAN, NAN, 1, 1, NAN, NAN, 0)]}, "None")
    out = pd.concat([none, frame(SESSIONS_A), old], ignore_index=True)
    out["experiment"] = pd.Categorical(out["experiment"], categories=["None", "A", "Old"], ordered=True)
    return out.sample(frac=1.0, random_state=0)  # row order must not matter


def test_summary_matches_a_hand_computation(rounds):
    s = behaviour.behaviour_summary(rounds, target=0.9)
    assert list(s["experiment"]) == ["A", "Old"]  # "None" has no edit round
    a = s.set_index("experiment").loc["A"]
    assert a.sessions == 3 and a.edit_rounds == 5
    assert a.mean_fixed == pytest.approx((100 + 20 + 200 + 50 + 5) / 5)
    assert a.mean_broken == pytest.approx((10 + 50 + 0 + 0 + 10) / 5)
    assert a.share_rounds_broken == pytest.approx(3 / 5)
    assert a.share_monotone == pytest.approx(1 / 3)  # only c3 (one round)
    assert a.mean_falls == pytest.approx(2 / 3)
    assert a.share_below_best == pytest.approx(1 / 3)  # c2 ends at 0.75 < 0.80
    assert a.median_far_share == pytest.approx(np.median([0.1, 0.5, 0.0, 0.2]))
    assert a.median_reach_mm == pytest.approx(np.median([4, 20, 2, 12]))
    assert a.final_fp_ml == pytest.approx((1 + 1 + 0) / 3) and a.final_fn_ml == pytest.approx((0 + 1 + 0) / 3)
    assert a.final_effort_s == pytest.approx((30 + 9 + 0) / 3)
    assert a.share_reached_90 == pytest.approx(2 / 3)  # c2 never reaches 0.9
    assert a.median_effort_90 == pytest.approx(np.median([30, 0]))
    # increments of the edit rounds: c1 10, 15, 5; c2 5, 4; broke more than fixed: c1 r2 (15), c2 r2 (4)
    assert a.effort_share_harmful == pytest.approx((15 + 4) / (10 + 15 + 5 + 5 + 4))


def test_the_dice_target_is_a_parameter(rounds):
    a = behaviour.behaviour_summary(rounds, target=0.7).set_index("experiment").loc["A"]
    assert a.share_reached_70 == 1.0 and a.median_effort_70 == pytest.approx(np.median([10, 5, 0]))


def test_results_of_an_older_simedit_are_missing_not_zero(rounds):
    s = behaviour.behaviour_summary(rounds).set_index("experiment").loc["Old"]
    assert s.sessions == 1 and s.edit_rounds == 1 and s.share_monotone == 1.0 and s.share_reached_90 == 0.0
    for column in ("mean_fixed", "mean_broken", "share_rounds_broken", "median_far_share", "median_reach_mm",
                   "final_fp_ml", "final_fn_ml", "final_effort_s", "median_effort_90", "effort_share_harmful"):
        assert np.isnan(s[column]), column
    assert behaviour.missing_columns(rounds) == {"Old": list(behaviour.MEASURED)}
    display = behaviour.summary_display(behaviour.behaviour_summary(rounds)).set_index("Experiment").loc["Old"]
    assert display["Fixed/round"] == "n/a" and display["Rounds broke"] == "n/a" and display["Effort (s)"] == "n/a"
    # columns absent altogether (a frame from an even older reader) read the same
    bare = rounds.drop(columns=list(behaviour.MEASURED))
    pd.testing.assert_frame_equal(behaviour.behaviour_summary(bare[bare["experiment"] == "Old"]).iloc[:, 1:],
                                  behaviour.behaviour_summary(rounds[rounds["experiment"] == "Old"]).iloc[:, 1:])


def test_per_round_means(rounds):
    t = behaviour.per_round(rounds)
    assert list(t["experiment"].astype(str)) == ["A"] * 3 + ["Old"]
    a = t[t["experiment"] == "A"].set_index("round")
    assert list(a["sessions"]) == [2, 2, 1]
    np.testing.assert_allclose(a["mean_fixed"], [(100 + 50) / 2, (20 + 5) / 2, 200])
    np.testing.assert_allclose(a["mean_broken"], [(10 + 0) / 2, (50 + 10) / 2, 0])


def test_dice_against_effort_is_a_step_function_carried_forward(rounds):
    grid = [0, 5, 9, 10, 20, 30, 40]
    curve = behaviour.dice_by_effort(rounds, grid)
    assert set(curve["experiment"]) == {"A"}  # "Old" has no effort_s, "None" no edits
    c1 = [0.5, 0.5, 0.5, 0.7, 0.7, 0.92, 0.92]
    c2 = [0.6, 0.8, 0.75, 0.75, 0.75, 0.75, 0.75]
    np.testing.assert_allclose(curve["mean_dice"], (np.array(c1) + np.array(c2) + 0.95) / 3)
    assert (curve["sessions"] == 3).all()
    default = behaviour.dice_by_effort(rounds)
    assert list(default["effort_s"]) == [0, 5, 9, 10, 25, 30]


def write(folder, user, sessions, old=False):
    writer = ResultsWriter(folder)
    for case, values in sessions.items():
        records = []
        for r, v in enumerate(values):
            extra = {} if old else dict(zip(COLUMNS[1:], v[1:]))
            records.append(RoundRecord(case, "m", user, r, v[0], NAN, r, "brush" if r else "", "", 1.0, 2.0, NAN,
                                       30.0, **extra))
        writer.write(SessionRecord(case, "m", user, "ok", "user", len(values) - 1, values[-1][0], len(values) - 1,
                                   0.1), records)
    (folder / RUN_FILE).write_text(json.dumps({"config": {}, "seed": 0}))


def test_the_section_is_in_the_built_report(tmp_path):
    write(tmp_path / "experiments" / "n", "none", {c: v[:1] for c, v in SESSIONS_A.items()})
    write(tmp_path / "experiments" / "a", "multi", SESSIONS_A)
    write(tmp_path / "experiments" / "o", "multi", SESSIONS_A, old=True)
    entries = [{"id": i, "label": label, "folder": f"experiments/{i}", "method": "m", "user": "u"}
               for i, label in (("n", "(a) none"), ("a", "(b) new"), ("o", "(c) old"))]
    (tmp_path / "protocol.json").write_text(json.dumps({"name": "b", "experiments": entries}))
    out = build_report(tmp_path, n_boot=50, dice_target=0.7)
    table = pd.read_csv(out / "tables" / "behaviour.csv")
    assert list(table["experiment"]) == ["(b) new", "(c) old"]
    assert table.loc[0, "effort_share_harmful"] == pytest.approx(19 / 39, rel=1e-5)
    assert table.loc[0, "share_reached_70"] == 1
    assert np.isnan(table.loc[1, "mean_fixed"])
    assert rb"\toprule" in (out / "tables" / "behaviour.tex").read_bytes()
    assert (out / "tables" / "behaviour_rounds.tex").is_file()
    assert (out / "tables" / "behaviour_dice_effort.csv").is_file()
    for name in ("behaviour_rounds", "dice_vs_effort"):
        assert (out / "figures" / f"{name}.png").stat().st_size > 10_000
    page = (out / "index.md").read_text()
    assert "## How the edits behaved" in page and "Reached 0.7" in page
    assert "(c) old: no fixed, broken, fp_ml, fn_ml, far_share, reach_mm, effort_s recorded" in page
    old_row = next(line for line in page.splitlines() if line.startswith("| (c) old | 3 | 5 | n/a | n/a | n/a"))
    assert " 0.0 |" not in old_row
    assert page.index("## How the edits behaved") > page.index("## Summary")


def test_cli_passes_the_dice_target(monkeypatch, tmp_path):
    import benchmark.report

    seen = {}

    def fake(*args, **kwargs):
        seen.update(kwargs)
        raise ValueError("stop here")

    monkeypatch.setattr(benchmark.report, "build_report", fake)
    result = CliRunner().invoke(main, ["report", str(tmp_path), "--dice-target", "0.8"])
    assert result.exit_code == 1 and seen["dice_target"] == 0.8
    assert CliRunner().invoke(main, ["report", str(tmp_path), "--dice-target", "1.5"]).exit_code == 2
