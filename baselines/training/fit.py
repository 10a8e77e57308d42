"""The epoch loop every network here trains with (F, G, P-Net, R-Net).

Per epoch: learning rate ``lr * lr_decay ** epoch`` (the paper's schedule), ``steps``
Adam steps on the soft Dice loss (mixed precision and ``torch.compile`` on CUDA when
asked), a record of the mean loss and the time; every ``validate_every`` epochs and
after the last one, the validation scores join the record and the checkpoint is written.
A loss that is not finite stops training at once with an error naming the run. On the
CPU, each epoch runs on the threads the other processes leave free
(:class:`baselines.training.threads.ThreadGovernor`; ``threads`` in the record).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from baselines.training.losses import near_edit_bce, soft_dice_loss
from baselines.training.threads import ThreadGovernor


@dataclass(frozen=True)
class Schedule:
    """How long and how fast to train.

    Attributes:
        epochs: total epochs (a resumed run goes on from its checkpoint's epoch).
        steps_per_epoch: optimiser steps per epoch.
        lr, lr_decay: learning rate ``lr * lr_decay ** epoch``.
        validate_every: epochs between validations and checkpoint writes.
        device: "cpu" or "cuda".
        amp: mixed precision (CUDA only).
        compile: ``torch.compile`` the network for the steps (CUDA only).
        edit_loss_weight: (G) weight of :func:`near_edit_bce` added to the Dice loss; the
            batch's targets then carry the near-edit mask as their second channel.
    """

    epochs: int
    steps_per_epoch: int
    lr: float
    lr_decay: float
    validate_every: int
    device: str = "cpu"
    amp: bool = False
    compile: bool = False
    edit_loss_weight: float = 0.0


def fit(model: torch.nn.Module, optimizer: torch.optim.Optimizer, schedule: Schedule,
        batch: Callable[[], tuple[np.ndarray, np.ndarray]], validate: Callable[[], dict[str, float]],
        save: Callable[[int], None], *, start: int, history: list[dict[str, Any]], name: str,
        progress: bool) -> list[dict[str, Any]]:
    """Train ``model`` from epoch ``start`` to ``schedule.epochs``.

    Args:
        batch: the next (input float32 [B, C, X, Y, Z], target float32 [B, 1, X, Y, Z]).
        validate: scores of the current model, at least ``val_dice``.
        save: writes the checkpoint after the given number of epochs (reads ``history``).
        start: epochs already done.
        history: records of the epochs done; extended in place.
        name: the run, for the progress bar and errors (e.g. the checkpoint path).

    Raises:
        FloatingPointError: the loss diverged.
    """
    on_cuda = schedule.device == "cuda"
    step_model = torch.compile(model) if on_cuda and schedule.compile else model
    scaler = torch.amp.GradScaler("cuda", enabled=on_cuda and schedule.amp)
    governor = None if on_cuda else ThreadGovernor()
    threads = torch.get_num_threads()
    try:
        return _epochs(model, step_model, optimizer, schedule, batch, validate, save, scaler, governor, start=start,
                       history=history, name=name, progress=progress)
    finally:
        torch.set_num_threads(threads)


def _epochs(model: torch.nn.Module, step_model: Any, optimizer: torch.optim.Optimizer, schedule: Schedule,
            batch: Callable[[], tuple[np.ndarray, np.ndarray]], validate: Callable[[], dict[str, float]],
            save: Callable[[int], None], scaler: Any, governor: ThreadGovernor | None, *, start: int,
            history: list[dict[str, Any]], name: str, progress: bool) -> list[dict[str, Any]]:
    on_cuda = schedule.device == "cuda"
    val_dice = next((r["val_dice"] for r in reversed(history) if "val_dice" in r), float("nan"))
    bar = tqdm(range(start, schedule.epochs), desc=f"train {name}", unit="epoch", disable=not progress,
               initial=start, total=schedule.epochs)
    for epoch in bar:
        for group in optimizer.param_groups:
            group["lr"] = schedule.lr * schedule.lr_decay**epoch
        losses = []
        threads = governor.before_epoch() if governor is not None else None
        t0 = time.perf_counter()
        for _ in range(schedule.steps_per_epoch):
            x, y = batch()
            x_t = torch.from_numpy(x).to(schedule.device)
            y_t = torch.from_numpy(y).to(schedule.device)
            with torch.autocast("cuda", dtype=torch.float16, enabled=on_cuda and schedule.amp):
                logits = step_model(x_t)
                loss = soft_dice_loss(logits, y_t[:, :1])
                if y_t.shape[1] == 2:
                    loss = loss + schedule.edit_loss_weight * near_edit_bce(logits, y_t[:, :1], y_t[:, 1:])
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            losses.append(float(loss.detach()))
        record: dict[str, Any] = {"epoch": epoch + 1, "loss": float(np.mean(losses)),
                                  "seconds": time.perf_counter() - t0}
        if threads is not None:
            record["threads"] = threads
        if not math.isfinite(record["loss"]):
            raise FloatingPointError(f"{name}: training diverged (loss {record['loss']}); lower --lr")
        if (epoch + 1) % schedule.validate_every == 0 or epoch + 1 == schedule.epochs:
            record.update(validate())
            val_dice = record["val_dice"]
        history.append(record)
        bar.set_postfix(loss=f"{record['loss']:.3f}", val_dice=f"{val_dice:.3f}")
        if "val_dice" in record:
            save(epoch + 1)
    return history
