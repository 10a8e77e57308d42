"""Where a run's per-case work executes: in this process (jobs 1), in joblib worker
processes (jobs N) or on a dask.distributed cluster (``scheduler``).

Every backend only computes: it calls :func:`benchmark.runner.run_case` once per case and
yields each case's outcomes as they arrive, and the caller (the runner, in this
process) alone writes the results folder. On dask, workers load their cases and build
their methods themselves from the specs; a worker that dies has its cases rerun
elsewhere by the scheduler, and each case's outcomes arrive here exactly once. A case
whose worker died more often than the scheduler allows (``KilledWorker``, after
:data:`RETRIES` more tries), or whose task failed otherwise, comes back as failed
sessions with one line saying why; a re-run retries them, as any failed session.

``scheduler`` takes two forms: ``tcp://HOST:PORT`` (a running ``dask scheduler``, whose
workers need simedit and the plug-ins installed and the data and working folder at the
same paths) or ``local:N`` (N worker processes on this machine, started and closed by
simedit).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from benchmark.io import CaseRef
    from benchmark.runner import Outcome, Pending, RunConfig

#: Further tries of a case whose task failed on its worker (the scheduler's own
#: ``distributed.scheduler.allowed-failures`` reruns of a killed worker's tasks come first).
RETRIES = 1
INSTALL = "pip install 'simedit[dask]'"
_TCP = re.compile(r"(tcp|tls)://(\[[0-9A-Fa-f:.]+\]|[^\s:/\[\]]+):\d{1,5}")
_LOCAL = re.compile(r"local:([1-9]\d*)")

#: What each form of ``scheduler`` is, as messages show it.
FORMS = {"tcp": "tcp://HOST:PORT (a running dask scheduler, e.g. tcp://10.0.0.5:8786)",
         "local": "local:N (N worker processes on this machine, e.g. local:4)"}

Work = list[tuple["CaseRef", list["Pending"]]]


def parse_scheduler(value: str) -> tuple[str, Any]:
    """``("tcp", "tcp://HOST:PORT")`` or ``("local", N)``.

    Raises:
        ValueError: any other form, in one line saying what to write.
    """
    if isinstance(value, str) and _TCP.fullmatch(value):
        return "tcp", value
    local = _LOCAL.fullmatch(value) if isinstance(value, str) else None
    if local:
        return "local", int(local.group(1))
    raise ValueError(f"scheduler: expected {FORMS['tcp']} or {FORMS['local']}, got {value!r}")


def require_distributed() -> Any:
    """The ``distributed`` module, or a one-line ValueError saying how to install it."""
    try:
        import distributed
    except ImportError:
        raise ValueError(f"--scheduler / --cluster need dask.distributed, which is not installed: {INSTALL}") from None
    return distributed


def outcomes(todo: Work, config: "RunConfig", cwd: str) -> Iterator[list["Outcome"]]:
    """Each case's outcomes, in the order they finish (in order with jobs 1).

    ``cwd``: the client's working folder, where workers find plug-ins given by import path.
    """
    from benchmark.runner import run_case

    if config.scheduler is not None:
        return _dask(todo, config, cwd)
    if config.jobs == 1 or len(todo) == 1:
        return (run_case(ref, s, config) for ref, s in todo)
    from joblib import Parallel, delayed

    return Parallel(n_jobs=config.jobs, return_as="generator_unordered")(
        delayed(run_case)(ref, s, config, cwd) for ref, s in todo)


def _dask(todo: Work, config: "RunConfig", cwd: str) -> Iterator[list["Outcome"]]:
    from benchmark.runner import run_case

    distributed = require_distributed()
    kind, where = parse_scheduler(config.scheduler)
    with contextlib.ExitStack() as stack:  # closed on error, KeyboardInterrupt or an abandoned iteration too
        if kind == "local":  # the client connects to the cluster simedit started, and closes it
            where = stack.enter_context(distributed.LocalCluster(
                n_workers=where, threads_per_worker=1, processes=True, dashboard_address=None))
        try:
            client = stack.enter_context(distributed.Client(where, set_as_default=False))
        except OSError as error:
            raise ValueError(f"cannot reach the dask scheduler at {config.scheduler}: {error}; start one (`dask "
                             f"scheduler`, then `dask worker ADDRESS` on each machine) or use --cluster local:N") from None
        pending = {client.submit(run_case, ref, sessions, config, cwd, pure=False, retries=RETRIES): (ref, sessions)
                   for ref, sessions in todo}
        for future in distributed.as_completed(list(pending), loop=client.loop):
            ref, sessions = pending.pop(future)
            try:
                result = future.result()
            except distributed.KilledWorker as error:
                result = _failed_case(ref, sessions, f"its dask worker died while running it ({error})")
            except (Exception, asyncio.CancelledError) as error:  # noqa: BLE001 - failed or cancelled (scheduler gone)
                result = _failed_case(ref, sessions, f"its dask task failed: {type(error).__name__}: {error}")
            future.release()
            yield result


def _failed_case(ref: "CaseRef", sessions: list["Pending"], why: str) -> list["Outcome"]:
    from benchmark.runner import _failed

    line = f"case {ref.case_id}: {why}; a re-run retries it".replace("\n", " ")
    return [(_failed((ref.case_id, name, user, seed), line), (), [], None) for _, name, user, seed in sessions]
