"""A run killed with SIGKILL at any write, resumed, ends with the tables of a run never killed.

Each kill point is deterministic: the run's k-th append to a results file is cut off
before it starts or halfway through its text (a line cut short), and the process gets
SIGKILL there (a wrapper around ``benchmark.results._append``; nothing in simedit knows of
it). Every folder is killed several times in a row, resumed each time, then run to the
end; its rounds, sessions and edits must equal an uninterrupted run's row for row
(timing columns aside), with no line twice in any file. The same for a protocol killed
during its experiments (whose analysis then runs as in an uninterrupted protocol), and
for one killed inside its analyses: between cases, halfway through writing each of an
analysis' files (its partial file cut to half, not yet renamed), between its files, and
before and after recording it as complete; its analyses folder then ends file for file
as an uninterrupted protocol's, with no partial file left.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import yaml

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
#: The k-th event inside the analyses gets SIGKILL: a file of OUT/analyses written halfway
#: (its partial file cut to half, before the rename) or just renamed; or an analysis
#: about to collect a case x method's result (``driver.Collected.add``).
ANALYSIS_KILLER = textwrap.dedent('''
    import os, signal, sys
    from pathlib import Path
    import benchmark.analyses.driver as driver
    limit, count, replace, add = int(os.environ["KILL_AT"]), 0, os.replace, driver.Collected.add
    def event():
        global count
        count += 1
        if count == limit:
            os.kill(os.getpid(), signal.SIGKILL)
    def replace_in_analyses(src, dst, *args, **kwargs):
        if Path(dst).parent.name == "analyses":
            if count + 1 == limit:
                with open(src, "r+b") as f:
                    f.truncate(os.path.getsize(src) // 2)
            event()
            replace(src, dst, *args, **kwargs)
            event()
        else:
            replace(src, dst, *args, **kwargs)
    def add_after_event(self, *args):
        event()
        add(self, *args)
    os.replace, driver.Collected.add = replace_in_analyses, add_after_event
    from benchmark.cli import main
    main(sys.argv[1:])
''')
#: Kills of one protocol folder inside its analyses, each resuming the one before, and the
#: analyses recorded complete after each. Each run counts its own events; per analysis
#: (panels, robustness, sweep, in that order; two cases, one method) they are: 1, 2 its
#: cases; 3/4 slices .npz halfway/renamed; 5/6 status CSV; 7/8 result CSV; 9/10 completed.json.
ANALYSIS_KILLS = [
    (1, set()), (2, set()),  # panels: before its first case's result, between its cases
    (3, set()), (4, set()),  # panels' .npz halfway; then written, its CSVs not
    (5, set()), (8, set()),  # its status CSV halfway; all three files written, not recorded
    (9, set()), (10, {"panels"}),  # completed.json halfway; panels recorded, robustness not begun
    (6, {"panels"}), (7, {"panels"}),  # robustness between its CSVs; its result CSV halfway
    (12, {"panels", "robustness"}),  # robustness done in that run, sweep between its cases
    (9, {"panels", "robustness"}),  # sweep's completed.json halfway
]
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


def environment(**kill: str) -> dict[str, str]:
    """This process' environment, simedit importable, with the killer's settings."""
    return {**os.environ, **kill,
            "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[2]), os.environ.get("PYTHONPATH", "")])}


def protocol_file(tmp_path: Path, experiments: list[dict], analyses: dict) -> Path:
    """A protocol of manual-paint ("paint") on two cases, written to tmp_path/p.yaml."""
    write_cases(tmp_path / "data", n=2)
    protocol = {"name": "killed", "data": str(tmp_path / "data"), "cases": "all", "seed": 1,
                "metrics": {"hd95": False}, "methods": {"paint": "manual-paint"}, "experiments": experiments,
                "analyses": analyses}
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(protocol))
    return path


def no_line_twice(out: Path) -> None:
    for name in ("rounds.csv", "sessions.csv", "edits.jsonl"):
        lines = (out / name).read_text().splitlines()
        assert len(lines) == len(set(lines)), f"{name} has a line twice"


def test_sigkill_at_24_write_points_then_resume_gives_the_uninterrupted_tables(tmp_path):
    write_cases(tmp_path / "data", n=3)
    env = environment()
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
    path = protocol_file(tmp_path, [{"id": "a", "method": "paint", "user": "multi", "rounds": 2},
                                    {"id": "b", "method": "paint", "user": "selection:jitter_mm=1", "rounds": 2,
                                     "repeats": 2}],
                         {"sweep": {"methods": ["paint"], "cases": 1, "k": [-0.2, 0.2]}})
    env = environment()

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


def analysis_files(out: Path) -> dict[str, object]:
    """Every file in OUT/analyses, hidden ones too, by name: a CSV's lines, an .npz's arrays,
    completed.json without its finish times."""
    files: dict[str, object] = {}
    for path in sorted((out / "analyses").iterdir()):
        if path.suffix == ".npz":
            with np.load(path) as arrays:
                files[path.name] = {key: arrays[key] for key in arrays.files}
        elif path.name == "completed.json":
            files[path.name] = {name: {k: v for k, v in entry.items() if k != "finished"}
                                for name, entry in json.loads(path.read_text()).items()}
        else:
            files[path.name] = path.read_text().splitlines()
    return files


def test_a_protocol_killed_inside_its_analyses_resumes_to_the_uninterrupted_analyses(tmp_path):
    path = protocol_file(tmp_path, [{"id": "a", "method": "paint", "user": "multi", "rounds": 1}],
                         {"panels": {"methods": ["paint"], "cases": 2}, "robustness": {"methods": ["paint"], "cases": 2},
                          "sweep": {"methods": ["paint"], "cases": 2, "k": [-0.2, 0.2]}})

    def simedit(out, k=0):
        return subprocess.run([sys.executable, "-c", ANALYSIS_KILLER, "run", str(path), "--out", str(out)],
                              capture_output=True, text=True, env=environment(KILL_AT=str(k)))

    done = simedit(tmp_path / "reference")
    assert done.returncode == 0, done.stderr
    expected = analysis_files(tmp_path / "reference")
    assert set(expected) == {"completed.json"} | {f"{a}{end}" for a in ("panels", "robustness", "sweep")
                                                  for end in (".csv", "_slices.npz", "_status.csv")}
    killed, torn = tmp_path / "killed" / "analyses", 0
    for k, recorded in ANALYSIS_KILLS:
        run = simedit(tmp_path / "killed", k)
        assert run.returncode == -signal.SIGKILL, (k, run.stderr)
        record = killed / "completed.json"
        assert set(json.loads(record.read_text()) if record.exists() else {}) == recorded, k
        torn += killed.exists() and any(p.name.startswith(".") for p in killed.iterdir())  # one killed halfway
    assert torn == 5  # the halfway kills left their partial file; resuming removed each
    final = simedit(tmp_path / "killed")
    assert final.returncode == 0, final.stderr
    assert "analysis sweep: done" in final.stdout and "analysis robustness: skipped" in final.stdout
    got = analysis_files(tmp_path / "killed")
    assert set(got) == set(expected)  # and so no partial file left
    for name, content in expected.items():
        if name.endswith(".npz"):
            assert got[name].keys() == content.keys(), name
            assert all(np.array_equal(got[name][key], value) for key, value in content.items()), name
        else:
            assert got[name] == content, name
            if name.endswith(".csv"):
                assert len(content) == len(set(content)) > 1, f"{name} has a line twice"
