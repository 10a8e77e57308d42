"""The example plug-in package, as a lab would use it: pip-installed (entry points) and
by import path without installing, through the CLI and a protocol, in fresh processes."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from benchmark.io import discover
from benchmark.results import read_rounds

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "simedit-example-plugin"
SIMEDIT = Path(sys.executable).with_name("simedit")

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not SIMEDIT.exists(), reason="needs simedit installed in this environment")]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The example package installed with pip into a folder of its own (real entry points)."""
    site = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--target", str(site), str(EXAMPLE)], check=True, capture_output=True)
    return site


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    from benchmark.phantoms.synth import synthesize

    out = tmp_path_factory.mktemp("data")
    synthesize(out, 3, (48, 48, 32), 0, "brats2018")
    return out


def simedit(*args: str, cwd: Path, pythonpath: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run([str(SIMEDIT), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def first_prediction(flair: np.ndarray, z: float) -> np.ndarray:
    """Independent of the plug-in: the largest 6-connected FLAIR region above z."""
    regions, n = ndimage.label(flair > z)
    return regions == 1 + np.argmax(np.bincount(regions.ravel())[1:])


def test_an_installed_plugin_runs_through_the_cli_and_a_protocol(installed, data, tmp_path):
    listed = simedit("methods", "bright", cwd=tmp_path, pythonpath=installed)
    assert listed.returncode == 0 and "simedit-example-plugin 0.1.0" in listed.stdout
    assert "FLAIR-bright regions" in listed.stdout and "tools: selection" in listed.stdout
    users = simedit("users", cwd=tmp_path, pythonpath=installed)
    assert "sloppy  [simedit-example-plugin 0.1.0: simedit_example.users:Sloppy]" in users.stdout

    out = tmp_path / "run"
    res = simedit("run", "--data", str(data), "--method", "bright[z=1.5]", "--user", "sloppy:jitter_mm=1",
                  "--rounds", "2", "--no-hd95", "--out", str(out), cwd=tmp_path, pythonpath=installed)
    assert res.returncode == 0, res.stderr
    rounds = read_rounds(out)
    assert set(rounds.method) == {"bright-regions:z=1.5"} and set(rounds.user) == {"sloppy:jitter_mm=1"}
    assert len(set(rounds.case)) == 3 and (rounds.n_edits > 0).any()
    for ref in discover(data):
        case = ref.load()
        expected = first_prediction(case.channel("flair"), 1.5)
        dice = 2 * (expected & case.label).sum() / (expected.sum() + case.label.sum())
        row = rounds[(rounds.case == case.case_id) & (rounds["round"] == 0)]
        assert row.dice.item() == pytest.approx(dice)
    plugins = json.loads((out / "run.json").read_text())["plugins"]
    assert plugins["methods"]["bright[z=1.5]"] == {"target": "simedit_example.methods:make",
                                                   "distribution": "simedit-example-plugin", "version": "0.1.0"}

    (tmp_path / "p.yaml").write_text(textwrap.dedent(f"""
        name: example
        data: {data}
        cases: all
        metrics: {{hd95: false}}
        methods: {{mine: "bright[z=1.5]"}}
        experiments:
          - {{id: a, method: mine, user: "sloppy:jitter_mm=1", rounds: 2}}
          - {{id: b, method: mine, user: none, rounds: 0}}
    """))
    res = simedit("run", "p.yaml", "--out", str(tmp_path / "protocol"), cwd=tmp_path, pythonpath=installed)
    assert res.returncode == 0, res.stderr
    protocol_rounds = read_rounds(tmp_path / "protocol" / "experiments" / "a")
    assert protocol_rounds.sort_values(["case", "round"]).dice.tolist() == rounds.sort_values(["case", "round"]).dice.tolist()


def test_the_same_plugin_by_import_path_without_installing(data, tmp_path):
    out = tmp_path / "run"
    res = simedit("run", "--data", str(data), "--method", "simedit_example.methods:make[z=1.5]",
                  "--user", "simedit_example.users:Sloppy:jitter_mm=0", "--rounds", "2", "--no-hd95",
                  "--out", str(out), cwd=EXAMPLE)  # importable from the current folder
    assert res.returncode == 0, res.stderr
    rounds = read_rounds(out)
    assert set(rounds.method) == {"bright-regions:z=1.5"} and (rounds.n_edits > 0).any()
    record = json.loads((out / "run.json").read_text())["plugins"]["methods"]["simedit_example.methods:make[z=1.5]"]
    assert record["file"] == str(EXAMPLE / "simedit_example" / "methods.py") and len(record["sha256"]) == 64

    wrong = simedit("run", "--data", str(data), "--method", "simedit_example.methods:mak", "--user", "none",
                    "--out", str(tmp_path / "x"), cwd=EXAMPLE)
    assert wrong.returncode == 1 and "has no attribute 'mak'; did you mean 'make'?" in wrong.stderr
    elsewhere = simedit("run", "--data", str(data), "--method", "simedit_example.methods:make", "--user", "none",
                        "--out", str(tmp_path / "y"), cwd=tmp_path)
    assert elsewhere.returncode == 1 and "no module named 'simedit_example'" in elsewhere.stderr
