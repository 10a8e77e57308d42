"""``simedit bench threads``: training steps alone and beside a CPU-bound process, with
torch's own thread count and with the :class:`~baselines.training.threads.ThreadGovernor`.

The step is the CPU preset's: G (Isensee, base 8, 4 levels, 7 input channels), a batch of
2 x 48^3 patches, soft Dice loss, one Adam step. The competitor is a second process
spinning in pure Python, as a test suite or another training would. Each condition runs
``epochs`` short epochs of ``steps`` steps; the governor picks threads before each one,
as training does. Medians of the step times, side by side in one run.
"""

from __future__ import annotations

import multiprocessing as mp
import time
from collections.abc import Iterator
from contextlib import contextmanager

import click
import numpy as np
import torch

from baselines.networks import make_backbone
from baselines.training.losses import soft_dice_loss
from baselines.training.threads import ThreadGovernor


def _spin(stop: "mp.synchronize.Event") -> None:
    x = 0
    while not stop.is_set():
        for _ in range(100_000):
            x += 1


@contextmanager
def competitor(active: bool) -> Iterator[None]:
    """A CPU-bound process for the duration (none when ``active`` is False)."""
    if not active:
        yield
        return
    context = mp.get_context("spawn")
    stop = context.Event()
    process = context.Process(target=_spin, args=(stop,), daemon=True)
    process.start()
    time.sleep(0.5)
    try:
        yield
    finally:
        stop.set()
        process.join(5)
        if process.is_alive():
            process.kill()


def step_times(governed: bool, epochs: int, steps: int, patch: int = 48) -> tuple[list[float], list[int]]:
    """Seconds per training step and the threads each epoch used."""
    torch.manual_seed(0)
    model = make_backbone("isensee", in_channels=7, out_channels=1, base=8, levels=4, dropout=0.3).train()
    optimizer = torch.optim.Adam(model.parameters(), 1e-3)
    x = torch.randn(2, 7, patch, patch, patch)
    y = (torch.rand(2, 1, patch, patch, patch) > 0.5).float()
    governor = ThreadGovernor() if governed else None
    default = torch.get_num_threads()
    times, threads = [], []
    try:
        for _ in range(epochs):
            threads.append(governor.before_epoch() if governor else torch.get_num_threads())
            for _ in range(steps):
                t0 = time.perf_counter()
                loss = soft_dice_loss(model(x), y)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                times.append(time.perf_counter() - t0)
    finally:
        torch.set_num_threads(default)
    return times[1:], threads  # the first step warms up


@click.command("threads")
@click.option("--epochs", default=3, show_default=True, type=click.IntRange(min=1))
@click.option("--steps", default=4, show_default=True, type=click.IntRange(min=1), help="Steps per epoch.")
def bench_threads_cmd(epochs: int, steps: int) -> None:
    """Training step time alone and beside one CPU-bound process, torch's threads vs the governor."""
    rows = {}
    for busy in (False, True):
        with competitor(busy):
            for governed in (False, True):
                times, threads = step_times(governed, epochs, steps)
                rows[busy, governed] = float(np.median(times))
                click.echo(f"{'beside a CPU-bound process' if busy else 'alone':28s} "
                           f"{'governor' if governed else f'torch default ({torch.get_num_threads()} threads)':26s} "
                           f"median step {rows[busy, governed]:.3f} s, threads per epoch {threads}")
    for governed in (False, True):
        click.echo(f"slow-down beside the process, {'governor' if governed else 'torch default'}: "
                   f"{rows[True, governed] / rows[False, governed]:.2f}x")
