"""The ``simedit`` command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import numpy as np

from benchmark.io import LAYOUTS


def _fail(error: Exception) -> "click.ClickException":
    return click.ClickException(str(error))


class _LazyGroup(click.Group):
    """A command group whose commands from ``lazy`` (name -> "module:attribute") are
    imported only when they are run or listed: the training and geodesic commands need
    torch, which every other command would otherwise wait seconds for."""

    def __init__(self, *args, lazy: dict[str, str] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, name: str):
        if name in self.lazy and name not in self.commands:
            import importlib

            module, _, attribute = self.lazy[name].partition(":")
            self.add_command(getattr(importlib.import_module(module), attribute), name)
        return super().get_command(ctx, name)


@click.group(cls=_LazyGroup, lazy={"train": "baselines.commands:train", "replay": "benchmark.replay:replay_command",
                                        "diagnose": "baselines.editing_network.diagnosis:diagnose_command"},
             context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """simedit: benchmark interactive editing of 3D segmentations with simulated users."""


@main.command()
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option("--cases", default=8, show_default=True, help="Number of phantoms.")
@click.option("--shape", nargs=3, type=int, default=(240, 240, 155), show_default=True, help="Volume size X Y Z (1 mm voxels).")
@click.option("--seed", default=0, show_default=True, help="Same seed, same bytes.")
@click.option("--layout", type=click.Choice(LAYOUTS), default="brats2018", show_default=True)
@click.option("--jobs", default=1, show_default=True, help="Parallel worker processes.")
def synth(out: Path, cases: int, shape: tuple[int, int, int], seed: int, layout: str, jobs: int) -> None:
    """Write BraTS-like phantoms (real NIfTI files) into OUT."""
    from benchmark.phantoms.synth import synthesize

    try:
        ids = synthesize(out, cases, shape, seed, layout, jobs, progress=True)
    except ValueError as e:
        raise _fail(e)
    click.echo(f"wrote {len(ids)} {layout} cases of shape {tuple(shape)} to {out}")


@main.command()
@click.option("--prediction", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Segmentation to edit (NIfTI; non-zero = tumour).")
@click.option("--label", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Ground truth (NIfTI; non-zero = tumour).")
@click.option("--tool", required=True, help="Simulated user spec (see `simedit users`), e.g. brush or multi.")
@click.option("--mode", type=click.Choice(["test", "train"]), default="test", show_default=True)
@click.option("--seed", default=0, show_default=True)
def edits(prediction: Path, label: Path, tool: str, mode: str, seed: int) -> None:
    """Print the edits a simulated user proposes for PREDICTION, as JSON.

    Voxel indices refer to the arrays as nibabel returns them from these files.
    """
    from benchmark.file_edits import propose_for_files

    try:
        proposed = propose_for_files(prediction, label, tool, mode, np.random.default_rng(seed))
    except ValueError as e:
        raise _fail(e)
    click.echo(json.dumps({"edits": proposed}))


@main.command()
@click.argument("protocol", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--data", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder of cases (BraTS 2018/2021/2023, MSD Task01 or nnU-Net v2 raw).")
@click.option("--method", "methods", multiple=True,
              help="Method spec NAME[[KEY=VALUE,...]][=ARG] (see `simedit methods`), or a plug-in by import path "
                   "module:attribute[=ARG]; repeat for several.")
@click.option("--user", "users", multiple=True,
              help="Simulated user NAME[:KEY=VALUE,...] (see `simedit users`; e.g. multi:target_dice=0.95), or a "
                   "plug-in by import path module:attribute[:KEY=VALUE,...]; repeat for several.")
@click.option("--rounds", default=5, show_default=True, help="Editing rounds after the initial prediction.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Results folder (with PROTOCOL, default results/<protocol name>).")
@click.option("--seed", default=0, show_default=True)
@click.option("--jobs", default=1, show_default=True, help="Parallel worker processes.")
@click.option("--scheduler", default=None, metavar="tcp://HOST:PORT",
              help="Run the sessions on this dask.distributed scheduler's workers instead of --jobs "
                   "(pip install 'simedit[dask]'; the workers need the data at the same path), or local:N "
                   "as --cluster.")
@click.option("--cluster", default=None, metavar="local:N",
              help="Run the sessions on a dask.distributed cluster of N worker processes on this machine, started "
                   "and closed by simedit, instead of --jobs (pip install 'simedit[dask]').")
@click.option("--layout", type=click.Choice(LAYOUTS), default=None, help="Data layout (default: detected).")
@click.option("--mode", type=click.Choice(["test", "train"]), default="test", show_default=True, help="User variants.")
@click.option("--target-dice", type=float, default=None, help="Stop a session once Dice reaches this.")
@click.option("--initial", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Folder of first segmentations <case_id>.nii.gz for manual-paint (default: FLAIR threshold).")
@click.option("--case", "cases", multiple=True, help="Run only these case ids.")
@click.option("--no-hd95", is_flag=True, help="Skip HD95 (faster).")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True,
              help="Where network methods run.")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="CPU threads each method may use (default: its library's).")
@click.option("--effort", default="", help="Seconds per edit behind effort_s, e.g. click_s=2,slice_s=1 "
                                           "(the rest keep their defaults; see the README).")
@click.option("--save-masks", is_flag=True, help="Save every round's prediction to OUT/masks (one npz per session).")
@click.option("--repeats", type=click.IntRange(min=1), default=1, show_default=True,
              help="Sessions per case, method and user: user seeds 0..N-1, each a person of the population the "
                   "user's knob ranges describe (e.g. multi:jitter_mm=0..3).")
@click.pass_context
def run(ctx, protocol, data, methods, users, rounds, out, seed, jobs, scheduler, cluster, layout, mode, target_dice,
        initial, cases, no_hd95, device, threads, effort, save_masks, repeats) -> None:
    """Run every case x method x user session and write the results table to OUT.

    Methods and users: `simedit methods` and `simedit users` list them (e.g.
    manual-paint, editor=G.pt from `simedit train`; multi); needs --data, --method,
    --user and --out.

    With a PROTOCOL file (.yaml; schema in benchmark/protocol/__init__.py), run its experiments
    and analyses instead: simedit run PROTOCOL.yaml [--out DIR] [--jobs N | --scheduler tcp://HOST:PORT |
    --cluster local:N] [--device D].
    """
    scheduler = _scheduler(scheduler, cluster, jobs)
    if protocol is not None:
        _run_protocol(ctx, protocol, out, jobs, device, threads, save_masks, scheduler)
        return
    missing = [flag for flag, value in (("--data", data), ("--method", methods), ("--user", users), ("--out", out))
               if not value]
    if missing:
        raise click.UsageError(f"Missing option(s) {', '.join(missing)}, or give a PROTOCOL.yaml file.")
    from benchmark.effort import EffortModel
    from benchmark.registry.methods import MethodOptions
    from benchmark.runner import RunConfig, run as run_all
    from benchmark.session import SessionConfig

    try:
        config = RunConfig(
            data=data, out=out, methods=tuple(methods), users=tuple(users), user_mode=mode,
            session=SessionConfig(max_rounds=rounds, target_dice=target_dice, hd95=not no_hd95,
                                  effort=EffortModel.parse(effort)),
            seed=seed, jobs=jobs, layout=layout,
            method_options=MethodOptions(initial=initial, device=device, threads=threads),
            cases=tuple(cases) or None, save_masks=save_masks, repeats=repeats, scheduler=scheduler,
        )
        summary = run_all(config)
    except ValueError as e:
        raise _fail(e)
    _print_summary(summary)
    if summary.failed and not summary.ok:
        sys.exit(1)


def _scheduler(scheduler: str | None, cluster: str | None, jobs: int) -> str | None:
    """The dask scheduler of --scheduler or --cluster (one of them at most, not with --jobs N)."""
    if scheduler is not None and cluster is not None:
        raise click.UsageError("give --scheduler tcp://HOST:PORT or --cluster local:N, not both")
    if (scheduler is not None or cluster is not None) and jobs != 1:
        raise click.UsageError(f"--jobs {jobs} cannot be combined with {'--scheduler' if scheduler else '--cluster'}, "
                               "whose workers run the sessions; drop --jobs")
    from benchmark.backends import FORMS, parse_scheduler

    # --scheduler takes either form, as a protocol's scheduler key does; --cluster a local one
    for flag, value, forms in (("--scheduler", scheduler, ("tcp", "local")), ("--cluster", cluster, ("local",))):
        try:
            if value is not None and parse_scheduler(value)[0] not in forms:
                raise ValueError
        except ValueError:
            raise click.BadParameter(f"expected {' or '.join(FORMS[f] for f in forms)}, got {value!r}",
                                     param_hint=flag) from None
    return scheduler if scheduler is not None else cluster


def _run_protocol(ctx: click.Context, path: Path, out: Path | None, jobs: int, device: str,
                  threads: int | None, save_masks: bool, scheduler: str | None = None) -> None:
    """`simedit run PROTOCOL.yaml`: refuses the options the protocol sets, runs it, prints a summary."""
    from click.core import ParameterSource

    from benchmark.protocol import load_protocol, run_protocol

    given = [p.opts[-1] for p in ctx.command.params if isinstance(p, click.Option)
             and p.name not in ("out", "jobs", "scheduler", "cluster", "device", "threads", "save_masks")
             and ctx.get_parameter_source(p.name) != ParameterSource.DEFAULT]
    if given:
        raise click.UsageError(f"{', '.join(given)} cannot be combined with a protocol file, which sets them; edit "
                               f"{path} instead (with a protocol only --out, --jobs, --scheduler, --cluster, --device, --threads "
                               "and --save-masks apply).")
    try:
        protocol = load_protocol(path)
        summary = run_protocol(protocol, out or Path("results") / protocol.name, jobs, device, threads=threads,
                               save_masks=save_masks, scheduler=scheduler)
    except ValueError as e:
        raise _fail(e)
    _print_protocol_summary(summary)
    if _protocol_failed(summary):
        sys.exit(1)


def _protocol_failed(summary) -> bool:
    """An experiment could not run or all its sessions failed, or an analysis failed."""
    broken = [e for e in summary.experiments if e.run is None or (e.run.failed and not e.run.ok)]
    return bool(broken) or any(a.status == "failed" for a in summary.analyses)


def _print_protocol_summary(summary) -> None:
    from benchmark.results import read_rounds

    click.echo(f"experiments -> {summary.out}")
    for outcome in summary.experiments:
        label = outcome.experiment.label
        if outcome.run is None:
            click.echo(f"  {label}: could not run")
            continue
        line = f"  {label}: {outcome.run.ok} ok, {outcome.run.failed} failed, {outcome.run.skipped} already done"
        rounds = read_rounds(outcome.folder)
        if len(rounds):
            last = rounds.sort_values("round").groupby(["case", "user_seed"]).last()
            line += (f"; Dice {rounds[rounds['round'] == 0].dice.mean():.4f} -> {last.dice.mean():.4f}, "
                     f"{last.n_edits.mean():.2f} edits per case")
        click.echo(line)
    for analysis in summary.analyses:
        click.echo(f"analysis {analysis.name}: {analysis.status}" + (f" -> {analysis.path}" if analysis.path else ""))
    for line in summary.errors:
        click.echo(f"  failed: {line}", err=True)


def _print_summary(summary) -> None:
    from benchmark.results import read_rounds

    click.echo(f"{summary.ok} sessions ok, {summary.failed} failed, {summary.skipped} already done -> {summary.out}")
    for line in summary.errors:
        click.echo(f"  failed: {line}", err=True)
    rounds = read_rounds(summary.out)
    if len(rounds):
        click.echo(summary_table(rounds))


def summary_table(rounds) -> str:
    """Mean Dice before and after editing, and edits used, per method and user (over
    cases and user seeds)."""
    first = rounds[rounds["round"] == 0].set_index(["method", "user", "case", "user_seed"])["dice"]
    last = rounds.sort_values("round").groupby(["method", "user", "case", "user_seed"]).last()
    table = last.assign(initial_dice=first).groupby(["method", "user"]).agg(
        cases=("dice", "size"), initial_dice=("initial_dice", "mean"), final_dice=("dice", "mean"),
        edits=("n_edits", "mean"))
    return table.round(4).to_string()


def _list(kind: str, names: tuple[str, ...]) -> None:
    from benchmark.catalogue import catalogue

    try:
        entries = catalogue(kind, names)
    except ValueError as e:
        raise _fail(e)
    for e in entries:
        click.echo(f"{e.name}  [{e.origin}: {e.target}]")
        if e.problem:
            click.echo(f"    cannot load: {e.problem}")
            continue
        click.echo(f"    {e.summary}" if e.summary else "    (no description)")
        click.echo(f"    spec: {e.usage}" + (f"   tools: {e.tools}" if kind == "method" else ""))
        if e.options:
            click.echo(f"    options: {e.options}")


@main.command("methods")
@click.argument("names", nargs=-1)
def methods_cmd(names: tuple[str, ...]) -> None:
    """List the editing methods --method and protocols can name (or describe NAMES:
    registered names, import paths module:attribute or whole specs)."""
    _list("method", names)


@main.command("users")
@click.argument("names", nargs=-1)
def users_cmd(names: tuple[str, ...]) -> None:
    """List the simulated users --user and protocols can name (or describe NAMES)."""
    from benchmark.realism import KNOBS

    _list("user", names)
    click.echo(f"realism knobs, for every user (NAME:KNOB=VALUE; all off by default; LOW..HIGH for a population; "
               f"see benchmark/realism/knobs.py): {', '.join(KNOBS)}, slip")


@main.group(cls=_LazyGroup, lazy={"geodesic": "baselines.geodesic.bench:bench_geodesic_cmd",
                                   "external": "baselines.external.bench:bench_external_cmd",
                                   "threads": "baselines.training.threads_bench:bench_threads_cmd",
                                   "editing-gain": "baselines.editing_network.gain_curve:editing_gain_cmd"})
def bench() -> None:
    """Speed benchmarks, measured side by side in one run."""


@bench.command("user-step")
@click.option("--shape", nargs=3, type=int, default=(240, 240, 155), show_default=True)
@click.option("--repeats", default=7, show_default=True)
@click.option("--seed", default=0, show_default=True)
def bench_user_step_cmd(shape, repeats, seed) -> None:
    """One simulated-user step (3 tools, encoding, Dice): fast vs scipy-only."""
    from benchmark.bench import bench_user_step

    r = bench_user_step(tuple(shape), repeats=repeats, seed=seed)
    x, y, z = r["shape"]
    click.echo(f"one simulated-user step (selection + brush + adjustment, encoding, Dice) at {x}x{y}x{z},")
    click.echo(f"median of {r['repeats']} repeats; the prediction has Dice {r['dice']:.3f}, the step made {r['edits']} edits")
    click.echo(f"  simedit     {r['fast_ms']:9.1f} ms")
    click.echo("    " + ", ".join(f"{k} {v:.1f}" for k, v in r["parts_ms"].items()))
    click.echo(f"  scipy-only  {r['scipy_ms']:9.1f} ms")
    click.echo(f"  ratio       {r['speedup']:9.1f}x faster")


@bench.command("model")
@click.option("--shape", nargs=3, type=int, default=(240, 240, 155), show_default=True)
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True)
@click.option("--repeats", default=3, show_default=True)
def bench_model_cmd(shape, device, repeats) -> None:
    """Forward time of one case for each backbone at the paper's sizes."""
    from baselines.commands import bench_model

    x, y, z = shape
    click.echo(f"one forward pass at {x}x{y}x{z}, 7 input channels, median of {repeats}, {device}")
    for name, config, ms in bench_model(tuple(shape), device, repeats):
        click.echo(f"  {name:8s} {config}  {ms / 1e3:8.2f} s")


@main.command()
@click.option("--out", default=Path("results/demo"), type=click.Path(file_okay=False, path_type=Path), show_default=True,
              help="Folder for the phantoms, checkpoints, results and report.")
@click.option("--preset", type=click.Choice(["cpu", "paper"]), default="cpu", show_default=True,
              help="cpu: 96x96x64 phantoms, minutes on 2 cores; paper: BraTS-size phantoms and the paper's training (GPU).")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True)
@click.option("--cases", default=32, show_default=True, help="Phantoms in all.")
@click.option("--train-cases", default=16, show_default=True, help="Phantoms the networks learn from; the rest are held out.")
@click.option("--shape", nargs=3, type=int, default=None, help="Phantom size X Y Z (default: the preset's).")
@click.option("--jobs", default=2, show_default=True, help="Parallel worker processes.")
@click.option("--seed", default=0, show_default=True)
@click.option("--protocol", default="seed-paper", show_default=True,
              help="A shipped protocol (benchmark/protocol/shipped/NAME.yaml), e.g. cvpr25-challenge; other than "
                   "seed-paper, its results and report go to OUT/NAME.")
def demo(out: Path, preset: str, device: str, cases: int, train_cases: int, shape, jobs: int, seed: int,
         protocol: str) -> None:
    """The main job on the embedded data: the seed paper's Section 3, end to end.

    Synthesises BraTS-like phantoms, trains F, G and DeepIGeoS on some of them (reusing
    checkpoints that match), runs the shipped protocol (benchmark/protocol/shipped/seed-paper.yaml,
    or --protocol NAME) on the others and writes the report to OUT/report (OUT/NAME/report).
    Run it again to resume.
    """
    from benchmark.demo import DemoConfig, run_demo
    from benchmark.demo_table import TABLE_FILE

    try:
        config = DemoConfig(out=out, preset=preset, cases=cases, train_cases=train_cases,
                            shape=tuple(shape) if shape else None, seed=seed, jobs=jobs, device=device,
                            protocol=protocol)
        summary = run_demo(config, echo=click.echo)
    except ValueError as e:
        raise _fail(e)
    _print_protocol_summary(summary.protocol)
    click.echo(f"\n{summary.table}\n(also in {config.results / TABLE_FILE})")
    click.echo(f"report: {summary.report / 'index.html'}")
    if _protocol_failed(summary.protocol):
        sys.exit(1)


@main.command()
@click.argument("results_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Report folder (default: RESULTS_DIR/report).")
@click.option("--reference", default=None, help="Label or id of the experiment the others are compared with "
              "(default: the first).")
@click.option("--n-boot", default=10000, show_default=True, help="Bootstrap resamples for confidence intervals.")
@click.option("--seed", default=0, show_default=True, help="Seeds the bootstrap and the point jitter.")
@click.option("--dice-target", type=click.FloatRange(0, 1, min_open=True), default=0.9, show_default=True,
              help="Dice t of 'How the edits behaved': sessions reaching t and the effort they spent to reach it.")
def report(results_dir: Path, out: Path | None, reference: str | None, n_boot: int, seed: int,
           dice_target: float) -> None:
    """Tables, figures and index.html/index.md of a protocol or run folder RESULTS_DIR."""
    import pandas as pd

    from benchmark.report import build_report
    from benchmark.report.tables import summary_display

    try:
        folder = build_report(results_dir, out, reference, n_boot, seed, dice_target=dice_target)
    except ValueError as e:
        raise _fail(e)
    click.echo(f"report written to {folder / 'index.html'} (and index.md, figures/, tables/)")
    summary = summary_display(pd.read_csv(folder / "tables" / "summary.csv"))
    click.echo(summary.to_string(index=False))


if __name__ == "__main__":  # pragma: no cover
    main()
