"""Running protocol files: runs resume and refuse changes, the analyses, the command line."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

from benchmark.cli import main
from benchmark.effort import EffortModel
from benchmark.protocol import (
    COMPLETED_FILE,
    load_protocol,
    run_protocol,
)
from benchmark.results import read_rounds, read_sessions
from tests.benchmark.protocol.helpers import CASES, base_protocol, checkpoint, write


# ---------------------------------------------------------------- running

class FakeAnalyses:
    """Stands in for benchmark.analyses: writes one file per analysis; 'robustness'
    raises, 'panels' reports a failed part the first time."""

    def __init__(self):
        self.calls = []

    def __call__(self, spec, refs, options, folder, seed, progress):
        self.calls.append(spec.name)
        if spec.name == "robustness":
            raise RuntimeError("no tumour to erase")
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{spec.name}.csv"
        path.write_text(",".join(ref.case_id for ref in refs))
        failures = ["c0 / m: out of memory"] if spec.name == "panels" and self.calls.count("panels") == 1 else []
        return path, failures


@pytest.fixture
def fake_analyses(monkeypatch):
    fake = FakeAnalyses()
    monkeypatch.setattr("benchmark.protocol.run._run_analysis", fake)
    return fake


def test_run_protocol_end_to_end_resumes_and_refuses_a_changed_protocol(tmp_path, data, fake_analyses):
    raw = base_protocol(data)
    raw["analyses"] = {"sweep": {"methods": ["paint"], "cases": 1}, "robustness": {"methods": ["paint"]},
                       "panels": {"methods": ["paint"]}}
    protocol = load_protocol(write(tmp_path, raw))
    out = tmp_path / "out"
    summary = run_protocol(protocol, out, progress=False)

    record = json.loads((out / "protocol.json").read_text())
    assert record["name"] == "tiny" and record["source"] == str(tmp_path / "p.yaml")
    assert record["experiments"][1] == {"id": "b", "label": "(b) one edit", "folder": "experiments/b",
                                        "method": "manual-paint", "user": "multi:target_dice=0.99", "mode": "test",
                                        "rounds": 1, "target_dice": None, "time_limit_s": None,
                                        "on_timeout": "keep", "repeats": 1}
    assert [e["label"] for e in record["experiments"]] == ["(a) paint", "(b) one edit", "c"]
    assert record["analyses"] == ["sweep", "robustness", "panels"]
    assert record["cases"] == CASES[:2] and record["seed"] == 3

    assert [(e.run.ok, e.run.failed) for e in summary.experiments] == [(2, 0)] * 3
    rounds = {e: read_rounds(out / "experiments" / e) for e in "abc"}
    for e, budget in zip("abc", (0, 1, 2)):
        assert set(rounds[e].case) == set(CASES[:2])
        assert rounds[e]["round"].max() <= budget and (rounds[e].method == "manual-paint").all()
    assert rounds["c"]["round"].max() == 2  # the FLAIR threshold misses enough to edit twice
    assert (rounds["a"].n_edits == 0).all() and (rounds["a"].user == "none").all()
    first = [r[r["round"] == 0].set_index("case").dice for r in rounds.values()]
    assert first[0].equals(first[1]) and first[0].equals(first[2])  # one method, one initial prediction
    run_json = json.loads((out / "experiments" / "c" / "run.json").read_text())["config"]
    assert run_json["seed"] == 3 and run_json["session"] == {"max_rounds": 2, "target_dice": None, "hd95": False,
                                                             "nsd_mm": None, "conventions": "simedit",
                                                             "time_limit_s": None, "on_timeout": "keep",
                                                             "locality_mm": 10.0,
                                                             "effort": EffortModel().to_json()}

    assert [(a.name, a.status) for a in summary.analyses] == [("sweep", "done"), ("robustness", "failed"),
                                                              ("panels", "failed")]
    assert (out / "analyses" / "sweep.csv").read_text() == CASES[0]
    assert summary.errors == ("analysis robustness: RuntimeError: no tumour to erase",
                              "analysis panels: 1 part(s) failed: c0 / m: out of memory")

    # the same protocol again: only the failed analyses run; a new label is fine
    raw["experiments"][2]["label"] = "(c) two edits"
    again = run_protocol(load_protocol(write(tmp_path, raw)), out, progress=False)
    assert [(e.run.ok, e.run.skipped) for e in again.experiments] == [(0, 2)] * 3
    assert [a.status for a in again.analyses] == ["skipped", "failed", "done"]
    assert fake_analyses.calls == ["sweep", "robustness", "panels", "robustness", "panels"]
    assert json.loads((out / "protocol.json").read_text())["experiments"][2]["label"] == "(c) two edits"
    assert set(json.loads((out / "analyses" / COMPLETED_FILE).read_text())) == {"sweep", "panels"}
    assert len(read_sessions(out / "experiments" / "b")) == 2

    # more rounds and a new experiment continue the folder: only what they add runs
    spent = (read_sessions(out / "experiments" / "c").stop_reason == "budget").sum()
    raw["experiments"][2]["rounds"] = 3
    raw["experiments"].append({"id": "d", "method": "paint", "user": "selection", "rounds": 1})
    grown = run_protocol(load_protocol(write(tmp_path, raw)), out, progress=False)
    assert [(e.run.ok, e.run.skipped) for e in grown.experiments] == [(0, 2), (0, 2), (spent, 2 - spent), (2, 0)]
    raw["experiments"][2]["rounds"] = 2
    with pytest.raises(ValueError, match=r"protocol.json: this folder holds the results of a different protocol "
                                         r"\(differs in: experiments\[c\].rounds\)"):
        run_protocol(load_protocol(write(tmp_path, raw)), out, progress=False)
    raw["experiments"][2].update(rounds=3, user="multi:target_dice=0.98")
    with pytest.raises(ValueError, match=r"\(differs in: experiments\[c\]\)"):
        run_protocol(load_protocol(write(tmp_path, raw)), out, progress=False)


def test_an_experiment_that_cannot_run_is_reported_and_the_others_go_on(tmp_path, data, fake_analyses):
    protocol = load_protocol(write(tmp_path, base_protocol(data)))
    (tmp_path / "out" / "experiments" / "a").mkdir(parents=True)
    (tmp_path / "out" / "experiments" / "a" / "run.json").write_text(json.dumps({"config": {"seed": 99}}))
    summary = run_protocol(protocol, tmp_path / "out", progress=False)
    assert summary.experiments[0].run is None and "different configuration" in summary.experiments[0].error
    assert [e.run.ok for e in summary.experiments[1:]] == [2, 2]
    assert summary.errors[0].startswith("experiment a: ValueError: ")


def test_the_analyses_run_for_real_and_a_method_that_fails_is_reported(tmp_path, data):
    from benchmark.analyses.panels import read_panels
    from benchmark.analyses.sweep import read_sweep

    checkpoint(tmp_path / "F.pt", {"train": [], "validation": []})
    raw = base_protocol(data)
    raw["methods"]["wrong"] = "editor=F.pt"  # F has no edit channels: the editor cannot be built
    raw["experiments"] = raw["experiments"][:1]
    raw["analyses"] = {"sweep": {"methods": ["paint"], "k": [-0.2, 0.0, 0.2]}, "panels": {"methods": ["paint"]},
                       "robustness": {"methods": ["paint", "wrong"], "cases": 1}}
    out = tmp_path / "out"
    summary = run_protocol(load_protocol(write(tmp_path, raw)), out, progress=False)
    assert [(a.name, a.status) for a in summary.analyses] == [("sweep", "done"), ("panels", "done"),
                                                              ("robustness", "failed")]
    assert summary.analyses[2].error.startswith(f"1 part(s) failed: {CASES[0]} / editor=")
    assert "needs 3 edit channels" in summary.analyses[2].error
    sweep = read_sweep(out / "analyses")
    assert set(sweep.table.case) == set(CASES[:2]) and set(sweep.table.k) == {-0.2, 0.0, 0.2}
    assert read_panels(out / "analyses") is not None
    again = run_protocol(load_protocol(write(tmp_path, raw)), out, progress=False)
    assert [a.status for a in again.analyses] == ["skipped", "skipped", "failed"]


def test_worst_cases_are_those_of_lowest_final_dice_in_the_named_experiment(tmp_path, data, fake_analyses):
    raw = base_protocol(data)
    raw["analyses"] = {"panels": {"methods": ["paint"], "cases": {"worst": 1, "experiment": "a"}}}
    out = tmp_path / "out"
    summary = run_protocol(load_protocol(write(tmp_path, raw)), out, progress=False)
    final = read_sessions(out / "experiments" / "a").set_index("case").final_dice
    assert final.nunique() == 2  # the two cases differ, so "worst" means one of them
    assert summary.analyses[0].status == "failed"  # the fake fails panels once
    assert (out / "analyses" / "panels.csv").read_text() == final.idxmin()
    completed = run_protocol(load_protocol(write(tmp_path, raw)), out, progress=False)
    assert completed.analyses[0].status == "done"
    settings = json.loads((out / "analyses" / COMPLETED_FILE).read_text())["panels"]["settings"]
    assert settings["cases"] == [final.idxmin()] and settings["worst"] == {"cases": 1, "experiment": "a"}


def test_worst_cases_of_an_experiment_without_results_fail_the_analysis_only(tmp_path, data, fake_analyses):
    raw = base_protocol(data)
    raw["experiments"].append({"id": "g", "method": "paint", "user": "none", "rounds": 0})
    raw["analyses"] = {"panels": {"methods": ["paint"], "cases": {"worst": 1, "experiment": "g"}}}
    protocol = load_protocol(write(tmp_path, raw))
    out = tmp_path / "out"
    (out / "experiments" / "g").mkdir(parents=True)
    (out / "experiments" / "g" / "run.json").write_text(json.dumps({"config": {"seed": 99}}))  # refuses to run
    summary = run_protocol(protocol, out, progress=False)
    assert summary.experiments[-1].run is None
    assert summary.analyses[0].status == "failed"
    assert "picks the worst cases of experiment 'g', which has no finished session" in summary.analyses[0].error


def test_an_analysis_of_a_retrained_network_runs_again(tmp_path, data, fake_analyses):
    checkpoint(tmp_path / "F.pt", {"train": [], "validation": []})
    raw = base_protocol(data)
    raw["methods"]["F"] = "base=F.pt"
    raw["analyses"] = {"sweep": {"methods": ["F"], "cases": 1}}
    out = tmp_path / "out"
    run_protocol(load_protocol(write(tmp_path, raw)), out, progress=False)
    assert run_protocol(load_protocol(write(tmp_path, raw)), out, progress=False).analyses[0].status == "skipped"
    torch.manual_seed(1)
    checkpoint(tmp_path / "F.pt", {"train": [], "validation": []}, {"retrained": True})
    assert run_protocol(load_protocol(write(tmp_path, raw)), out, progress=False).analyses[0].status == "done"
    assert fake_analyses.calls == ["sweep", "sweep"]



def test_an_analysis_run_again_is_no_longer_recorded_complete_until_its_files_are_written(tmp_path, data,
                                                                                          fake_analyses, monkeypatch):
    checkpoint(tmp_path / "F.pt", {"train": [], "validation": []})
    raw = base_protocol(data)
    raw["methods"]["F"] = "base=F.pt"
    raw["analyses"] = {"sweep": {"methods": ["F"], "cases": 1}}
    out, record = tmp_path / "out", tmp_path / "out" / "analyses" / COMPLETED_FILE
    run_protocol(load_protocol(write(tmp_path, raw)), out, progress=False)
    assert set(json.loads(record.read_text())) == {"sweep"}
    torch.manual_seed(1)
    checkpoint(tmp_path / "F.pt", {"train": [], "validation": []}, {"retrained": True})

    def killed(spec, refs, options, folder, seed, progress):
        (folder / "sweep.csv").write_text("the first half of the new file")
        raise KeyboardInterrupt  # the run is stopped halfway through the analysis' files

    monkeypatch.setattr("benchmark.protocol.run._run_analysis", killed)
    with pytest.raises(KeyboardInterrupt):
        run_protocol(load_protocol(write(tmp_path, raw)), out, progress=False)
    assert json.loads(record.read_text()) == {}  # the old record no longer vouches for the rewritten files
    monkeypatch.setattr("benchmark.protocol.run._run_analysis", fake_analyses)
    assert run_protocol(load_protocol(write(tmp_path, raw)), out, progress=False).analyses[0].status == "done"
    assert set(json.loads(record.read_text())) == {"sweep"} and fake_analyses.calls == ["sweep", "sweep"]

def test_cuda_without_a_gpu_is_refused_before_any_work(tmp_path, data, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    protocol = load_protocol(write(tmp_path, base_protocol(data)))
    with pytest.raises(ValueError, match="--device cuda asked for, but torch sees no CUDA GPU"):
        run_protocol(protocol, tmp_path / "out", device="cuda", progress=False)
    with pytest.raises(ValueError, match="device must be 'cpu' or 'cuda'"):
        run_protocol(protocol, tmp_path / "out", device="gpu", progress=False)
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- command line

def test_cli_runs_a_protocol_and_refuses_to_mix_it_with_run_options(tmp_path, data):
    raw = base_protocol(data)
    raw["experiments"] = raw["experiments"][:2]
    path = write(tmp_path, raw)
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["run", str(path), "--out", str(out), "--jobs", "1", "--device", "cpu"])
    assert res.exit_code == 0, res.output
    assert f"experiments -> {out}" in res.output and "(b) one edit: 2 ok, 0 failed, 0 already done; Dice" in res.output
    assert (out / "experiments" / "b" / "rounds.csv").exists()

    for extra in (["--data", str(data)], ["--user", "multi"], ["--rounds", "3"], ["--no-hd95"]):
        res = CliRunner().invoke(main, ["run", str(path), *extra])
        assert res.exit_code == 2 and f"{extra[0]} cannot be combined with a protocol file" in res.output

    res = CliRunner().invoke(main, ["run", "--data", str(data), "--out", str(tmp_path / "x")])
    assert res.exit_code == 2 and "Missing option(s) --method, --user" in res.output

    raw["experiments"][1]["user"] = "mutli"
    res = CliRunner().invoke(main, ["run", str(write(tmp_path, raw)), "--out", str(out)])
    assert res.exit_code == 1 and "experiments[1].user: unknown user 'mutli'; did you mean 'multi'?" in res.output


def test_cli_default_out_is_results_slash_the_protocol_name(tmp_path, data, monkeypatch):
    raw = base_protocol(data)
    raw["experiments"] = raw["experiments"][:1]
    path = write(tmp_path, raw)
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(main, ["run", str(path)])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "results" / "tiny" / "protocol.json").exists()
