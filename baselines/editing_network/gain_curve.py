"""``simedit bench editing-gain``: G's editing gain against its training time, to size a run.

G is trained from F with a preset (default: the CPU one) to the first epoch count, measured,
trained on (resumed: the learning-rate schedule is per epoch, so each point follows the
longer run's schedule; resuming reseeds the sample draws, so the 40-epoch point is a
different draw from an uninterrupted 40-epoch G) to the next, measured, and so on. Each point records the training
seconds so far (the checkpoints' per-epoch times, validation excluded) and, on the held-out
cases (in none of F's or G's splits), the protocol's (b), (d) and (e) and the K sweep's
volume at K = -0.5 and +0.5 (:mod:`baselines.editing_network.diagnosis`).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import click
import numpy as np

from baselines.editing_network.diagnosis import k_response, session_gain


@dataclass(frozen=True)
class GainPoint:
    epochs: int
    train_s: float
    unedited: float
    one_round: float
    final: float
    edits: float
    just_reached: float
    volume_k_minus: float
    volume_k_plus: float


def measure(checkpoint: Path, cases: list, device: str = "cpu") -> dict[str, float]:
    """(b), (d), (e), edits and the K = -0.5 / +0.5 volume ratios of one G checkpoint."""
    from benchmark.registry import MethodOptions, make_method

    editor = make_method(f"editor={checkpoint}", MethodOptions(device=device))
    gain = session_gain(cases, editor)
    ks = k_response(cases, editor, ks=(-0.5, 0.0, 0.5))
    ratio = {k: float(np.mean([r.volume_ratio for r in ks if r.k == k])) for k in (-0.5, 0.5)}
    return {**asdict(gain), "volume_k_minus": ratio[-0.5], "volume_k_plus": ratio[0.5]}


def gain_curve(data: Path, base: Path, out: Path, epochs: list[int], preset: str = "cpu", device: str = "cpu",
               echo=click.echo, overrides: dict | None = None) -> list[GainPoint]:
    """Train G to each of ``epochs`` (ascending) into ``out``/G-<epochs>.pt and measure it
    (``overrides``: TrainConfig settings that replace the preset's)."""
    from baselines.editing_network.method import checkpoint_cases
    from baselines.editing_network.training import TrainConfig, train
    from baselines.networks.checkpoint import load_checkpoint
    from benchmark.io import discover

    refs = discover(data)
    train_ids = set(checkpoint_cases(base))
    train_refs = [r for r in refs if r.case_id in train_ids]
    held = [r.load() for r in refs if r.case_id not in train_ids]
    if not held or not train_refs:
        raise ValueError(f"{data}: needs F's training cases and at least one case outside them")
    out.mkdir(parents=True, exist_ok=True)
    make = TrainConfig.cpu if preset == "cpu" else TrainConfig.paper
    points, previous = [], None
    for n in sorted(epochs):
        path = out / f"G-{n}.pt"
        if not path.exists():
            if previous is not None:
                shutil.copyfile(previous, path)
            train("editor", train_refs, path, make("editor", **{**(overrides or {}), "epochs": n, "device": device}), base_checkpoint=base,
                  resume=path if previous is not None else None, progress=False)
        history = load_checkpoint(path).training["history"]
        point = GainPoint(n, float(sum(r["seconds"] for r in history)), **measure(path, held, device))
        echo(json.dumps(asdict(point)))
        points.append(point)
        previous = path
    return points


@click.command("editing-gain")
@click.option("--data", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--base", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="F's checkpoint; its training cases train G, the others are measured.")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the G checkpoints (reused when present).")
@click.option("--epochs", default="10,20,40,80", show_default=True, help="Epoch counts, comma-separated.")
@click.option("--preset", default="cpu", show_default=True, type=click.Choice(["cpu", "paper"]))
@click.option("--device", default="cpu", show_default=True, type=click.Choice(["cpu", "cuda"]))
def editing_gain_cmd(data: Path, base: Path, out: Path, epochs: str, preset: str, device: str) -> None:
    """G's editing gain ((e) - (b), (d) - (b), K response) against its training time."""
    try:
        counts = [int(e) for e in epochs.split(",") if e.strip()]
        if not counts or min(counts) < 1:
            raise ValueError(f"--epochs: give positive epoch counts, e.g. 10,20,40, got {epochs!r}")
        points = gain_curve(data, base, out, counts, preset, device)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    click.echo("\n| G epochs | training | (b) | (d) - (b) | (e) - (b) | edits | (e) - (b) if every session ended just at "
               "0.9 | volume at K = -0.5 / +0.5 |")
    click.echo("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for p in points:
        click.echo(f"| {p.epochs} | {p.train_s / 60:.1f} min | {p.unedited:.3f} | {100 * (p.one_round - p.unedited):+.1f} | "
                   f"{100 * (p.final - p.unedited):+.1f} | {p.edits:.2f} | {100 * (p.just_reached - p.unedited):+.1f} | "
                   f"{p.volume_k_minus:.2f}x / "
                   f"{p.volume_k_plus:.2f}x |")
