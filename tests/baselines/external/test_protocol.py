"""A challenge submission in a protocol, as a lab writes one: the script beside the
protocol file, run as `cvpr25=python predict.py {inputs} {outputs}`; broken programs
fail their experiments' sessions alone, with their method and stderr in the error."""

import os
import shutil
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from benchmark.cli import main
from benchmark.results import read_rounds, read_sessions
from tests.baselines.external.helpers import PROGRAMS, REFERENCE
from tests.baselines.external.test_runner import write_cases


@pytest.mark.slow
def test_a_challenge_script_and_broken_programs_in_one_protocol(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")  # `python`
    write_cases(tmp_path / "data")
    lab = tmp_path / "lab"
    lab.mkdir()
    shutil.copy(REFERENCE / "paint_clicks_cvpr25.py", lab / "predict.py")
    shutil.copy(PROGRAMS / "misbehave.py", lab / "misbehave.py")
    (lab / "p.yaml").write_text(textwrap.dedent(f"""
        name: challenge
        data: {tmp_path / 'data'}
        cases: all
        metrics: {{hd95: false}}
        methods:
          team: "cvpr25=python predict.py {{inputs}} {{outputs}}"
          crash: "cvpr25=python misbehave.py crash {{inputs}} {{outputs}}"
          hang: "cvpr25[timeout_s=1]=python misbehave.py hang {{inputs}} {{outputs}} pids.txt"
          shape: "process=python misbehave.py wrong-shape {{inputs}} {{outputs}}"
          paint: manual-paint
        experiments:
          - {{id: team, method: team, user: cvpr25, rounds: 3}}
          - {{id: crash, method: crash, user: cvpr25, rounds: 3}}
          - {{id: hang, method: hang, user: cvpr25, rounds: 3}}
          - {{id: shape, method: shape, user: ritm, rounds: 1}}
          - {{id: paint, method: paint, user: cvpr25, rounds: 3}}
    """))
    monkeypatch.chdir(tmp_path)  # the programs run in the protocol's folder, not here
    res = CliRunner().invoke(main, ["run", str(lab / "p.yaml"), "--out", str(tmp_path / "out")])
    out = tmp_path / "out" / "experiments"
    assert res.exit_code == 1  # experiments whose every session failed
    team = read_rounds(out / "team")
    assert set(read_sessions(out / "team").status) == {"ok"} and team["round"].max() == 3
    assert team.method.str.startswith("cvpr25:predict-").all()
    # round 0 runs nothing (no prompt yet: an empty mask); then the clicks paint balls of tumour
    assert (team[team["round"] == 0].dice == 0).all() and (team[team["round"] > 0].dice > 0).all()
    assert set(read_sessions(out / "paint").status) == {"ok"}
    crash = read_sessions(out / "crash")
    assert set(crash.status) == {"failed"}
    assert crash.error.str.contains(r"method 'cvpr25:misbehave-\w+': command `python misbehave.py crash").all()
    assert crash.error.str.contains("exited with code 3").all()
    assert crash.error.str.endswith("ValueError: boom: the weights are missing").all()
    hang = read_sessions(out / "hang")  # killed at its limit every round: recorded, and the session goes on
    assert set(hang.status) == {"ok"} and (hang.wall_s < 20).all() and (lab / "pids.txt").exists()  # ran there
    hung = read_rounds(out / "hang")
    assert hung.groupby("round").timed_out.agg(set).to_dict() == {0: {0}, 1: {1}, 2: {1}, 3: {1}}  # round 0 runs nothing
    assert (hung.dice == 0).all()  # the empty first mask stands in for every killed call (on_timeout: keep)
    shape = read_sessions(out / "shape")
    assert shape.error.str.contains(r"wrote segmentation.nii.gz of shape \(33, 31, 25\)").all()
    assert "experiment crash: " in res.stderr and "stderr: " in res.stderr
