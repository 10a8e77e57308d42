"""Protocol files: every validation error names the file and key path; runs resume and refuse changes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
import yaml
from click.testing import CliRunner

from baselines.networks.checkpoint import InputSpec, save_checkpoint
from baselines.networks import make_backbone
from benchmark.cli import main
from benchmark.protocol import (
    COMPLETED_FILE,
    DEFAULT_KS,
    held_out,
    load_protocol,
    run_protocol,
    shipped_protocol,
)
from benchmark.results import read_rounds, read_sessions
from benchmark.phantoms.synth import synthesize

CASES = ["Brats18_SIM_000_1", "Brats18_SIM_001_1", "Brats18_SIM_002_1", "Brats18_SIM_003_1"]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """Four tiny BraTS 2018 phantoms."""
    root = tmp_path_factory.mktemp("data")
    assert synthesize(root, len(CASES), (40, 44, 32), 0, "brats2018", 1, progress=False) == CASES
    return root


def checkpoint(path: Path, split: dict, training: dict | None = None) -> Path:
    """A tiny network checkpoint with the given split (only the split is read here)."""
    torch.manual_seed(0)
    net = make_backbone("isensee", in_channels=4, base=2, levels=2, dropout=0.0)
    return save_checkpoint(path, net, backbone="isensee", config=net.config,
                           inputs=InputSpec(("flair", "t1", "t1ce", "t2"), 0, "z-score"),
                           training=training or {}, split=split, epoch=1)


def base_protocol(data: Path) -> dict:
    return {
        "name": "tiny",
        "data": str(data),
        "cases": CASES[:2],
        "seed": 3,
        "metrics": {"hd95": False},
        "methods": {"paint": "manual-paint"},
        "experiments": [
            {"id": "a", "label": "(a) paint", "method": "paint", "user": "none", "rounds": 0},
            {"id": "b", "label": "(b) one edit", "method": "paint", "user": "multi:target_dice=0.99", "rounds": 1},
            {"id": "c", "method": "paint", "user": "multi:target_dice=0.99", "rounds": 2},
        ],
    }


def write(folder: Path, protocol: dict, name: str = "p.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(protocol, sort_keys=False))
    return path


def error_of(path: Path) -> str:
    with pytest.raises(ValueError) as info:
        load_protocol(path)
    return str(info.value)


# ---------------------------------------------------------------- validation

def _set(key_path: str, value):
    """A change to the base protocol: set the value at a dotted path (``experiments.1.user``)."""
    def change(protocol):
        *parents, last = key_path.split(".")
        node = protocol
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        node[int(last) if isinstance(node, list) else last] = value
    return change


def _drop(key):
    return lambda protocol: protocol.pop(key)


CHANGES = [
    (_set("experiment", []), "experiment: unknown key 'experiment'; did you mean 'experiments'?"),
    (_drop("methods"), "missing key 'methods'"),
    (_set("name", "my run"), "name: 'my run' may use only letters"),
    (_set("seed", -1), "seed: expected an integer >= 0"),
    (_set("layout", "brats18"), "layout: unknown layout 'brats18'; did you mean 'brats2018'?"),
    (_set("data", "nowhere"), "data: "),
    (_set("metrics", {"hd95": "no"}), "metrics.hd95: expected true or false"),
    (_set("metrics", {"hd": True}), "metrics.hd: unknown key 'hd'; did you mean 'hd95'?"),
    (_set("cases", "heldout"), "cases: unknown case selection 'heldout'; did you mean 'held-out'?"),
    (_set("cases", ["Brats18_SIM_000_1", "Brats18_SIM_00_1"]),
     "cases[1]: no case 'Brats18_SIM_00_1' in "),
    (_set("methods.paint", "manual-pain"), "methods.paint: unknown method 'manual-pain'; did you mean 'manual-paint'?"),
    (_set("methods.paint", "manual-paint=x.pt"), "methods.paint: method 'manual-paint' takes no argument after '=' (got 'x.pt')"),
    (_set("methods.G", "editor"), "methods.G: method 'editor' needs a file after '=': editor=CHECKPOINT.pt"),
    (_set("methods.G", "editor=checkpoints/G.pt"), "methods.G: method 'editor': "),
    (_set("methods.G", "mylab_nowhere:Net"), "methods.G: method 'mylab_nowhere:Net': no module named 'mylab_nowhere'"),
    (_set("experiments", []), "experiments: expected a non-empty list"),
    (_set("experiments.1.round", 1), "experiments[1].round: unknown key 'round'; did you mean 'rounds'?"),
    (_set("experiments.1.method", ["paint"]), "experiments[1].method: unknown method alias ['paint']"),
    (_set("experiments.1.method", "pain"), "experiments[1].method: unknown method alias 'pain'; did you mean 'paint'?"),
    (_set("experiments.1.user", "mutli"), "experiments[1].user: unknown user 'mutli'; did you mean 'multi'?"),
    (_set("experiments.1.user", "multi:target=0.9"), "experiments[1].user: unknown option of user 'multi':"),
    (_set("experiments.1.mode", "tset"), "experiments[1].mode: unknown mode 'tset'; did you mean 'test'?"),
    (_set("experiments.1.rounds", "two"), "experiments[1].rounds: expected an integer >= 0"),
    (_set("experiments.1.rounds", -1), "experiments[1].rounds: expected an integer >= 0"),
    (_set("experiments.1.rounds", True), "experiments[1].rounds: expected an integer >= 0"),
    (_set("experiments.1.target_dice", 1.5), "experiments[1].target_dice: expected a Dice in (0, 1]"),
    (_set("experiments.1.target_dice", ".9"), "experiments[1].target_dice: expected a Dice in (0, 1]"),
    (_set("experiments.1.id", "a"), "experiments[1].id: 'a' is also experiments[0]'s id"),
    (_set("experiments.1.id", "B"), "experiments[1].id: 'B' must be a short slug"),
    (_set("experiments.2.label", "(a) paint"), "experiments[2].label: '(a) paint' is also experiments[0]'s label"),
    (_set("analyses", {"sweeep": {"methods": ["paint"]}}), "analyses.sweeep: unknown analysis 'sweeep'; did you mean 'sweep'?"),
    (_set("analyses", {"sweep": {"methods": ["paint"], "ks": [0.1]}}), "analyses.sweep.ks: unknown key 'ks'; did you mean 'k'?"),
    (_set("analyses", {"panels": {"methods": ["paint"], "k": [0.1]}}), "analyses.panels.k: unknown key 'k'"),
    (_set("analyses", {"sweep": {"methods": ["paint"], "k": ["big"]}}), "analyses.sweep.k: expected a non-empty list of numbers"),
    (_set("analyses", {"robustness": {"methods": ["G"]}}), "analyses.robustness.methods[0]: unknown method alias 'G'"),
    (_set("analyses", {"panels": {"methods": ["paint"], "cases": 3}}), "analyses.panels.cases: asks for 3 case(s); the protocol has 2"),
    (_set("analyses", {"panels": {"methods": ["paint"], "cases": ["Brats18_SIM_003_1"]}}),
     "analyses.panels.cases[0]: no case 'Brats18_SIM_003_1' among the protocol's cases"),
    (_set("analyses", {"panels": {"methods": ["paint"], "cases": {"worst": 1, "experiment": "bb"}}}),
     "analyses.panels.cases.experiment: unknown experiment id 'bb'; did you mean 'b'?"),
    (_set("analyses", {"panels": {"methods": ["paint"], "cases": {"worst": 3, "experiment": "b"}}}),
     "analyses.panels.cases.worst: expected a number of cases from 1 to 2"),
    (_set("analyses", {"panels": {"methods": ["paint"], "cases": {"worst": 1}}}),
     "analyses.panels.cases: missing key 'experiment'"),
]


@pytest.mark.parametrize("change, message", CHANGES, ids=[m.split(":")[0] for _, m in CHANGES])
def test_every_problem_names_the_file_and_key_path(tmp_path, data, change, message):
    protocol = base_protocol(data)
    change(protocol)
    path = write(tmp_path, protocol)
    assert error_of(path).startswith(f"{path}: ")
    assert message in error_of(path)


def test_yaml_syntax_errors_and_repeated_keys_name_the_line(tmp_path, data):
    path = tmp_path / "p.yaml"
    path.write_text("name: tiny\nmethods: {paint: manual-paint\n")
    assert error_of(path).startswith(f"{path}: YAML syntax error: line 3")
    path.write_text(f"name: tiny\ndata: {data}\nmethods:\n  p: manual-paint\n  p: manual-paint\n")
    assert error_of(path).startswith(f"{path}: YAML syntax error: line 5, column 3: duplicate key 'p'")


def test_refuses_other_files_and_a_top_level_that_is_no_mapping(tmp_path):
    (tmp_path / "p.json").write_text("{}")
    assert "ends in .yaml or .yml" in error_of(tmp_path / "p.json")
    (tmp_path / "p.yaml").write_text("- a\n- b\n")
    assert error_of(tmp_path / "p.yaml") == f"{tmp_path / 'p.yaml'}: expected the protocol (a mapping of name, " \
                                            "data, methods, experiments, ...), got list ['a', 'b']"


def test_defaults_and_relative_paths(tmp_path, data):
    shutil.copytree(data, tmp_path / "cases")
    protocol = base_protocol("cases")
    del protocol["cases"], protocol["seed"], protocol["metrics"]
    protocol["analyses"] = {"sweep": {"methods": ["paint"]}}
    loaded = load_protocol(write(tmp_path, protocol))
    assert loaded.data == tmp_path / "cases" and loaded.source == tmp_path / "p.yaml"
    assert loaded.case_selection == "held-out" and loaded.cases == tuple(CASES)  # no networks: all held out
    assert (loaded.seed, loaded.hd95, loaded.title) == (0, True, "tiny")
    c = loaded.experiments[2]
    assert (c.label, c.mode, c.target_dice, c.method, c.folder) == ("c", "test", None, "manual-paint", "experiments/c")
    (sweep,) = loaded.analyses
    assert sweep.cases == tuple(CASES[:2]) and sweep.k == DEFAULT_KS and DEFAULT_KS[0] == -0.5 and len(DEFAULT_KS) == 11


# ---------------------------------------------------------------- held-out cases and the shipped protocol

def networks(folder: Path) -> None:
    """F and G trained on case 0, DeepIGeoS' P-Net validated on case 1 (its R-Net names it)."""
    (folder / "checkpoints").mkdir()
    split = {"train": [CASES[0]], "validation": []}
    checkpoint(folder / "checkpoints" / "F.pt", split)
    checkpoint(folder / "checkpoints" / "G.pt", split)
    checkpoint(folder / "checkpoints" / "D.pnet.pt", {"train": [], "validation": [CASES[1]]})
    checkpoint(folder / "checkpoints" / "D.pt", split, {"pnet_checkpoint": "D.pnet.pt"})


def test_the_shipped_protocol_loads_on_held_out_cases(tmp_path, data):
    (tmp_path / "data").symlink_to(data)
    networks(tmp_path)
    protocol = load_protocol(shipped_protocol(), relative_to=tmp_path)
    assert protocol.name == "seed-paper-section3"
    assert protocol.cases == tuple(CASES[2:])
    experiments = {e.id: e for e in protocol.experiments}
    assert list(experiments)[:5] == ["a", "b", "c", "d", "e"]
    assert experiments["a"].method == f"base={tmp_path / 'checkpoints' / 'F.pt'}"
    assert (experiments["a"].user, experiments["a"].rounds) == ("none", 0)
    assert (experiments["c"].user, experiments["c"].mode, experiments["c"].rounds) == ("all-tools", "train", 1)
    assert experiments["d"].rounds == 1 and experiments["e"].rounds == 5
    assert experiments["d"].user == experiments["e"].user
    from benchmark.registry import make_user

    assert make_user(experiments["d"].user).max_edits_per_round == 1  # (d): at most one edit
    methods = {e.method.split("=")[0] for e in protocol.experiments}
    assert methods == {"base", "editor", "deepigeos", "manual-paint"}
    assert [a.name for a in protocol.analyses] == ["sweep", "robustness", "panels"]
    analyses = {a.name: a for a in protocol.analyses}
    assert analyses["sweep"].cases == analyses["robustness"].cases == tuple(CASES[2:])
    assert analyses["panels"].worst == (2, "b")  # Fig. 4 where G without edits did worst


def test_held_out_reads_every_network_split_and_refuses_an_empty_selection(tmp_path, data):
    networks(tmp_path)
    ckpt = tmp_path / "checkpoints"
    assert held_out(CASES, ["manual-paint", f"base={ckpt / 'F.pt'}"]) == tuple(CASES[1:])
    assert held_out(CASES, [f"deepigeos={ckpt / 'D.pt'}"]) == tuple(CASES[2:])
    checkpoint(ckpt / "all.pt", {"train": CASES[:3], "validation": CASES[3:]})
    protocol = base_protocol(data)
    protocol.update(cases="held-out", methods={"paint": "manual-paint", "G": "editor=checkpoints/all.pt"})
    path = write(tmp_path, protocol)
    assert error_of(path).startswith(f"{path}: cases: held-out leaves no case: all 4 cases of ")


def test_a_shipped_protocol_name_gets_a_did_you_mean():
    with pytest.raises(ValueError, match="did you mean 'seed-paper'"):
        shipped_protocol("seed-papr")


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
    monkeypatch.setattr("benchmark.protocol._run_analysis", fake)
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
                                        "rounds": 1, "target_dice": None}
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
    assert run_json["seed"] == 3 and run_json["session"] == {"max_rounds": 2, "target_dice": None, "hd95": False}

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

    raw["experiments"][2]["rounds"] = 3
    with pytest.raises(ValueError, match=r"protocol.json: this folder holds the results of a different protocol "
                                         r"\(differs in: experiments\)"):
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
