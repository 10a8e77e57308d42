import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from benchmark import statistics
from benchmark.cli import main
from benchmark.report import build_report, describe, load_rounds, load_sessions
from benchmark.report.tables import format_p, latex_escape
from benchmark.results import RUN_FILE, ResultsWriter, RoundRecord, SessionRecord

TOOLS = ("selection", "brush", "adjustment")
#: (id, label, user, edits per round at most, rounds at most)
EXPERIMENTS = (("a", "(a) F", "none", 0, 0), ("b", "(b) G, one edit", "single", 1, 1),
               ("c", "(c) G, multiple_edits", "multi", 2, 4))


def write_run(folder, method, user, max_edits, max_rounds, seed, cases=10, failed=()):
    """A run folder by hand: cases start at Dice 0.55-0.9 and gain with each edit."""
    rng = np.random.default_rng(seed)
    writer = ResultsWriter(folder)
    for i in range(cases):
        case = f"case{i:02d}"
        if case in failed:
            writer.write(SessionRecord(case, method, user, "failed", "", 0, float("nan"), 0, 0.1,
                                       "ValueError: broken, with a comma"))
            continue
        dice = np.random.default_rng(i).uniform(0.55, 0.9)  # the same start in every experiment
        n_edits, rounds = 0, []
        n_rounds = 0 if dice > 0.85 else int(rng.integers(0, max_rounds + 1))
        for r in range(n_rounds + 1):
            made = [str(t) for t in rng.choice(TOOLS, int(rng.integers(1, max_edits + 1)))] if r else []
            n_edits += len(made)
            dice = min(0.97, dice + 0.04 * len(made) + rng.normal(0, 0.01) * bool(made))
            rounds.append(RoundRecord(case, method, user, r, dice, float("nan"), n_edits, ";".join(made), "",
                                      1.0, 2.0, float("nan"), 30.0))
        writer.write(SessionRecord(case, method, user, "ok", "user", n_rounds, dice, n_edits, 0.5), rounds)
    (folder / RUN_FILE).write_text(json.dumps({"config": {}, "seed": 0, "git_commit": "abc123def4567890",
                                               "python": "3.11.7", "packages": {"numpy": "2.0", "torch": "2.13"}}))


def write_protocol(root, missing=True):
    entries = []
    for k, (i, label, user, max_edits, max_rounds) in enumerate(EXPERIMENTS):
        write_run(root / "experiments" / i, "editor:G", user, max_edits, max_rounds, seed=k,
                  failed=("case03",) if i == "c" else ())
        entries.append({"id": i, "label": label, "folder": f"experiments/{i}", "method": "editor=/m/G.pt",
                        "user": user, "mode": "test", "rounds": max_rounds, "target_dice": None})
    if missing:
        entries.append({"id": "d", "label": "(d) DeepIGeoS", "folder": "experiments/d", "method": "deepigeos=/m/D.pt",
                        "user": "multi", "mode": "test", "rounds": 4, "target_dice": None})
    (root / "protocol.json").write_text(json.dumps({"name": "test", "title": "Section 3 & co", "source": "/p.yaml",
                                                    "experiments": entries, "analyses": []}))
    return root


@pytest.fixture(scope="module")
def protocol(tmp_path_factory):
    return write_protocol(tmp_path_factory.mktemp("protocol"))


@pytest.fixture(scope="module")
def built(protocol):
    return build_report(protocol, n_boot=500)


def files(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_load_keeps_protocol_order_and_reports_missing_experiments(protocol):
    rounds = load_rounds(protocol)
    labels = [e[1] for e in EXPERIMENTS]
    assert list(rounds["experiment"].cat.categories) == labels
    assert set(rounds["experiment"]) == set(labels)
    results = describe(protocol)
    assert [e.label for e in results.present] == labels
    assert "missing" in results.find("d").problem
    sessions = load_sessions(protocol)
    failed = sessions[sessions["status"] == "failed"]
    assert list(failed["case"]) == ["case03"] and list(failed["experiment"]) == ["(c) G, multiple_edits"]


def test_a_folder_without_results_is_refused_with_its_name(tmp_path):
    with pytest.raises(ValueError, match=f"{tmp_path}: neither protocol.json .* nor rounds.csv"):
        load_rounds(tmp_path)
    (tmp_path / "protocol.json").write_text(json.dumps({"experiments": [
        {"id": "a", "label": "A", "folder": "experiments/a"}]}))
    with pytest.raises(ValueError, match="nothing to report.*A: its folder .* is missing"):
        build_report(tmp_path)


def test_the_report_has_every_table_figure_and_the_page(built):
    out = files(built)
    for name in ("dice_boxplot", "dice_vs_interactions", "edit_counts", "paired_differences"):
        assert len(out[f"figures/{name}.png"]) > 10_000 and out[f"figures/{name}.pdf"].startswith(b"%PDF")
    for name in ("summary", "comparisons", "edits", "edits_by_tool"):
        assert out[f"tables/{name}.csv"] and rb"\toprule" in out[f"tables/{name}.tex"]
    assert "tables/sessions.csv" in out
    page = out["index.md"].decode()
    assert page.startswith("# Section 3 & co")
    assert "'(d) DeepIGeoS' is not reported: its folder" in page
    assert "ValueError: broken, with a comma" in page and "abc123def456" in page
    html = out["index.html"].decode()
    assert "Section 3 &amp; co" in html and '<img src="figures/dice_boxplot.png"' in html
    assert r"(c) G, multiple\_edits" in out["tables/summary.tex"].decode()


def test_rebuilding_writes_the_same_bytes(protocol, built, tmp_path):
    first = files(built)
    again = files(build_report(protocol, tmp_path / "again", n_boot=500))
    assert first.keys() == again.keys()
    differ = [name for name in first if first[name] != again[name]]
    assert differ == []


def test_the_tables_hold_the_statistics(protocol, built):
    sessions = statistics.session_table(load_rounds(protocol))
    summary = statistics.experiment_summary(sessions)
    written = pd.read_csv(built / "tables" / "summary.csv")
    assert list(written["experiment"]) == [e[1] for e in EXPERIMENTS]
    for column in ("cases", "mean_dice", "sd_dice", "median_dice", "noc_85", "nof_90", "auc", "share_unedited"):
        np.testing.assert_allclose(written[column], summary[column].astype(float), rtol=1e-5, err_msg=column)
    comparisons = pd.read_csv(built / "tables" / "comparisons.csv")
    assert set(comparisons["a"]) == {"(a) F"} and list(comparisons["b"]) == [e[1] for e in EXPERIMENTS[1:]]
    # experiment (c) only improves on the cases it edited: the paired mean difference
    c = sessions[sessions["experiment"] == "(c) G, multiple_edits"].set_index("case")["final_dice"]
    a = sessions[sessions["experiment"] == "(a) F"].set_index("case")["final_dice"].reindex(c.index)
    assert comparisons["mean_diff"].iloc[1] == pytest.approx((c - a).mean(), rel=1e-5)
    assert comparisons["n"].iloc[1] == 9  # case03 failed


def test_unknown_or_empty_reference_is_refused(protocol, tmp_path):
    with pytest.raises(ValueError, match="did you mean '\\(b\\) G, one edit'"):
        build_report(protocol, tmp_path / "r", reference="(b) G, one edt")
    with pytest.raises(ValueError, match="has no results"):
        build_report(protocol, tmp_path / "r", reference="d")


def test_cli_reports_a_plain_run_folder_per_method_and_user(tmp_path):
    write_run(tmp_path / "run", "manual paint", "multi", 2, 3, seed=0, cases=6)
    write_run(tmp_path / "run", "manual paint", "selection", 1, 3, seed=1, cases=6)
    rounds = load_rounds(tmp_path / "run")
    assert list(rounds["experiment"].cat.categories) == ["manual paint / multi", "manual paint / selection"]
    runner = CliRunner()
    result = runner.invoke(main, ["report", str(tmp_path / "run"), "--out", str(tmp_path / "cli"), "--n-boot", "200",
                                  "--reference", "manual-paint-selection"])
    assert result.exit_code == 0, result.output
    assert "index.html" in result.output and "manual paint / selection" in result.output
    summary = pd.read_csv(tmp_path / "cli" / "tables" / "summary.csv")
    assert list(summary["cases"]) == [6, 6]
    comparisons = pd.read_csv(tmp_path / "cli" / "tables" / "comparisons.csv")
    assert list(comparisons[["a", "b"]].iloc[0]) == ["manual paint / selection", "manual paint / multi"]
    bad = runner.invoke(main, ["report", str(tmp_path / "cli")])
    assert bad.exit_code == 1 and "neither protocol.json" in bad.output


def test_latex_escape_and_p_values():
    assert latex_escape("a_b 5% & #1 ± x") == r"a\_b 5\% \& \#1 $\pm$ x"
    assert [format_p(p) for p in (0.5, 0.0123, 2.5e-5, float("nan"))] == ["0.500", "0.012", "2.5e-05", "n/a"]


def test_analyses_figures_are_drawn_when_their_files_are_there(protocol, tmp_path, monkeypatch):
    from importlib.machinery import ModuleSpec
    from types import ModuleType

    from matplotlib.figure import Figure

    def fake(name, data):
        module = ModuleType(f"benchmark.analyses.{name}")
        module.__spec__ = ModuleSpec(module.__name__, None)
        setattr(module, f"read_{name}", lambda folder: data(folder))
        setattr(module, f"plot_{name}", lambda d: Figure(figsize=(2, 2)))
        monkeypatch.setitem(__import__("sys").modules, module.__name__, module)

    fake("sweep", lambda folder: {"from": folder})
    fake("robustness", lambda folder: None)  # its files are absent
    (protocol / "analyses").mkdir(exist_ok=True)
    out = build_report(protocol, tmp_path / "with-analyses", n_boot=100)
    names = {p.name for p in (out / "figures").iterdir()}
    assert {"sweep.png", "sweep.pdf"} <= names and not any(n.startswith("robustness") for n in names)
    assert "Adjustment sweep (Fig. 5)" in (out / "index.md").read_text()


def write_challenge_run(folder, method, dice_steps, unsupported_box=False, stop_after=None):
    """A run folder scored by the challenge's conventions: round 0, the box (1), 5 clicks."""
    writer = ResultsWriter(folder)
    for i, steps in enumerate(dice_steps):
        case = f"case{i}"
        last = len(steps) if stop_after is None else stop_after + 1
        rounds = [RoundRecord(case, method, "box then cvpr25", r, d, 0.0 if d <= 0.2 else d + 0.05, r,
                              "" if r == 0 else ("box" if r == 1 else "selection"),
                              "box" if unsupported_box and r == 1 else "", 1.0, 1000.0 * (r + 1), float("nan"), 3.0,
                              nsd=0.0 if d <= 0.2 else d + 0.05)
                  for r, d in enumerate(steps[:last])]
        writer.write(SessionRecord(case, method, "box then cvpr25", "ok", "user" if stop_after else "budget",
                                   last - 1, steps[last - 1], last - 1, 0.5), rounds)
    session = {"max_rounds": 6, "nsd_mm": 2.0, "conventions": "cvpr25"}
    (folder / RUN_FILE).write_text(json.dumps({"config": {"session": session}, "seed": 0}))


def test_a_challenge_protocol_reports_the_challenges_scores_per_step(tmp_path):
    steps = [[0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0], [0.0, 0.1, 0.3, 0.5, 0.7, 0.8, 0.85]]
    write_challenge_run(tmp_path / "experiments" / "g", "editor:G", steps, unsupported_box=True)
    write_challenge_run(tmp_path / "experiments" / "p", "manual-paint", steps, stop_after=3)
    entries = [{"id": i, "label": label, "folder": f"experiments/{i}", "method": m, "user": "box then cvpr25",
                "mode": "test", "rounds": 6, "target_dice": None}
               for i, label, m in (("g", "G", "editor=/m/G.pt"), ("p", "paint", "manual-paint"))]
    (tmp_path / "protocol.json").write_text(json.dumps({"name": "c", "title": "challenge", "source": "/c.yaml",
                                                        "experiments": entries, "analyses": []}))
    out = build_report(tmp_path, n_boot=100)
    means = pd.read_csv(out / "tables" / "challenge.csv")
    g = means.set_index("experiment").loc["G"]
    # by hand: the click steps of case 0 are 0.6..1.0 -> 0.5*(0.6+0.7)+0.5*(0.7+0.8)+0.5*(0.8+0.9)+0.5*(0.9+1.0)
    auc0 = 0.65 + 0.75 + 0.85 + 0.95
    auc1 = 0.5 * (0.3 + 0.5) + 0.5 * (0.5 + 0.7) + 0.5 * (0.7 + 0.8) + 0.5 * (0.8 + 0.85)
    assert g.DSC_AUC == pytest.approx((auc0 + auc1) / 2) and g.DSC_Final == pytest.approx((1.0 + 0.85) / 2)
    assert g.NSD_1 == pytest.approx((0.55 + 0.0) / 2)  # NSD is 0 where DSC <= 0.2 (case 1's box step)
    assert g.unsupported_steps == 2 and g.RunningTime_1 == pytest.approx(2.0)
    paint = means.set_index("experiment").loc["paint"]
    assert paint.DSC_6 == pytest.approx((0.7 + 0.5) / 2) and paint.carried_steps == 2 * 3  # kept after stopping
    page = (out / "index.md").read_text()
    assert "CVPR 2025 challenge scores" in page and "DSC, NSD and time per step" in page
    assert "| G | 2 |" in page and "1 (box)" in page


def test_a_challenge_run_the_challenge_cannot_score_still_reports_its_final_nsd(tmp_path):
    steps = [[0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.0]]  # 7 rounds: beyond the challenge's 6 steps
    write_challenge_run(tmp_path, "manual-paint", steps)
    out = build_report(tmp_path, n_boot=100)
    page = (out / "index.md").read_text()
    assert "CVPR 2025 challenge scores" not in page and "Final NSD" in page
    assert "The challenge cannot score: manual-paint / box then cvpr25: session" in page and "beyond" in page
