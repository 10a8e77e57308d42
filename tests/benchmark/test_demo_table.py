import pandas as pd
import pytest

from benchmark.demo_table import demo_table, sweep_ratios


@pytest.fixture
def run(tmp_path):
    (tmp_path / "report" / "tables").mkdir(parents=True)
    (tmp_path / "analyses").mkdir()
    pd.DataFrame({"experiment": ["(a) F", "(e) G, multiple edits"], "cases": [16, 16], "mean_dice": [0.8766, 0.91249],
                  "mean_edits": [0.0, 2.6875]}).to_csv(tmp_path / "report" / "tables" / "summary.csv", index=False)
    pd.DataFrame({"case": ["a", "a", "a", "b", "b", "b"], "method": ["editor:G"] * 6, "k": [-0.5, 0.0, 0.5] * 2,
                  "volume_ml": [3.0, 4.0, 8.0, 1.0, 2.0, 3.0], "base_volume_ml": [4.0, 4.0, 4.0, 2.0, 2.0, 2.0]}
                 ).to_csv(tmp_path / "analyses" / "sweep.csv", index=False)
    return tmp_path


def test_the_table_comes_from_the_run_files(run):
    text = demo_table(run, run / "report", {"training": 600.0, "report": 7.0},
                      {"git_commit": "abcdef1234", "git_dirty": False})
    assert "| (a) F | 0.877 | 0 |" in text and "| (e) G, multiple edits | 0.912 | 2.69 |" in text
    # (3/4 + 1/2) / 2 and (8/4 + 3/2) / 2
    assert "editor:G on 2 cases: mean volume over the unedited one 0.62x at K = -0.5, 1.75x at K = +0.5" in text
    assert "at abcdef1 on" in text and "training 10.0 min, report 7 s (10.1 min in all)" in text
    assert "uncommitted" in demo_table(run, run / "report", {}, {"git_commit": "abcdef1234", "git_dirty": True})


def test_no_sweep_no_sweep_line(run):
    (run / "analyses" / "sweep.csv").unlink()
    assert sweep_ratios(run / "analyses" / "sweep.csv") == {}
    assert "sweep" not in demo_table(run, run / "report", {"report": 1.0})
