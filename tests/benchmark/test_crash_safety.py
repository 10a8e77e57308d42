"""A run killed with SIGKILL at any write, resumed, ends with the tables of a run never killed.

Each kill point is deterministic: the run's k-th append to a results file is cut off
before it starts or halfway through its text (a line cut short), and the process gets
SIGKILL there (a wrapper around ``benchmark.results._append``; nothing in simedit knows of
it). Every folder is killed several times in a row, resumed each time, then run to the
end; its rounds, sessions and edits must equal an uninterrupted run's row for row
(timing columns aside), with no line twice in any file. The same for a protocol killed
during its experiments (whose analysis then runs as in an uninterrupted protocol).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from benchmark.results import read_edits, read_rounds, read_sessions
from tests.benchmark.test_runner import write_cases

pytestmark = pytest.mark.slow

KILLER = textwrap.dedent('''
    import os, signal, sys
    import benchmark.results as results
    limit, half = int(os.environ["KILL_AT"]), os.environ["KILL_HALF"] == "1"
    count, original = 0, results._append
    def append(path, text):
        global count
        count += 1
        if count == limit:
            if half:
                with open(path, "a", encoding="utf-8") as f:
                    f.write(text[: max(1, len(text) // 2)])
            os.kill(os.getpid(), signal.SIGKILL)
        original(path, text)
    results._append = append
    from benchmark.cli import main
    main(sys.argv[1:])
''')
TIMING = ["user_ms", "model_ms", "forward_ms", "wall_s", "run_sha"]
#: (k-th append, cut halfway) per kill, for each folder: 24 kill points in all, inside
#: sessions (between a session's rounds, edits and session row) and between sessions.
CHAINS = [
    [(1, False), (3, True), (2, False), (4, True), (5, False), (2, True)],
    [(3, False), (4, False), (6, True), (1, True), (7, False), (3, True)],
    [(2, True), (5, True), (8, False), (2, False), (4, False), (6, False)],
    [(6, False), (1, False), (9, True), (3, False), (5, True), (4, True)],
]


def command(data: Path, out: Path) -> list[str]:
    return ["run", "--data", str(data), "--method", "manual-paint", "--user", "multi", "--user",
            "selection:jitter_mm=1", "--rounds", "3", "--no-hd95", "--out", str(out)]


def tables(out: Path):
    rounds = read_rounds(out).drop(columns=TIMING, errors="ignore")
    sessions = read_sessions(out).drop(columns=TIMING, errors="ignore")
    key = ["case", "method", "user", "user_seed"]
    return (rounds.sort_values(key + ["round"]).reset_index(drop=True),
            sessions.sort_values(key).reset_index(drop=True),
            sorted(map(str, read_edits(out))))


def no_line_twice(out: Path) -> None:
    for name in ("rounds.csv", "sessions.csv", "edits.jsonl"):
        lines = (out / name).read_text().splitlines()
        assert len(lines) == len(set(lines)), f"{name} has a line twice"


def test_sigkill_at_24_write_points_then_resume_gives_the_uninterrupted_tables(tmp_path):
    write_cases(tmp_path / "data", n=3)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[2]), os.environ.get("PYTHONPATH", "")])}
    reference = tmp_path / "reference"
    done = subprocess.run([sys.executable, "-c", KILLER, *command(tmp_path / "data", reference)], capture_output=True,
                          text=True, env={**env, "KILL_AT": "0", "KILL_HALF": "0"})
    assert done.returncode == 0, done.stderr
    expected = tables(reference)
    assert len(expected[1]) == 6 and (expected[1].status == "ok").all()
    kills = 0
    for i, chain in enumerate(CHAINS):
        out = tmp_path / f"killed{i}"
        for k, half in chain:
            killed = subprocess.run([sys.executable, "-c", KILLER, *command(tmp_path / "data", out)],
                                    capture_output=True, text=True,
                                    env={**env, "KILL_AT": str(k), "KILL_HALF": "1" if half else "0"})
            if killed.returncode == -signal.SIGKILL:
                kills += 1
            else:  # the run had fewer writes left than k: it finished
                assert killed.returncode == 0, killed.stderr
        final = subprocess.run([sys.executable, "-c", KILLER, *command(tmp_path / "data", out)], capture_output=True,
                               text=True, env={**env, "KILL_AT": "0", "KILL_HALF": "0"})
        assert final.returncode == 0, final.stderr
        got = tables(out)
        assert got[0].equals(expected[0]) and got[1].equals(expected[1]) and got[2] == expected[2]
        no_line_twice(out)
        shutil.rmtree(out)
    assert kills >= 20


def test_a_protocol_killed_during_its_experiments_resumes_to_the_uninterrupted_folders(tmp_path):
    import yaml

    write_cases(tmp_path / "data", n=2)
    protocol = {"name": "killed", "data": str(tmp_path / "data"), "cases": "all", "seed": 1,
                "metrics": {"hd95": False}, "methods": {"paint": "manual-paint"},
                "experiments": [{"id": "a", "method": "paint", "user": "multi", "rounds": 2},
                                {"id": "b", "method": "paint", "user": "selection:jitter_mm=1", "rounds": 2,
                                 "repeats": 2}],
                "analyses": {"sweep": {"methods": ["paint"], "cases": 1, "k": [-0.2, 0.2]}}}
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(protocol))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[2]), os.environ.get("PYTHONPATH", "")])}

    def simedit(out, k=0, half=False):
        return subprocess.run([sys.executable, "-c", KILLER, "run", str(path), "--out", str(out)], capture_output=True,
                              text=True, env={**env, "KILL_AT": str(k), "KILL_HALF": "1" if half else "0"})

    done = simedit(tmp_path / "reference")
    assert done.returncode == 0, done.stderr
    kills = 0
    for k, half in [(2, False), (4, True), (3, False), (5, True), (1, True), (6, False)]:
        killed = simedit(tmp_path / "killed", k, half)
        kills += killed.returncode == -signal.SIGKILL
    final = simedit(tmp_path / "killed")
    assert final.returncode == 0, final.stderr
    for e in ("a", "b"):
        got, expected = tables(tmp_path / "killed" / "experiments" / e), tables(tmp_path / "reference" / "experiments" / e)
        assert got[0].equals(expected[0]) and got[1].equals(expected[1]) and got[2] == expected[2]
        no_line_twice(tmp_path / "killed" / "experiments" / e)
    assert (tmp_path / "killed" / "analyses" / "sweep.csv").read_bytes() == \
        (tmp_path / "reference" / "analyses" / "sweep.csv").read_bytes()
    assert kills >= 5
