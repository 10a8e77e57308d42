"""Many sessions: every case x method x user, in parallel, written as they finish.

A case is loaded once per worker and serves all its sessions. A case that cannot be
loaded, or a session that raises, is recorded as failed with its error and the run goes
on. Sessions already finished in the output folder are skipped, so an interrupted run
is resumed by running the same command again.
"""

from __future__ import annotations

import datetime as _dt
import json
import platform
import subprocess
import time
import zlib
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from benchmark.case import Case
from benchmark.io import CaseRef, discover
from benchmark.method import Method
from benchmark.results import RUN_FILE, ResultsWriter, RoundRecord, SessionKey, SessionRecord
from benchmark.session import SessionConfig, run_session
from baselines.registry import MethodOptions, checkpoint_digests, make_method
from policies.registry import make_policy

_PACKAGES = ("simedit", "numpy", "scipy", "torch", "nibabel", "connected-components-3d",
             "edt", "dijkstra3d", "pandas", "joblib", "nilearn")


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a run; stored in ``run.json``.

    Attributes:
        data: folder of cases in one of ``benchmark.io.LAYOUTS``.
        out: results folder.
        methods: method specs (``NAME`` or ``NAME=CHECKPOINT``).
        users: simulated-user names (``policies.registry.POLICY_NAMES``).
        user_mode: "test" or "train" variants of the users.
        session: budget and stopping rule per session.
        seed: root of every session's random stream.
        jobs: parallel worker processes (1: in this process).
        layout: data layout, None to detect it.
        method_options: settings shared by the methods.
        cases: run only these case ids (None: all).
    """

    data: Path
    out: Path
    methods: tuple[str, ...]
    users: tuple[str, ...]
    user_mode: str = "test"
    session: SessionConfig = field(default_factory=SessionConfig)
    seed: int = 0
    jobs: int = 1
    layout: str | None = None
    method_options: MethodOptions = field(default_factory=MethodOptions)
    cases: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if not self.methods:
            raise ValueError("give at least one method")
        if not self.users:
            raise ValueError("give at least one user")
        if self.jobs < 1:
            raise ValueError(f"jobs must be >= 1, got {self.jobs}")

    def to_json(self) -> dict[str, Any]:
        """The config as plain values, with the SHA-256 of every method's checkpoint file:
        a checkpoint retrained in place is a different run, not one to resume."""
        d = asdict(self)
        d["checkpoints"] = checkpoint_digests(self.methods)
        return json.loads(json.dumps(d, default=str))


@dataclass(frozen=True)
class RunSummary:
    out: Path
    ok: int
    failed: int
    skipped: int
    errors: tuple[str, ...]


def session_rng(seed: int, case: str, method: str, user: str) -> np.random.Generator:
    """The session's own random stream: independent of order, jobs and other sessions."""
    words = [seed] + [zlib.crc32(s.encode()) for s in (case, method, user)]
    return np.random.default_rng(np.random.SeedSequence(words))


@lru_cache(maxsize=None)
def _method(spec: str, options: MethodOptions) -> Method:
    return make_method(spec, options)


def _failed(key: SessionKey, error: BaseException, wall_s: float = 0.0) -> SessionRecord:
    message = f"{type(error).__name__}: {error}".replace("\n", " ")
    return SessionRecord(*key, status="failed", stop_reason="", rounds=0, final_dice=float("nan"),
                         n_edits=0, wall_s=wall_s, error=message)


Outcome = tuple[SessionRecord, tuple[RoundRecord, ...], list[dict[str, Any]]]


def run_case(ref: CaseRef, sessions: list[tuple[str, str, str]], config: RunConfig) -> list[Outcome]:
    """All sessions of one case; ``sessions`` holds (method spec, method name, user)."""
    try:
        case: Case = ref.load()
    except Exception as error:  # noqa: BLE001 - a broken case fails alone
        return [(_failed((ref.case_id, name, user), error), (), []) for _, name, user in sessions]
    outcomes: list[Outcome] = []
    for spec, name, user_name in sessions:
        key = (case.case_id, name, user_name)
        t0 = time.perf_counter()
        try:
            method = _method(spec, config.method_options)
            user = make_policy(user_name, config.user_mode)
            result = run_session(case, method, user, config.session, session_rng(config.seed, *key),
                                 user_name=user_name)
        except Exception as error:  # noqa: BLE001 - a broken session fails alone
            outcomes.append((_failed(key, error, time.perf_counter() - t0), (), []))
            continue
        record = SessionRecord(*key, status="ok", stop_reason=result.stop_reason,
                               rounds=len(result.rounds) - 1, final_dice=result.final_dice,
                               n_edits=result.n_edits, wall_s=time.perf_counter() - t0)
        outcomes.append((record, result.rounds, result.edit_log()))
    return outcomes


def provenance() -> dict[str, Any]:
    """Package versions, Python, platform and the git commit of this checkout."""
    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
                                text=True, timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {"python": platform.python_version(), "platform": platform.platform(), "packages": versions,
            "git_commit": commit}


def _write_run_json(config: RunConfig) -> None:
    path = Path(config.out) / RUN_FILE
    now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    new = config.to_json()
    if path.exists():
        old = json.loads(path.read_text())
        same = {k: v for k, v in old["config"].items() if k != "jobs"} == {k: v for k, v in new.items() if k != "jobs"}
        if not same:
            diff = sorted(k for k in new if old["config"].get(k) != new[k] and k != "jobs")
            raise ValueError(
                f"{path}: this folder holds a run with a different configuration (differs in: "
                f"{', '.join(diff)}); write to another --out folder or delete this one"
            )
        old.setdefault("resumed", []).append(now)
        path.write_text(json.dumps(old, indent=2))
        return
    path.write_text(json.dumps({"config": new, "seed": config.seed, "started": now, **provenance()}, indent=2))


def plan(config: RunConfig) -> tuple[list[tuple[CaseRef, list[tuple[str, str, str]]]], int]:
    """Which sessions are left to run, grouped by case, and how many were skipped."""
    refs = discover(config.data, config.layout, config.cases)
    names = {spec: make_method(spec, config.method_options).name for spec in config.methods}
    table_names = [names[spec] for spec in config.methods]
    clash = sorted({n for n in table_names if table_names.count(n) > 1})
    if clash:
        raise ValueError(f"two methods share the table name {clash[0]!r}; give their checkpoints different "
                         "file names, or run them into separate --out folders")
    if len(set(config.users)) < len(config.users):
        raise ValueError(f"a user is given twice: {list(config.users)}")
    for user in config.users:  # validate names before any work
        make_policy(user, config.user_mode)
    done = ResultsWriter(config.out).finished()
    todo, skipped = [], 0
    for ref in refs:
        sessions = [(spec, names[spec], user) for spec in config.methods for user in config.users
                    if (ref.case_id, names[spec], user) not in done]
        skipped += len(config.methods) * len(config.users) - len(sessions)
        if sessions:
            todo.append((ref, sessions))
    return todo, skipped


def run(config: RunConfig, progress: bool = True) -> RunSummary:
    """Run every pending session of ``config`` and append the results to ``config.out``."""
    todo, skipped = plan(config)
    writer = ResultsWriter(config.out)
    _write_run_json(config)
    ok = failed = 0
    errors: list[str] = []
    for outcomes in _execute(todo, config, progress):
        for record, rounds, edits in outcomes:
            writer.write(record, rounds, edits)
            if record.status == "ok":
                ok += 1
            else:
                failed += 1
                errors.append(f"{record.case} / {record.method} / {record.user}: {record.error}")
    return RunSummary(Path(config.out), ok, failed, skipped, tuple(errors))


def _execute(todo, config: RunConfig, progress: bool) -> Iterator[list[Outcome]]:
    from tqdm.auto import tqdm

    bar = tqdm(total=sum(len(s) for _, s in todo), unit="session", disable=not progress, desc="sessions")
    if config.jobs == 1 or len(todo) == 1:
        results: Iterator[list[Outcome]] = (run_case(ref, s, config) for ref, s in todo)
    else:
        from joblib import Parallel, delayed

        results = Parallel(n_jobs=config.jobs, return_as="generator_unordered")(
            delayed(run_case)(ref, s, config) for ref, s in todo)
    for outcomes in results:
        bar.update(len(outcomes))
        bar.set_postfix(case=outcomes[0][0].case if outcomes else "", refresh=False)
        yield outcomes
    bar.close()
