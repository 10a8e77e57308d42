"""Running a protocol: every experiment (benchmark.runner), then every analysis
(benchmark.analyses), into one results folder, resuming an earlier run of it."""

from __future__ import annotations

import datetime as _dt
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from benchmark.backends import parse_scheduler, require_distributed
from benchmark.io import CaseRef, discover
from benchmark.protocol.record import write_json, write_protocol_record
from benchmark.protocol.schema import ANALYSES_DIR, COMPLETED_FILE, AnalysisSpec, Experiment, Protocol
from benchmark.registry.methods import MethodOptions, checkpoint_digests
from benchmark.runner import RunConfig, RunSummary, run
from benchmark.session import SessionConfig


@dataclass(frozen=True)
class ExperimentOutcome:
    """How one experiment went: the runner's summary, or why it could not run."""

    experiment: Experiment
    folder: Path
    run: RunSummary | None
    error: str = ""


@dataclass(frozen=True)
class AnalysisOutcome:
    """How one analysis went.

    Attributes:
        status: "done" (run now), "skipped" (complete from an earlier run with the same
            settings) or "failed" (see error).
        path: what its run function returned (its main file); None when it raised.
    """

    name: str
    status: str
    path: Path | None
    error: str = ""


@dataclass(frozen=True)
class ProtocolSummary:
    """What :func:`run_protocol` did, experiment by experiment and analysis by analysis."""

    out: Path
    experiments: tuple[ExperimentOutcome, ...]
    analyses: tuple[AnalysisOutcome, ...]

    @property
    def errors(self) -> tuple[str, ...]:
        """One line per failed experiment, session and analysis."""
        lines = []
        for outcome in self.experiments:
            if outcome.error:
                lines.append(f"experiment {outcome.experiment.id}: {outcome.error}")
            elif outcome.run is not None:
                lines.extend(f"experiment {outcome.experiment.id}: {e}" for e in outcome.run.errors)
        lines.extend(f"analysis {a.name}: {a.error}" for a in self.analyses if a.status == "failed")
        return tuple(lines)



def run_config(protocol: Protocol, experiment: Experiment, out: Path, jobs: int = 1, device: str = "cpu",
               threads: int | None = None, save_masks: bool = False, scheduler: str | None = None) -> RunConfig:
    """The runner's configuration of one experiment, writing to ``OUT/experiments/<id>``
    (``scheduler``, else the protocol's, runs its sessions on dask; else ``jobs``)."""
    return RunConfig(
        data=protocol.data, out=Path(out) / experiment.folder, methods=(experiment.method,), users=(experiment.user,),
        user_mode=experiment.mode,
        session=SessionConfig(max_rounds=experiment.rounds, target_dice=experiment.target_dice, hd95=protocol.hd95,
                              nsd_mm=protocol.nsd_mm, conventions=protocol.conventions,
                              time_limit_s=experiment.time_limit_s, on_timeout=experiment.on_timeout,
                              locality_mm=protocol.locality_mm, effort=protocol.effort),
        seed=protocol.seed, jobs=jobs, layout=protocol.layout,
        method_options=MethodOptions(initial=protocol.initial, device=device, threads=threads,
                                     workdir=protocol.workdir),
        cases=protocol.cases, save_masks=protocol.save_masks or save_masks, repeats=experiment.repeats,
        scheduler=scheduler or protocol.scheduler,
    )


def run_protocol(protocol: Protocol, out: Path, jobs: int = 1, device: str = "cpu",
                 progress: bool = True, threads: int | None = None, save_masks: bool = False,
                 scheduler: str | None = None) -> ProtocolSummary:
    """Run every experiment, then every analysis, of ``protocol`` into ``out``.

    Resumable: each experiment's runner skips the sessions finished in its folder, and
    an analysis recorded in ``OUT/analyses/completed.json`` with the same settings (and
    its file still there) is skipped; one about to run again leaves that record first, and
    is recorded once all its files are written (each atomically), so an analysis killed
    halfway is redone. An experiment or analysis that fails is recorded in the summary
    and the others go on.

    Args:
        protocol: from :func:`load_protocol`.
        out: the results folder (created if missing).
        jobs: parallel worker processes for the sessions.
        device: "cpu" or "cuda" for network methods.
        progress: show progress bars and a line per step on stderr.
        threads: CPU threads each method may use (None: its library's default).
        save_masks: save every round's prediction (as the protocol's ``save_masks``).
        scheduler: run the sessions on this dask.distributed scheduler (``tcp://HOST:PORT``
            or ``local:N``), over the protocol's ``scheduler``; with neither, ``jobs``.

    Raises:
        ValueError: ``out`` holds the results of a different protocol; jobs < 1; CUDA
            asked for where torch sees none, or a scheduler without dask.distributed
            installed (before any work, rather than every experiment failing on its own).
    """
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    if (scheduler or protocol.scheduler) is not None:
        parse_scheduler(scheduler or protocol.scheduler)
        require_distributed()
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise ValueError("--device cuda asked for, but torch sees no CUDA GPU; use --device cpu")
    out = Path(out)
    write_protocol_record(protocol, out, device)
    say = _say if progress else (lambda _: None)
    experiments = []
    for i, experiment in enumerate(protocol.experiments, start=1):
        say(f"experiment {i}/{len(protocol.experiments)}: {experiment.label}")
        config = run_config(protocol, experiment, out, jobs, device, threads, save_masks, scheduler)
        try:
            outcome = ExperimentOutcome(experiment, config.out, run(config, progress=progress))
        except Exception as error:  # noqa: BLE001 - one broken experiment must not stop the others
            outcome = ExperimentOutcome(experiment, config.out, None, _message(error))
        experiments.append(outcome)
    analyses = []
    options = MethodOptions(initial=protocol.initial, device=device, threads=threads, workdir=protocol.workdir)
    for spec in protocol.analyses:
        say(f"analysis: {spec.name}")
        analyses.append(_analysis(protocol, spec, options, out, progress))
    return ProtocolSummary(out, tuple(experiments), tuple(analyses))


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _message(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}".replace("\n", " ")


def _analysis(protocol: Protocol, spec: AnalysisSpec, options: MethodOptions, out: Path,
              progress: bool) -> AnalysisOutcome:
    folder = out / ANALYSES_DIR
    record = folder / COMPLETED_FILE
    completed = json.loads(record.read_text()) if record.exists() else {}
    try:
        spec = spec.pick(out)
    except ValueError as error:
        return AnalysisOutcome(spec.name, "failed", None, str(error))
    settings = {**spec.settings(), "seed": protocol.seed, "device": options.device,
                "checkpoints": checkpoint_digests(spec.methods)}
    done = completed.get(spec.name)
    if done and done["settings"] == settings and (out / done["path"]).exists():
        return AnalysisOutcome(spec.name, "skipped", out / done["path"])
    if done:  # its files are rewritten now: one killed halfway must not pass for complete
        del completed[spec.name]
        write_json(record, completed)
    try:
        refs = discover(protocol.data, protocol.layout, spec.cases)
        path, failures = _run_analysis(spec, refs, options, folder, protocol.seed, progress)
    except Exception as error:  # noqa: BLE001 - a failing analysis is reported and the rest completes
        return AnalysisOutcome(spec.name, "failed", None, _message(error))
    if failures:  # not recorded as complete: a re-run tries again
        more = f" (and {len(failures) - 3} more)" if len(failures) > 3 else ""
        return AnalysisOutcome(spec.name, "failed", path, f"{len(failures)} part(s) failed: "
                                                          f"{'; '.join(failures[:3])}{more}")
    where = path.resolve()
    stored = where.relative_to(out.resolve()) if where.is_relative_to(out.resolve()) else where
    now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    completed[spec.name] = {"settings": settings, "path": str(stored), "finished": now}
    write_json(record, completed)
    return AnalysisOutcome(spec.name, "done", path)


def _run_analysis(spec: AnalysisSpec, refs: list[CaseRef], options: MethodOptions, folder: Path, seed: int,
                  progress: bool) -> tuple[Path, list[str]]:
    """Call the analysis' run function (benchmark.analyses), which records a case x method
    that fails in its status table and goes on; returns the path it gives and one line
    per failed part."""
    from benchmark.analyses import panels, robustness, sweep

    if spec.name == "sweep":
        path = sweep.run_sweep(refs, spec.methods, options, spec.k, folder, progress=progress)
        data = sweep.read_sweep(folder)
    elif spec.name == "robustness":
        path = robustness.run_robustness(refs, spec.methods, options, folder, seed=seed, progress=progress)
        data = robustness.read_robustness(folder)
    else:
        path = panels.run_panels(refs, spec.methods, options, folder, seed=seed, progress=progress)
        data = panels.read_panels(folder)
    failed = data.status[data.status["status"] == "failed"]
    lines = [f"{row.case} / {row.method}{' / ' + row.item if row.item else ''}: {row.reason}"
             for row in failed.itertuples()]
    return Path(path), lines
