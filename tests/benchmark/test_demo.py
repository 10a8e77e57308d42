import json

import pandas as pd
import pytest
from click.testing import CliRunner

from baselines.deepigeos.training import DeepIGeoSConfig
from baselines.editing_network.training import TrainConfig
from benchmark.cli import main
from benchmark.demo import DemoConfig, phantoms, run_demo
from benchmark.protocol import PROTOCOL_FILE, shipped_protocol
from benchmark.report.load import load_sessions
from benchmark.results import read_rounds


def test_config_refuses_what_cannot_run():
    with pytest.raises(ValueError, match="preset must be one of"):
        DemoConfig(preset="gpu")
    with pytest.raises(ValueError, match="leave held-out cases"):
        DemoConfig(cases=8, train_cases=8)
    assert DemoConfig().phantom_shape == (96, 96, 64)
    assert DemoConfig(preset="paper").phantom_shape == (240, 240, 155)


def test_phantoms_of_other_settings_are_refused_not_mixed(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "synth.json").write_text(json.dumps({"cases": 3, "shape": [40, 44, 32], "seed": 1, "layout": "brats2018"}))
    with pytest.raises(ValueError, match="other settings"):
        phantoms(DemoConfig(out=tmp_path, cases=3, train_cases=2, shape=(40, 44, 32), seed=0), echo=lambda s: None)


def _tiny(config: DemoConfig):
    """Networks of a few seconds' training for the end-to-end test."""
    net = dict(base=4, levels=2, patch=(16, 16, 16), batch_size=1, epochs=1, steps_per_epoch=2, validate_every=1,
               seed=config.seed)
    return (TrainConfig.cpu(**net), TrainConfig.cpu(**net),
            DeepIGeoSConfig.cpu(features=4, patch=(16, 16, 16), batch_size=1, pnet_epochs=1, rnet_epochs=1,
                                steps_per_epoch=2, validate_every=1, seed=config.seed))


@pytest.mark.slow
def test_demo_runs_end_to_end_and_resumes(tmp_path, monkeypatch):
    monkeypatch.setattr(DemoConfig, "networks", _tiny)
    config = DemoConfig(out=tmp_path / "demo", cases=5, train_cases=3, shape=(40, 44, 32), jobs=1)
    said: list[str] = []
    summary = run_demo(config, echo=said.append)

    record = json.loads((config.out / PROTOCOL_FILE).read_text())
    assert set(record["cases"]) == {"Brats18_SIM_003_1", "Brats18_SIM_004_1"}  # held out: not in any split
    sessions = load_sessions(config.out)
    assert len(sessions) == 2 * len(record["experiments"]) and (sessions.status == "ok").all()
    assert (summary.report / "index.html").is_file() and (summary.report / "figures" / "dice_boxplot.png").is_file()
    assert any(s.startswith("training F") for s in said)

    # again: phantoms, checkpoints, sessions and analyses are all reused
    said.clear()
    again = run_demo(config, echo=said.append)
    assert any(s.startswith("F: reusing") for s in said) and any(s.startswith("DeepIGeoS: reusing") for s in said)
    assert all(e.run.ok == 0 and e.run.skipped == 2 for e in again.protocol.experiments)

    # G retrained: the results of the G before are removed, then made anew
    (config.out / "checkpoints" / "G.pt").unlink()
    said.clear()
    third = run_demo(config, echo=said.append)
    assert any(s.startswith("training G (train)") for s in said)
    assert any(s.startswith("removed") and s.endswith("made with other networks than these") for s in said)
    assert all(e.run.ok == 2 and e.run.skipped == 0 for e in third.protocol.experiments)

    # a newer shipped protocol: the old results go, the new protocol runs in full
    newer = tmp_path / "seed-paper.yaml"
    newer.write_text(shipped_protocol().read_text().replace("rounds: 5", "rounds: 4"))
    monkeypatch.setattr("benchmark.demo.shipped_protocol", lambda name="seed-paper": newer)
    said.clear()
    fourth = run_demo(config, echo=said.append)
    assert any("another version of the shipped protocol (differs in: experiments[" in s for s in said)
    assert all(e.run.ok == 2 for e in fourth.protocol.experiments)


@pytest.mark.slow
def test_the_challenge_protocol_runs_on_the_demos_phantoms_and_networks(tmp_path, monkeypatch):
    monkeypatch.setattr(DemoConfig, "networks", _tiny)
    challenge = DemoConfig(out=tmp_path / "demo", cases=5, train_cases=3, shape=(40, 44, 32), jobs=1,
                            protocol="cvpr25-challenge")
    said: list[str] = []
    summary = run_demo(challenge, echo=said.append)
    results = tmp_path / "demo" / "cvpr25-challenge"
    assert summary.out == tmp_path / "demo" and summary.report == results / "report"
    sessions = load_sessions(results)
    assert len(sessions) == 2 * 4 and (sessions.status == "ok").all(), sessions.error.tolist()
    rounds = pd.concat(read_rounds(folder) for folder in (results / "experiments").iterdir())
    assert rounds.nsd.notna().all() and set(rounds.timed_out) == {0}
    first = rounds[rounds["round"] == 1]
    assert (first.tools == "box").all()
    assert set(first[first.method.str.startswith("editor")].unsupported) == {"box"}  # G takes no box: recorded
    assert set(first[first.method == "manual-paint"].unsupported) == {""}
    page = (summary.report / "index.md").read_text()
    assert "DSC_AUC" in page and "NSD_AUC" in page
    # the networks trained once serve both protocols: the next run reuses them
    said.clear()
    run_demo(challenge, echo=said.append)
    assert any(s.startswith("G: reusing") for s in said)


def test_cli_demo_reports_bad_settings_as_a_usage_error(tmp_path):
    result = CliRunner().invoke(main, ["demo", "--out", str(tmp_path), "--cases", "4", "--train-cases", "4"])
    assert result.exit_code == 1 and "leave held-out cases" in result.output


@pytest.mark.slow
def test_the_sloppy_users_protocol_reports_each_method_under_the_oracle_and_the_population(tmp_path, monkeypatch):
    monkeypatch.setattr(DemoConfig, "networks", _tiny)
    sloppy = DemoConfig(out=tmp_path / "demo", cases=5, train_cases=3, shape=(40, 44, 32), jobs=2,
                        protocol="sloppy-users")
    summary = run_demo(sloppy, echo=lambda _: None)
    results = tmp_path / "demo" / "sloppy-users"
    sessions = load_sessions(results)
    assert (sessions.status == "ok").all(), sessions.error.tolist()
    assert sessions.groupby("experiment", observed=True).size().tolist() == [2, 16] * 3  # 2 cases, 8 people
    table = pd.read_csv(summary.report / "tables" / "population.csv")
    assert table.oracle.tolist() == ["G, oracle user", "DeepIGeoS, oracle user", "manual paint, oracle user"]
    assert (table.user_seeds == 8).all() and (table.dice_p5 <= table.dice_median).all()
    assert "Robustness to the user" in (summary.report / "index.md").read_text()
