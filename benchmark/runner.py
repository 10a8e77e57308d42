"""Many sessions: every case x method x user, in parallel, written as they finish.

A case is loaded once per worker and serves all its sessions. A case that cannot be
loaded, or a session that raises, is recorded as failed with its error and the run goes
on. Sessions already finished in the output folder are skipped, so an interrupted run
is resumed by running the same command again.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import time
import zlib
from contextlib import closing
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from benchmark.atomic import write_json
from benchmark.backends import outcomes as execute, parse_scheduler, require_distributed
from benchmark.case import Case
from benchmark.fingerprint import code_state, run_fingerprint
from benchmark.folder_lock import folder_lock
from benchmark.io import CaseRef, discover
from benchmark.masks import write_masks
from benchmark.method import Method
from benchmark.chain import chain_stages
from benchmark.registry import (MethodOptions, checkpoint_digests, make_method, make_user, plugin_provenance,
                                resolve_method, resolve_user, check_user)
from benchmark.results import RUN_FILE, ResultsWriter, RoundRecord, SessionKey, SessionRecord, read_sessions
from benchmark.session import SessionConfig, run_session
from benchmark.specs import parse_method_spec

_PACKAGES = ("simedit", "numpy", "scipy", "torch", "nibabel", "connected-components-3d",
             "edt", "dijkstra3d", "pandas", "joblib", "nilearn", "distributed")


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a run; stored in ``run.json``.

    Attributes:
        data: folder of cases in one of ``benchmark.io.LAYOUTS``.
        out: results folder.
        methods: method specs (``NAME[[OPTIONS]][=ARG]``, :mod:`benchmark.specs`).
        users: simulated-user specs (``NAME[:KEY=VALUE,...]``).
        user_mode: "test" or "train" variants of the users.
        session: budget and stopping rule per session.
        seed: root of every session's random stream.
        jobs: parallel worker processes (1: in this process).
        scheduler: run the sessions on dask.distributed instead (:mod:`benchmark.backends`):
            ``tcp://HOST:PORT`` of a running scheduler, or ``local:N`` for N worker
            processes simedit starts; None: ``jobs``. Not part of the run's identity.
        layout: data layout, None to detect it.
        method_options: settings shared by the methods.
        cases: run only these case ids (None: all).
        save_masks: write every round's prediction, one compressed npz per session, to
            ``OUT/masks`` (:mod:`benchmark.masks`); not part of the run's identity.
        repeats: sessions per case x method x user, user seeds 0..repeats-1: each a
            different person of a population (knob ranges are drawn per seed) with its
            own random stream. Not part of the run's identity: more repeats continue
            a finished run, each session being the same whatever the count.
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
    save_masks: bool = False
    repeats: int = 1
    scheduler: str | None = None

    def __post_init__(self) -> None:
        if not self.methods:
            raise ValueError("give at least one method")
        if not self.users:
            raise ValueError("give at least one user")
        if self.jobs < 1:
            raise ValueError(f"jobs must be >= 1, got {self.jobs}")
        if self.scheduler is not None:
            parse_scheduler(self.scheduler)
        if isinstance(self.repeats, bool) or not isinstance(self.repeats, int) or self.repeats < 1:
            raise ValueError(f"repeats must be an integer >= 1 (sessions per case, method and user), "
                             f"got {self.repeats!r}")

    def to_json(self) -> dict[str, Any]:
        """The config as plain values, with the SHA-256 of every method's checkpoint file:
        a checkpoint retrained in place is a different run, not one to resume."""
        d = asdict(self)
        d["checkpoints"] = checkpoint_digests(self.methods, self.method_options.workdir)
        return json.loads(json.dumps(d, default=str))


def _results_part(config: dict[str, Any]) -> dict[str, Any]:
    """The settings that decide results: jobs, scheduler and threads change only how fast a run goes,
    the output folder only where it is (a folder moved or copied resumes). Session
    settings added since a folder was written count as their defaults there."""
    part = {k: v for k, v in config.items() if k not in ("out", "jobs", "scheduler", "save_masks", "repeats")}
    part["method_options"] = {k: v for k, v in part.get("method_options", {}).items() if k != "threads"}
    part["session"] = {**_SESSION_DEFAULTS, **part.get("session", {})}
    return part


_SESSION_DEFAULTS = json.loads(json.dumps(asdict(SessionConfig())))


@dataclass(frozen=True)
class RunSummary:
    out: Path
    ok: int
    failed: int
    skipped: int
    errors: tuple[str, ...]


def session_rng(seed: int, case: str, method: str, user: str, user_seed: int = 0) -> np.random.Generator:
    """The session's own random stream: independent of order, jobs and other sessions.
    Each user seed of a population has its own (user seed 0's is the stream of a run
    without repeats)."""
    words = [seed] + [zlib.crc32(s.encode()) for s in (case, method, user)] + ([int(user_seed)] if user_seed else [])
    return np.random.default_rng(np.random.SeedSequence(words))


@lru_cache(maxsize=None)
def _method(spec: str, options: MethodOptions) -> Method:
    return make_method(spec, options)


def _message(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}".replace("\n", " ")


def _failed(key: SessionKey, error: BaseException | str, wall_s: float = 0.0) -> SessionRecord:
    message = error if isinstance(error, str) else _message(error)
    case, method, user, user_seed = key
    return SessionRecord(case, method, user, status="failed", stop_reason="", rounds=0, final_dice=float("nan"),
                         n_edits=0, wall_s=wall_s, error=message, user_seed=user_seed)


#: A finished or failed session: its row, its rounds, its edit log and, with
#: ``save_masks``, its predictions (bool [R + 1, X, Y, Z]) and the case's spacing.
Outcome = tuple[SessionRecord, tuple[RoundRecord, ...], list[dict[str, Any]],
                tuple[np.ndarray, tuple[float, float, float]] | None]


#: A session to run: (method spec, method name, user spec, user seed).
Pending = tuple[str, str, str, int]


def run_case(ref: CaseRef, sessions: list[Pending], config: RunConfig, cwd: str | None = None) -> list[Outcome]:
    """All sessions of one case; ``sessions`` holds (method spec, method name, user, user seed).

    ``cwd``: the client's working folder, where plug-ins given by import path are found
    and relative paths start; a worker process reused from an earlier run (joblib keeps
    its pool) may have started elsewhere.
    """
    if cwd is not None and os.getcwd() != cwd:
        os.chdir(cwd)
    try:
        case: Case = ref.load()
    except Exception as error:  # noqa: BLE001 - a broken case fails alone
        return [(_failed((ref.case_id, name, user, seed), error), (), [], None) for _, name, user, seed in sessions]
    outcomes: list[Outcome] = []
    for spec, name, user_name, user_seed in sessions:
        key = (case.case_id, name, user_name, user_seed)
        t0 = time.perf_counter()
        try:
            method = _method(spec, config.method_options)
            user = make_user(user_name, config.user_mode, user_seed=user_seed)
            result = run_session(case, method, user, config.session, session_rng(config.seed, *key),
                                 user_name=user_name, keep_masks=config.save_masks, user_seed=user_seed)
        except Exception as error:  # noqa: BLE001 - a broken session fails alone
            outcomes.append((_failed(key, error, time.perf_counter() - t0), (), [], None))
            continue
        record = SessionRecord(case.case_id, name, user_name, status="ok", stop_reason=result.stop_reason,
                               rounds=len(result.rounds) - 1, final_dice=result.final_dice,
                               n_edits=result.n_edits, wall_s=time.perf_counter() - t0, user_seed=user_seed)
        saved = None if result.masks is None else (result.masks, case.spacing)
        outcomes.append((record, result.rounds, result.edit_log(), saved))
    return outcomes


def provenance(config: RunConfig | None = None) -> dict[str, Any]:
    """Package versions, Python, platform, the git commit of this checkout and, for a
    run, each method's and user's plug-in: package and version, or import path and the
    SHA-256 of its file."""
    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    code = code_state()
    out = {"python": platform.python_version(), "platform": platform.platform(), "packages": versions,
           "git_commit": code["git_commit"], "git_dirty": code["git_dirty"]}
    if config is not None:
        out["plugins"] = plugin_provenance(config.methods, config.users)
        out["realism"] = realism_record(config.users, config.user_mode)
    return out


def realism_record(users: tuple[str, ...], mode: str) -> dict[str, Any]:
    """For run.json: each user (chain stage) with realism knobs, its knobs and ranges."""
    record = {}
    for spec in users:
        for stage in chain_stages(spec):
            knobs = resolve_user(stage, mode)[3]
            if knobs.active:
                record[stage] = knobs.to_json()
    return record


def _write_run_json(config: RunConfig, refs: list[CaseRef]) -> str:
    """Write or update ``run.json``; returns the run's short digest for the rows."""
    path = Path(config.out) / RUN_FILE
    now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    new = config.to_json()
    files = [p for ref in refs for p in (*ref.image_paths, ref.label_path) if p is not None and p.exists()]
    fingerprint = {**run_fingerprint(new, files, Path(config.data)), "since": now}
    if path.exists():
        old = json.loads(path.read_text())
        before, after = _results_part(old["config"]), _results_part(new)
        if before != after:
            diff = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
            raise ValueError(
                f"{path}: this folder holds a run with a different configuration (differs in: "
                f"{', '.join(diff)}); write to another --out folder or delete this one"
            )
        old.setdefault("resumed", []).append(now)
        plugins = plugin_provenance(config.methods, config.users)
        if plugins != old.get("plugins"):  # a plug-in upgraded or edited between runs: keep both
            old.setdefault("plugins_before", []).append({"until": now, "plugins": old.get("plugins")})
            old["plugins"] = plugins
        if old.get("fingerprint", {}).get("digest") != fingerprint["digest"]:  # new data, code or checkpoints
            if "fingerprint" in old:
                old.setdefault("fingerprints_before", []).append(old["fingerprint"])
            old["fingerprint"] = fingerprint
        write_json(path, old)
        return old["fingerprint"]["run_sha"]
    write_json(path, {"config": new, "seed": config.seed, "started": now, "fingerprint": fingerprint,
                      **provenance(config)})
    return fingerprint["run_sha"]


Broken = dict[str, str]  # method spec -> why it could not be built


def plan(config: RunConfig) -> tuple[list[tuple[CaseRef, list[Pending]]], int, Broken]:
    """Which sessions are left to run, grouped by case, how many were skipped, and the
    methods that could not be built (their sessions fail alone, the others run).

    Raises:
        ValueError: a method or user that names no plug-in, or is spelled wrongly
            (checked before any work), two methods with one table name, a user twice.
    """
    refs = discover(config.data, config.layout, config.cases)
    for spec in config.methods:
        resolve_method(spec, config.method_options.workdir)
    if len(set(config.users)) < len(config.users):
        raise ValueError(f"a user is given twice: {list(config.users)}")
    for user in config.users:
        check_user(user, config.user_mode)
    names, broken = {}, {}
    for spec in config.methods:
        try:
            names[spec] = _method(spec, config.method_options).name
        except Exception as error:  # noqa: BLE001 - a method that cannot be built fails alone
            names[spec], broken[spec] = parse_method_spec(spec).name, _message(error)
    table_names = [names[spec] for spec in config.methods]
    clash = sorted({n for n in table_names if table_names.count(n) > 1})
    if clash:
        raise ValueError(f"two methods share the table name {clash[0]!r}; give their checkpoints different "
                         "file names, or run them into separate --out folders")
    done = ResultsWriter(config.out).finished()
    todo, skipped = [], 0
    for ref in refs:
        sessions = [(spec, names[spec], user, seed) for spec in config.methods for user in config.users
                    for seed in range(config.repeats) if (ref.case_id, names[spec], user, seed) not in done]
        skipped += len(config.methods) * len(config.users) * config.repeats - len(sessions)
        if sessions:
            todo.append((ref, sessions))
    return todo, skipped, broken


def grow_budget(config: RunConfig) -> int:
    """Continue a folder whose run had a smaller round budget, all else equal.

    A session that stopped because its user was done or reached the target would stop
    the same with more rounds (every round depends only on the case, the method, the
    user and the session's own random stream), so it stays; a session that spent its
    budget is removed, to run again with the larger one. ``run.json`` gets the new budget
    and a ``budget_grown`` entry. Returns the sessions removed (0 when there is nothing
    to grow: no folder, the same budget, a smaller one or other changes, which
    :func:`run` then refuses as before).
    """
    path = Path(config.out) / RUN_FILE
    if not path.exists():
        return 0
    old = json.loads(path.read_text())
    before, after = _results_part(old["config"]), _results_part(config.to_json())
    rounds_before, rounds_after = before["session"]["max_rounds"], after["session"]["max_rounds"]
    if rounds_after <= rounds_before or {**before, "session": {**before["session"], "max_rounds": rounds_after}} != after:
        return 0
    writer = ResultsWriter(config.out)
    sessions = read_sessions_of(config.out)
    spent = {key for key, stop in sessions.items() if stop == "budget"}
    writer.drop_sessions(spent)
    now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    old["config"].setdefault("session", {})["max_rounds"] = rounds_after
    old.setdefault("budget_grown", []).append({"from": rounds_before, "to": rounds_after, "at": now,
                                               "sessions_rerun": len(spent)})
    write_json(path, old)
    return len(spent)


def read_sessions_of(out: Path) -> dict[SessionKey, str]:
    """Finished sessions and their stop reasons."""
    sessions = read_sessions(out)
    ok = sessions[sessions["status"] == "ok"]
    return {(c, m, u, int(s)): r for c, m, u, s, r in zip(ok["case"], ok["method"], ok["user"], ok["user_seed"],
                                                          ok["stop_reason"])}


def run(config: RunConfig, progress: bool = True) -> RunSummary:
    """Run every pending session of ``config`` and append the results to ``config.out``
    (continuing a folder whose run had a smaller budget: :func:`grow_budget`).

    Raises:
        FolderInUse: another run is writing to ``config.out`` (:mod:`benchmark.folder_lock`).
    """
    with folder_lock(config.out):
        return _run(config, progress)


def _run(config: RunConfig, progress: bool) -> RunSummary:
    if config.scheduler is not None:
        require_distributed()  # before any work
    grow_budget(config)
    todo, skipped, broken = plan(config)
    writer = ResultsWriter(config.out)
    run_sha = _write_run_json(config, discover(config.data, config.layout, config.cases))
    ok = failed = 0
    errors: list[str] = []

    def record(outcomes: list[Outcome]) -> None:
        nonlocal ok, failed
        for session, rounds, edits, saved in outcomes:
            if saved is not None:
                write_masks(config.out, *session.key, *saved)
            writer.write(session, [replace(r, run_sha=run_sha) for r in rounds], edits)
            if session.status == "ok":
                ok += 1
            else:
                failed += 1
                errors.append(f"{session.case} / {session.method} / {session.user}: {session.error}")

    for ref, sessions in todo:  # sessions of a method that could not be built fail without a worker
        record([(_failed((ref.case_id, name, user, seed), broken[spec]), (), [], None)
                for spec, name, user, seed in sessions if spec in broken])
    runnable = [(ref, s) for ref, s in ((ref, [x for x in ss if x[0] not in broken]) for ref, ss in todo) if s]
    with closing(_execute(runnable, config, progress)) as results:  # a failed write closes the workers at once
        for outcomes in results:
            record(outcomes)
    return RunSummary(Path(config.out), ok, failed, skipped, tuple(errors))


def _execute(todo, config: RunConfig, progress: bool) -> Iterator[list[Outcome]]:
    from tqdm.auto import tqdm

    bar = tqdm(total=sum(len(s) for _, s in todo), unit="session", disable=not progress, desc="sessions")
    if not todo:  # nothing to run: no worker pool or cluster is started
        bar.close()
        return
    with closing(execute(todo, config, os.getcwd())) as results:
        for outcomes in results:
            bar.update(len(outcomes))
            bar.set_postfix(case=outcomes[0][0].case if outcomes else "", refresh=False)
            yield outcomes
    bar.close()
