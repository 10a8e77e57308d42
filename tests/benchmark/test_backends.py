"""The backends of benchmark/backends.py: dask.distributed clusters of real worker
processes give the rows of an in-process run, lose and duplicate nothing when a worker
is killed, and turn a case whose worker keeps dying into failed sessions a re-run retries;
simedit closes the cluster it starts, also on KeyboardInterrupt; the scheduler's forms,
the missing-package message and its place outside a run's identity."""

from __future__ import annotations

import json
import os
import shutil
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import benchmark.backends as backends
from benchmark.cli import main
from benchmark.results import ResultsWriter, read_edits, read_rounds, read_sessions
from benchmark.runner import RunConfig, plan, run
from benchmark.session import SessionConfig
from tests.benchmark.test_crash_safety import no_line_twice, tables
from tests.benchmark.test_runner import write_cases

SESSION = SessionConfig(max_rounds=3, hd95=False)
USERS = ("selection", "adjustment")  # manual-paint with them: 3 rounds and 1 round per session
KEY = ["case", "method", "user", "user_seed"]
#: manual-paint (its table name too) whose predict, in a round with edits, SIGKILLs its own
#: worker process: on case DIE_ON every time, or once anywhere (the first to create MARKER).
DYING = textwrap.dedent('''
    import os, signal
    from baselines.manual_paint.method import ManualPaint, make as make_paint

    MARKER, DIE_ON = {marker!r}, {die_on!r}

    class Dying(ManualPaint):
        def predict(self, image, history):
            if history.edits and (image.case_id == DIE_ON or DIE_ON is None and _first()):
                os.kill(os.getpid(), signal.SIGKILL)
            return super().predict(image, history)

    def _first():
        try:
            fd = os.open(MARKER, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return False
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        return True

    def make(context):
        return Dying(initial=make_paint(context).initial)
''')


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data")
    write_cases(root, n=4)
    return root


def config(data: Path, out: Path, **kw) -> RunConfig:
    return RunConfig(**{"data": data, "out": out, "methods": ("manual-paint",), "users": USERS, "session": SESSION,
                        **kw})


@pytest.fixture(scope="module")
def reference(data, tmp_path_factory) -> Path:
    """The in-process (jobs 1) run's folder."""
    out = tmp_path_factory.mktemp("reference") / "out"
    assert run(config(data, out), progress=False).ok == 8
    return out


def assert_rows_of(out: Path, reference: Path) -> None:
    """The reference's rounds, sessions and edits row for row (timing columns aside),
    and no session, round or line twice."""
    got, expected = tables(out), tables(reference)
    assert got[0].equals(expected[0]) and got[1].equals(expected[1]) and got[2] == expected[2]
    no_line_twice(out)
    assert not read_sessions(out).duplicated(KEY).any()
    assert not read_rounds(out).duplicated(KEY + ["round"]).any()
    edits = [tuple(e[k] for k in (*KEY, "round")) for e in read_edits(out)]
    assert len(edits) == len(set(edits))


@pytest.mark.slow
def test_a_two_process_cluster_at_a_scheduler_address_writes_the_rows_of_jobs_1(data, reference, tmp_path):
    from distributed import Client, LocalCluster, get_task_stream

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster, set_as_default=False) as client:
        workers = client.run(os.getpid)
        assert len(set(workers.values())) == 2 and os.getpid() not in workers.values()
        with get_task_stream(client) as stream:
            summary = run(config(data, tmp_path / "out", scheduler=cluster.scheduler_address), progress=False)
        assert client.run(os.getpid) == workers  # a cluster simedit did not start stays up
    assert (summary.ok, summary.failed) == (8, 0)
    cases = [t for t in stream.data if t["key"].startswith("run_case")]
    assert len(cases) == 4 and {t["worker"] for t in cases} <= set(workers)  # one task per case, on the workers
    assert_rows_of(tmp_path / "out", reference)
    assert set(read_rounds(tmp_path / "out").run_sha) == set(read_rounds(reference).run_sha)  # same fingerprint


@pytest.mark.slow
def test_a_worker_killed_mid_run_loses_and_duplicates_nothing(data, reference, tmp_path, monkeypatch):
    marker = tmp_path / "killed.pid"
    (tmp_path / "dying_once.py").write_text(DYING.format(marker=str(marker), die_on=None))
    monkeypatch.chdir(tmp_path)  # a plug-in file in the client's folder: the workers import it from there
    monkeypatch.syspath_prepend(str(tmp_path))
    summary = run(config(data, tmp_path / "out", methods=("dying_once:make",), scheduler="local:2"), progress=False)
    assert (summary.ok, summary.failed) == (8, 0), summary.errors
    killed = int(marker.read_text())
    assert killed != os.getpid()
    with pytest.raises(ProcessLookupError):  # a worker died mid-session, and its case ran again elsewhere
        os.kill(killed, 0)
    assert_rows_of(tmp_path / "out", reference)


@pytest.mark.slow
def test_a_case_whose_worker_keeps_dying_fails_alone_and_a_rerun_retries_it(data, tmp_path, monkeypatch):
    import dask

    (tmp_path / "dying_always.py").write_text(DYING.format(marker=None, die_on="BraTS2021_00002"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    cfg = config(data, tmp_path / "out", methods=("dying_always:make",), scheduler="local:2")
    # one task per worker at a time, and no rerun by the scheduler: KilledWorker once RETRIES are spent
    with dask.config.set({"distributed.scheduler.allowed-failures": 0, "distributed.scheduler.worker-saturation": 1.0}):
        summary = run(cfg, progress=False)
    assert (summary.ok, summary.failed) == (6, 2)
    sessions = read_sessions(tmp_path / "out")
    failed = sessions[sessions.status == "failed"]
    assert set(failed.case) == {"BraTS2021_00002"}
    assert all(e.startswith("case BraTS2021_00002: its dask worker died while running it") and
               e.endswith("a re-run retries it") and "\n" not in e for e in failed.error)
    todo, skipped, _ = plan(cfg)
    assert [(ref.case_id, len(s)) for ref, s in todo] == [("BraTS2021_00002", 2)] and skipped == 6


class _Fake:
    """A stand-in for the distributed module: tasks run when their result is asked for."""

    class KilledWorker(Exception):
        pass

    def __init__(self, fail: dict[str, BaseException]):
        self.fail, self.events = fail, []
        fake = self

        class Cluster:
            def __init__(self, **options):
                fake.events.append(("cluster", options))

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                fake.events.append("cluster closed")

        class Client:
            loop = None

            def __init__(self, where, set_as_default):
                fake.events.append(("client", type(where).__name__))

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                fake.events.append("client closed")

            def submit(self, fn, ref, *args, pure, retries):
                assert pure is False and retries == backends.RETRIES
                return _Future(lambda: fn(ref, *args), fake.fail.get(ref.case_id))

        self.LocalCluster, self.Client = Cluster, Client
        self.as_completed = lambda futures, loop: iter(futures)


def _raise(error: BaseException):
    raise error


class _Future:
    def __init__(self, compute, error: BaseException | None):
        self.compute, self.error = compute, error

    def result(self):
        return self.compute() if self.error is None else _raise(self.error)

    def release(self):
        pass


def test_the_cluster_simedit_started_closes_on_interrupt_or_error_and_a_killed_worker_fails_its_case(data, tmp_path,
                                                                                                     monkeypatch):
    fake = _Fake({"BraTS2021_00001": _Fake.KilledWorker("Attempted to run task on 2 different workers"),
                  "BraTS2021_00002": KeyboardInterrupt()})
    monkeypatch.setattr(backends, "require_distributed", lambda: fake)
    with pytest.raises(KeyboardInterrupt):
        run(config(data, tmp_path / "out", scheduler="local:3"), progress=False)
    assert fake.events == [("cluster", {"n_workers": 3, "threads_per_worker": 1, "processes": True,
                                        "dashboard_address": None}),
                           ("client", "Cluster"), "client closed", "cluster closed"]
    sessions = read_sessions(tmp_path / "out").set_index("case")  # what arrived before the interrupt is kept
    assert (sessions.loc["BraTS2021_00000"].status == "ok").all()
    assert list(sessions.loc["BraTS2021_00001"].error) == [
        "case BraTS2021_00001: its dask worker died while running it (Attempted to run task on 2 different "
        "workers); a re-run retries it"] * 2
    fake = _Fake({"BraTS2021_00003": OSError("cannot chdir")})  # a task that failed otherwise fails its case too
    monkeypatch.setattr(backends, "require_distributed", lambda: fake)
    summary = run(config(data, tmp_path / "out", scheduler="tcp://10.0.0.5:8786"), progress=False)
    assert (summary.ok, summary.failed, summary.skipped) == (4, 2, 2)  # the failed case 1 ran again
    assert fake.events == [("client", "str"), "client closed"]  # a scheduler it did not start is left running
    assert any(e.endswith("case BraTS2021_00003: its dask task failed: OSError: cannot chdir; a re-run retries it")
               for e in summary.errors)
    fake = _Fake({})  # a write that fails here (disk full) closes the cluster before the error leaves run
    monkeypatch.setattr(backends, "require_distributed", lambda: fake)
    monkeypatch.setattr(ResultsWriter, "write", lambda *a, **k: _raise(OSError("No space left on device")))
    with pytest.raises(OSError, match="No space left"):
        run(config(data, tmp_path / "full", scheduler="local:2"), progress=False)
    assert fake.events[-2:] == ["client closed", "cluster closed"]


@pytest.mark.parametrize("bad", ["tcp://host", "host:8786", "local:0", "local:two", "local", "http://h:1", ""])
def test_a_scheduler_of_another_form_is_refused_with_one_line_saying_what_to_write(bad, tmp_path):
    with pytest.raises(ValueError) as error:
        config(tmp_path, tmp_path / "out", scheduler=bad)
    message = str(error.value)
    assert "\n" not in message and "tcp://HOST:PORT" in message and "local:N" in message and repr(bad) in message


def test_the_scheduler_options_on_the_command_line(data, reference, tmp_path):
    args = ["run", "--data", str(data), "--method", "manual-paint", "--user", "selection", "--out", str(tmp_path / "o")]
    for extra, says in [(["--scheduler", "tcp://host"], "Invalid value for --scheduler: expected tcp://HOST:PORT"),
                        (["--cluster", "tcp://h:1"], "Invalid value for --cluster: expected local:N"),
                        (["--cluster", "local:2", "--scheduler", "tcp://h:1"], "not both"),
                        (["--cluster", "local:2", "--jobs", "2"], "--jobs 2 cannot be combined with --cluster")]:
        res = CliRunner().invoke(main, args + extra)
        assert res.exit_code == 2 and says in res.output, res.output
    assert not (tmp_path / "o").exists()
    # not part of the run's identity: a folder of a jobs-1 run resumes on a cluster, its sessions done
    shutil.copytree(reference, tmp_path / "resumed")
    same = ["run", "--data", str(data), "--method", "manual-paint", "--user", "selection", "--user", "adjustment",
            "--rounds", "3", "--no-hd95", "--out", str(tmp_path / "resumed")]
    for flag in ("--cluster", "--scheduler"):  # --scheduler takes local:N too, as a protocol's key
        res = CliRunner().invoke(main, [*same, flag, "local:2"])
        assert res.exit_code == 0 and "0 sessions ok, 0 failed, 8 already done" in res.output, res.output
    assert json.loads((tmp_path / "resumed" / "run.json").read_text())["config"]["scheduler"] is None  # as first run


def test_without_distributed_a_scheduler_fails_in_one_line_before_any_work(data, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed: ImportError
    res = CliRunner().invoke(main, ["run", "--data", str(data), "--method", "manual-paint", "--user", "selection",
                                    "--out", str(tmp_path / "o"), "--cluster", "local:2"])
    assert res.exit_code == 1
    assert res.output.strip().splitlines() == [
        "Error: --scheduler / --cluster need dask.distributed, which is not installed: pip install 'simedit[dask]'"]
    assert not (tmp_path / "o" / "run.json").exists()
    for top, flags in [({"scheduler": "local:2"}, []), ({}, ["--cluster", "local:2"])]:  # the file's, or the flag's
        res = CliRunner().invoke(main, ["run", str(_protocol(tmp_path, data, **top)), "--out", str(tmp_path / "p"),
                                        *flags])
        assert res.exit_code == 1 and "pip install 'simedit[dask]'" in res.output, res.output
        assert not (tmp_path / "p").exists()


def _protocol(folder: Path, data: Path, **top) -> Path:
    path = folder / "p.yaml"
    path.write_text(yaml.safe_dump({"name": "dask", "data": str(data), "cases": "all", "metrics": {"hd95": False},
                                    "methods": {"paint": "manual-paint"}, **top,
                                    "experiments": [{"id": "a", "method": "paint", "user": "selection", "rounds": 1}]}))
    return path


def test_a_protocols_scheduler_reaches_every_experiment_and_is_not_part_of_its_identity(data, tmp_path):
    from benchmark.protocol import load_protocol, protocol_record, run_config

    protocol = load_protocol(_protocol(tmp_path, data, scheduler="local:2"))
    assert protocol.scheduler == "local:2"
    assert run_config(protocol, protocol.experiments[0], tmp_path).scheduler == "local:2"
    assert run_config(protocol, protocol.experiments[0], tmp_path, scheduler="tcp://h:1").scheduler == "tcp://h:1"
    assert "scheduler" not in protocol_record(protocol)  # protocol.json: a re-run may change it
    with pytest.raises(ValueError, match=r"p\.yaml: scheduler: expected tcp://HOST:PORT .*, local:N .* or null, "
                                         r"got str 'local:0'$"):
        load_protocol(_protocol(tmp_path, data, scheduler="local:0"))
