"""The catalogue of bad input: every entry point refuses it with ONE line that names the
file, key, option or plug-in and says what to do, and nothing is lost.

Each case builds its bad input under ``tmp_path`` and returns the command line plus the
words the error line must hold; the test checks the exit status, that no traceback
escaped and that the error is a single line holding every word.
"""

from __future__ import annotations

import os
import sys

import nibabel as nib
import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from benchmark.cli import main
from tests.benchmark.protocol.helpers import base_protocol, write
from tests.benchmark.test_runner import write_cases
from tests.helpers import ball

SHAPE = (30, 26, 20)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Four tiny BraTS 2018 phantoms, as the protocol tests use."""
    from benchmark.phantoms.synth import synthesize
    from tests.benchmark.protocol.helpers import CASES as NAMES

    root = tmp_path_factory.mktemp("data")
    assert synthesize(root, len(NAMES), (40, 44, 32), 0, "brats2018", 1, progress=False) == NAMES
    return root


LPS = np.diag([-1.0, -1.0, 1.0, 1.0])


def _save(path, array, affine=LPS, dtype=np.uint8):
    nib.save(nib.Nifti1Image(np.asarray(array).astype(dtype), affine), path)
    return str(path)


def _edits(tmp_path, tool="selection", pred=None, label=None, pred_affine=LPS):
    """`simedit edits` on a good label and the given (maybe bad) prediction."""
    label_path = _save(tmp_path / "l.nii.gz", ball(SHAPE, (10, 10, 10), 6) if label is None else label)
    if pred is None:
        pred_path = _save(tmp_path / "p.nii.gz", ball(SHAPE, (10, 10, 10), 4), pred_affine)
    elif isinstance(pred, str):
        pred_path = pred
    else:
        pred_path = _save(tmp_path / "p.nii.gz", pred, pred_affine, np.float32)
    return ["edits", "--prediction", pred_path, "--label", label_path, "--tool", tool]


def _data(tmp_path, n=1):
    write_cases(tmp_path / "data", n=n)
    return tmp_path / "data"


def _run(tmp_path, *extra, method="manual-paint", user="selection", out=None, data=None):
    data = data if data is not None else _data(tmp_path)
    return ["run", "--data", str(data), "--method", method, "--user", user, "--rounds", "1",
            "--out", str(out if out is not None else tmp_path / "out"), "--no-hd95", *extra]


def _results(tmp_path):
    """A small good results folder (one session)."""
    res = CliRunner().invoke(main, _run(tmp_path))
    assert res.exit_code == 0, res.output
    return tmp_path / "out"


def _protocol(tmp_path, data, **changes):
    protocol = base_protocol(data)
    protocol.update(changes)
    return ["run", str(write(tmp_path, protocol)), "--out", str(tmp_path / "out")]


# ---------------------------------------------------------------- simedit edits

def edits_probability_map(tmp_path):
    return _edits(tmp_path, pred=np.full(SHAPE, 0.5)), ["p.nii.gz", "threshold"]


def edits_nan(tmp_path):
    pred = np.where(np.indices(SHAPE)[0] < 5, np.nan, 0.0)
    return _edits(tmp_path, pred=pred), ["p.nii.gz", "nan"]


def edits_4d(tmp_path):
    return _edits(tmp_path, pred=np.zeros((*SHAPE, 2))), ["p.nii.gz", "expected a 3D volume"]


def edits_not_nifti(tmp_path):
    (tmp_path / "p.nii.gz").write_text("not a nifti file")
    return _edits(tmp_path, pred=str(tmp_path / "p.nii.gz")), ["p.nii.gz"]


def edits_shapes_differ(tmp_path):
    return _edits(tmp_path, pred=np.zeros((4, 4, 4))), ["p.nii.gz", "shape"]


def edits_affines_differ(tmp_path):
    return _edits(tmp_path, pred_affine=np.diag([2.0, 2.0, 2.0, 1.0])), ["p.nii.gz", "affine"]


def edits_unknown_tool(tmp_path):
    return _edits(tmp_path, tool="brsh"), ["'brsh'", "did you mean 'brush'"]


def edits_bad_user_option(tmp_path):
    return _edits(tmp_path, tool="multi:target_dcie=0.9"), ["target_dcie", "target_dice"]


def edits_negative_jitter(tmp_path):
    return _edits(tmp_path, tool="multi:jitter_mm=-1"), ["jitter_mm"]


def edits_unknown_jitter_law(tmp_path):
    return _edits(tmp_path, tool="multi:jitter=cauchy"), ["jitter", "cauchy"]


# ------------------------------------------------------------------ simedit run

def run_no_cases(tmp_path):
    (tmp_path / "empty").mkdir()
    return _run(tmp_path, data=tmp_path / "empty"), ["empty"]


def run_unknown_method(tmp_path):
    return _run(tmp_path, method="manual-pant"), ["manual-pant", "did you mean 'manual-paint'"]


def run_missing_checkpoint(tmp_path):
    return _run(tmp_path, method="editor=nope.pt"), ["nope.pt"]


def run_checkpoint_not_torch(tmp_path):
    (tmp_path / "junk.pt").write_bytes(b"\x00garbage, not a checkpoint" * 10)
    return _run(tmp_path, method=f"editor={tmp_path / 'junk.pt'}"), ["junk.pt"]


def run_checkpoint_of_another_kind(tmp_path):
    from tests.benchmark.protocol.helpers import checkpoint

    path = checkpoint(tmp_path / "f.pt", {"train": ["a"], "validation": ["b"]})
    return _run(tmp_path, method=f"editor={path}"), ["f.pt"]


def run_missing_case(tmp_path):
    return _run(tmp_path, "--case", "BraTS2021_09999"), ["BraTS2021_09999"]


def run_case_outside(tmp_path):
    return _run(tmp_path, "--case", "../x"), ["../x"]


def run_edited_rounds_header(tmp_path):
    out = _results(tmp_path)
    rounds = out / "rounds.csv"
    header, _, rest = rounds.read_text().partition("\n")
    rounds.write_text(header.replace("dice", "dcie", 1) + "\n" + rest)
    return _run(tmp_path, out=out, data=tmp_path / "data"), ["rounds.csv"]


def run_out_is_a_file(tmp_path):
    (tmp_path / "out").write_text("a file")
    return _run(tmp_path), ["out"]


def run_out_read_only(tmp_path):
    (tmp_path / "ro").mkdir()
    os.chmod(tmp_path / "ro", 0o555)
    if os.access(tmp_path / "ro", os.W_OK):
        pytest.skip("running as root: a read-only folder stays writable")
    return _run(tmp_path, out=tmp_path / "ro"), ["ro"]


def run_effort_unknown_key(tmp_path):
    return _run(tmp_path, "--effort", "clicks=1"), ["--effort", "clicks"]


def run_effort_negative(tmp_path):
    return _run(tmp_path, "--effort", "click_s=-2"), ["--effort", "click_s"]


def run_repeats_zero(tmp_path):
    return _run(tmp_path, "--repeats", "0"), ["--repeats"]


def run_user_option_wrong_type(tmp_path):
    return _run(tmp_path, user="multi:target_dice=high"), ["user 'multi'", "target_dice='high'"]


def run_protocol_with_repeats_flag(tmp_path):
    (tmp_path / "p.yaml").write_text("name: x\n")
    return ["run", str(tmp_path / "p.yaml"), "--repeats", "2"], ["--repeats", "protocol"]


# --------------------------------------------------------------- simedit report

def report_not_results(tmp_path):
    (tmp_path / "stuff").mkdir()
    (tmp_path / "stuff" / "notes.txt").write_text("hello")
    return ["report", str(tmp_path / "stuff")], ["stuff"]


def report_protocol_json_broken(tmp_path):
    out = _results(tmp_path)
    (out / "protocol.json").write_text("{not json")
    return ["report", str(out), "--out", str(tmp_path / "rep")], ["protocol.json"]


def report_unknown_reference(tmp_path):
    out = _results(tmp_path)
    return ["report", str(out), "--out", str(tmp_path / "rep"), "--reference", "nosuch"], \
        ["--reference", "unknown experiment 'nosuch'"]


def report_dice_target_out_of_range(tmp_path):
    out = _results(tmp_path)
    return ["report", str(out), "--dice-target", "1.5"], ["--dice-target", "1.5"]


# ---------------------------------------------------------- simedit train/replay

def train_missing_data(tmp_path):
    return ["train", "base", "--data", str(tmp_path / "nodata"), "--out", str(tmp_path / "f.pt")], ["nodata"]


def train_no_cases(tmp_path):
    (tmp_path / "empty").mkdir()
    return ["train", "base", "--data", str(tmp_path / "empty"), "--out", str(tmp_path / "f.pt")], ["empty"]


def train_unknown_case(tmp_path):
    data = _data(tmp_path, n=1)
    return ["train", "base", "--data", str(data), "--out", str(tmp_path / "f.pt"), "--case", "BraTS2021_07777"], \
        ["BraTS2021_07777"]


def replay_no_run_json(tmp_path):
    (tmp_path / "session").mkdir()
    return ["replay", str(tmp_path / "session")], ["run.json"]


# --------------------------------------------------------------- protocol files

def protocol_yaml_syntax(tmp_path):
    (tmp_path / "p.yaml").write_text("name: tiny\nmethods: [paint\n")
    return ["run", str(tmp_path / "p.yaml")], ["p.yaml", "YAML syntax error", "line"]


def protocol_repeated_key(tmp_path):
    (tmp_path / "p.yaml").write_text("name: tiny\nname: other\n")
    return ["run", str(tmp_path / "p.yaml")], ["p.yaml", "duplicate key 'name'"]


def _protocol_text(tmp_path, data, replace):
    """The base protocol's YAML with one line replaced by hand (for what yaml.dump does not write)."""
    text = yaml.safe_dump(base_protocol(data), sort_keys=False)
    for old, new in replace.items():
        assert old in text
        text = text.replace(old, new)
    (tmp_path / "p.yaml").write_text(text)
    return ["run", str(tmp_path / "p.yaml"), "--out", str(tmp_path / "out")]


def protocol_alias_self_reference(tmp_path, data):
    # a mapping that holds itself: PyYAML builds the loop; the checks must refuse it, not recurse
    args = _protocol_text(tmp_path, data, {"methods:\n  paint: manual-paint": "methods: &m\n  paint: *m"})
    return args, ["p.yaml", "methods.paint"]


def protocol_alias_bomb(tmp_path, data):
    # "billion laughs" inside a value: 10^9 strings by reference; refuse it, do not walk or print it
    bomb = ", ".join(["&b0 [x, x]"] + [f"&b{i} [{', '.join([f'*b{i - 1}'] * 10)}]" for i in range(1, 10)])
    args = _protocol_text(tmp_path, data, {"cases:\n- Brats18_SIM_000_1\n- Brats18_SIM_001_1": f"cases: [[{bomb}]]"})
    return args, ["p.yaml", "cases[0]", "expected a case id"]


def protocol_alias_bomb_in_title(tmp_path, data):
    bomb = ", ".join(["&b0 [x, x]"] + [f"&b{i} [{', '.join([f'*b{i - 1}'] * 10)}]" for i in range(1, 10)])
    args = _protocol_text(tmp_path, data, {"name: tiny": f"name: tiny\ntitle: [{bomb}]"})
    return args, ["p.yaml", "title", "expected a non-empty string"]


def protocol_huge_file(tmp_path):
    with open(tmp_path / "p.yaml", "w") as f:
        f.write("name: tiny\n")
        f.write(("# " + "x" * 98 + "\n") * 55_000)  # 5.5 MB of comment
    return ["run", str(tmp_path / "p.yaml")], ["p.yaml", "MB"]


def protocol_unknown_realism_knob(tmp_path, data):
    return _protocol(tmp_path, data, realism={"jiter_mm": 1}), ["p.yaml", "realism", "jiter_mm"]


def protocol_repeats_zero(tmp_path, data):
    return _protocol(tmp_path, data, repeats=0), ["p.yaml", "repeats"]


def protocol_not_yaml_suffix(tmp_path):
    (tmp_path / "p.txt").write_text("name: tiny\n")
    return ["run", str(tmp_path / "p.txt")], ["p.txt", ".yaml"]


# ------------------------------------------------------------ plug-in specs

def plugin_missing_module(tmp_path):
    return _run(tmp_path, method="mylab_nope_xyz:Thing"), ["mylab_nope_xyz", "no module"]


def plugin_missing_attribute(tmp_path):
    (tmp_path / "mylab_badinput.py").write_text("def make(context):\n    raise RuntimeError('boom')\n")
    return _run(tmp_path, method="mylab_badinput:Mak"), ["mylab_badinput:Mak", "Mak"]


def plugin_factory_raises(tmp_path):
    (tmp_path / "mylab_badinput.py").write_text("def make(context):\n    raise RuntimeError('boom')\n")
    return _run(tmp_path, method="mylab_badinput:make"), ["mylab_badinput:make", "boom"]


def plugin_user_missing_module(tmp_path):
    return _edits(tmp_path, tool="mylab_nope_xyz:User"), ["mylab_nope_xyz", "no module"]


CASES = [
    edits_probability_map, edits_nan, edits_4d, edits_not_nifti, edits_shapes_differ, edits_affines_differ,
    edits_unknown_tool, edits_bad_user_option, edits_negative_jitter, edits_unknown_jitter_law,
    run_no_cases, run_unknown_method, run_missing_checkpoint, run_checkpoint_not_torch,
    run_checkpoint_of_another_kind, run_missing_case, run_case_outside, run_edited_rounds_header,
    run_out_is_a_file, run_out_read_only, run_effort_unknown_key, run_effort_negative, run_repeats_zero,
    run_user_option_wrong_type, run_protocol_with_repeats_flag,
    report_not_results, report_protocol_json_broken, report_unknown_reference, report_dice_target_out_of_range,
    train_missing_data, train_no_cases, train_unknown_case, replay_no_run_json,
    protocol_yaml_syntax, protocol_repeated_key, protocol_alias_self_reference, protocol_alias_bomb, protocol_alias_bomb_in_title,
    protocol_huge_file, protocol_unknown_realism_knob, protocol_repeats_zero, protocol_not_yaml_suffix,
    plugin_missing_module, plugin_missing_attribute, plugin_factory_raises, plugin_user_missing_module,
]


@pytest.mark.parametrize("case", CASES, ids=[c.__name__ for c in CASES])
def test_bad_input_gets_one_line_that_names_it(case, tmp_path, request, monkeypatch):
    monkeypatch.chdir(tmp_path)  # plug-in modules written here import; relative paths resolve here
    monkeypatch.syspath_prepend(str(tmp_path))
    if "data" in case.__code__.co_varnames[: case.__code__.co_argcount]:
        args, words = case(tmp_path, request.getfixturevalue("data"))
    else:
        args, words = case(tmp_path)
    try:
        res = CliRunner().invoke(main, args)
    finally:
        sys.modules.pop("mylab_badinput", None)
        for p in tmp_path.iterdir():
            if p.is_dir():
                os.chmod(p, 0o755)
    assert res.exit_code != 0, res.output
    assert isinstance(res.exception, SystemExit), repr(res.exception)  # not an escaped exception
    assert "Traceback" not in res.output, res.output
    # a bad option or file: click's "Error: ..." line; a session that cannot start (a method or
    # user its factory refuses): the run's "failed: ..." line, and exit 1 when no session ran
    errors = [line for line in res.output.splitlines() if line.startswith("Error:") or line.lstrip().startswith("failed:")]
    assert len(errors) == 1, res.output
    (error,) = errors
    after = res.output.split(error, 1)[1]
    assert not after.strip(), f"the error goes on past its line:\n{res.output}"
    assert len(error) < 4000, error[:300]  # a bounded message, whatever the input held
    for word in words:
        assert word in error, f"{word!r} not in {error!r}"
