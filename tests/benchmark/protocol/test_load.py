"""Loading protocol files: every validation error names the file and key path; held-out
cases and the shipped protocol."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from benchmark.effort import EffortModel
from benchmark.protocol import (
    DEFAULT_KS,
    held_out,
    load_protocol,
    run_config,
    shipped_protocol,
)
from tests.benchmark.protocol.helpers import CASES, base_protocol, checkpoint, write


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
    (_set("metrics", {"locality_mm": -1}), "metrics.locality_mm: expected the locality radius in mm"),
    (_set("effort", {"clik_s": 2}), "effort: unknown key 'clik_s'; the effort model has click_s"),
    (_set("effort", {"click_s": "fast"}), "effort: click_s must be a number of seconds >= 0"),
    (_set("effort", [1, 2]), "effort: expected {click_s: 2.4"),
    (_set("save_masks", "yes"), "save_masks: expected true or false"),
    (_set("repeats", 0), "repeats: expected the sessions per case and user, an integer >= 1"),
    (_set("experiments.1.repeats", 2.5), "experiments[1].repeats: expected the sessions per case and user"),
    (_set("realism", {"jiter_mm": 2}), "realism: unknown realism knob 'jiter_mm'; did you mean 'jitter_mm'?"),
    (_set("realism", {"slip": 3}), "experiments[0].user: user 'none:slip=3': slip must be a probability"),
    (_set("experiments.2.realism", {"target_dice": 0.5}), "experiments[2].realism: unknown realism knob 'target_dice'"),
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


def test_effort_save_masks_and_locality_reach_every_experiment(tmp_path, data):
    protocol = base_protocol(data)
    protocol.update(effort={"click_s": 1.5, "slice_step_s": 0}, save_masks=True)
    protocol["metrics"]["locality_mm"] = 4
    loaded = load_protocol(write(tmp_path, protocol))
    assert loaded.effort == EffortModel(click_s=1.5, slice_step_s=0.0) and loaded.locality_mm == 4.0
    config = run_config(loaded, loaded.experiments[1], tmp_path / "out")
    assert config.session.effort == loaded.effort and config.session.locality_mm == 4.0 and config.save_masks


def test_a_realism_block_adds_its_knobs_to_every_users_spec(tmp_path, data):
    protocol = base_protocol(data)
    protocol["realism"] = {"jitter_mm": "0..3", "slip": 0.1}
    protocol["experiments"][2]["realism"] = {"slip": 0.2, "k_step": 0.05}
    protocol["experiments"][2]["user"] = "box then multi"
    loaded = load_protocol(write(tmp_path, protocol))
    assert [e.user for e in loaded.experiments] == [
        "none:jitter_mm=0..3,slip=0.1", "multi:target_dice=0.99,jitter_mm=0..3,slip=0.1",
        "box:jitter_mm=0..3,slip=0.2,k_step=0.05 then multi:jitter_mm=0..3,slip=0.2,k_step=0.05"]
    clash = base_protocol(data)
    clash["experiments"][1]["user"] = "multi:jitter_mm=1"
    clash["realism"] = {"jitter_mm": 2}
    assert "realism: jitter_mm is set both in the user spec" in error_of(write(tmp_path, clash))


def test_repeats_default_to_the_top_level_and_more_of_them_continue_a_folder(tmp_path, data):
    from benchmark.protocol import protocol_changes, write_protocol_record

    protocol = base_protocol(data)
    protocol["repeats"] = 3
    protocol["experiments"][2]["repeats"] = 5
    loaded = load_protocol(write(tmp_path, protocol))
    assert [e.repeats for e in loaded.experiments] == [3, 3, 5]
    assert run_config(loaded, loaded.experiments[2], tmp_path / "out").repeats == 5
    write_protocol_record(loaded, tmp_path / "out")
    protocol["repeats"] = 10
    assert protocol_changes(load_protocol(write(tmp_path, protocol)), tmp_path / "out") == []
    protocol["seed"] = 4
    assert protocol_changes(load_protocol(write(tmp_path, protocol)), tmp_path / "out") == ["seed"]


def test_defaults_and_relative_paths(tmp_path, data):
    shutil.copytree(data, tmp_path / "cases")
    protocol = base_protocol("cases")
    del protocol["cases"], protocol["seed"], protocol["metrics"]
    protocol["analyses"] = {"sweep": {"methods": ["paint"]}}
    loaded = load_protocol(write(tmp_path, protocol))
    assert loaded.data == tmp_path / "cases" and loaded.source == tmp_path / "p.yaml"
    assert loaded.case_selection == "held-out" and loaded.cases == tuple(CASES)  # no networks: all held out
    assert (loaded.seed, loaded.hd95, loaded.title) == (0, True, "tiny")
    assert (loaded.locality_mm, loaded.effort, loaded.save_masks) == (10.0, EffortModel(), False)
    assert {e.repeats for e in loaded.experiments} == {1}
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

