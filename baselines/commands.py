"""``simedit train base|editor`` and ``simedit bench model``."""

from __future__ import annotations

import time
from pathlib import Path

import click

from benchmark.io import LAYOUTS


def _options(f):
    options = [
        click.option("--data", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
                     help="Folder of training cases (any layout simedit reads)."),
        click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Checkpoint file to write (.pt)."),
        click.option("--preset", type=click.Choice(["cpu", "paper"]), default="cpu", show_default=True,
                     help="cpu: phantoms on 2 cores in minutes; paper: Isensee 2017 on a GPU."),
        click.option("--backbone", type=click.Choice(["isensee", "unet3d"]), default=None, help="Default: isensee."),
        click.option("--epochs", type=int, default=None, help="Total epochs (default: the preset's)."),
        click.option("--steps", type=int, default=None, help="Optimiser steps per epoch (default: the preset's)."),
        click.option("--patch", nargs=3, type=int, default=None, help="Patch size X Y Z (default: the preset's)."),
        click.option("--base-channels", type=int, default=None, help="Channels at full resolution (default: the preset's)."),
        click.option("--lr", type=float, default=None, help="Initial learning rate (default: the preset's)."),
        click.option("--device", type=click.Choice(["cpu", "cuda"]), default=None, help="Default: the preset's."),
        click.option("--seed", type=int, default=0, show_default=True),
        click.option("--layout", type=click.Choice(LAYOUTS), default=None, help="Data layout (default: detected)."),
        click.option("--case", "cases", multiple=True, help="Train only on these case ids (repeat)."),
        click.option("--resume", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
                     help="Carry on from this checkpoint (its split and settings; --epochs is the new total)."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _run(kind: str, base: Path | None, data, out, preset, backbone, epochs, steps, patch, base_channels, lr, device,
         seed, layout, cases, resume) -> None:
    from baselines.editing_network.training import TrainConfig, train
    from benchmark.io import discover

    given = dict(backbone=backbone, epochs=epochs, steps_per_epoch=steps, patch=patch, base=base_channels, lr=lr,
                 device=device)
    overrides = {k: v for k, v in given.items() if v is not None}
    try:
        config = getattr(TrainConfig, preset)(kind, seed=seed, **overrides)
        refs = discover(data, layout, cases or None)
        if not out.parent.is_dir():
            raise ValueError(f"{out}: folder {out.parent} does not exist; create it first")
        t0 = time.perf_counter()
        path = train(kind, refs, out, config, base_checkpoint=base, resume=resume)
    except (ValueError, FileNotFoundError) as e:
        raise click.ClickException(str(e))
    click.echo(f"wrote {path} ({kind}, {len(refs)} cases, {time.perf_counter() - t0:.0f} s)")


@click.group()
def train() -> None:
    """Train the paper's base network F, its editing network G, or the DeepIGeoS baseline."""


@train.command("base")
@_options
def train_base(**kwargs) -> None:
    """Train F on images alone."""
    _run("base", None, **kwargs)


@train.command("editor")
@click.option("--base", "base", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="F's checkpoint: its predictions on the training cases give the simulated edits.")
@_options
def train_editor(base: Path, **kwargs) -> None:
    """Train G on images plus edits simulated from F's errors."""
    _run("editor", base, **kwargs)


def bench_model(shape: tuple[int, int, int], device: str, repeats: int) -> list[tuple[str, dict, float]]:
    """Median forward milliseconds of one case of ``shape`` for each backbone (paper sizes:
    base 16; Isensee 5 levels, 3D U-Net 4 levels), random weights, 7 input channels.

    Returns:
        (backbone, config, median ms) per backbone.
    """
    import numpy as np
    import torch

    from baselines.networks.inference import InferenceSettings, sliding_logits
    from baselines.networks import make_backbone

    settings = InferenceSettings(device=device, max_voxels=int(np.prod(shape)))
    rows = []
    for name, config in (("isensee", dict(base=16, levels=5)), ("unet3d", dict(base=16, levels=4))):
        model = make_backbone(name, in_channels=7, **config).to(device).eval()
        x = torch.zeros((1, 7, *shape), device=device)
        times = [sliding_logits(model, x, settings)[1] for _ in range(repeats)]
        rows.append((name, config, float(np.median(times))))
    return rows


def _add_deepigeos() -> None:
    from baselines.deepigeos.training import deepigeos

    train.add_command(deepigeos)


_add_deepigeos()
