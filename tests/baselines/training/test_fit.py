import numpy as np
import pytest
import torch

from baselines.training.threads import cores
from baselines.training.fit import Schedule, fit


def tiny(bias=0.0):
    torch.manual_seed(0)
    net = torch.nn.Conv3d(1, 1, 3, padding=1)
    with torch.no_grad():
        net.bias.fill_(bias)
    return net


def ball_batch():
    g = np.indices((12, 12, 12))
    y = (((g - 6) ** 2).sum(0) <= 16).astype(np.float32)[None, None]
    return y * 2 - 1 + np.random.default_rng(0).normal(0, 0.1, y.shape).astype(np.float32), y


def test_schedule_validation_and_saves():
    net = tiny()
    opt = torch.optim.Adam(net.parameters(), lr=0.05)
    saved, history = [], []
    schedule = Schedule(epochs=6, steps_per_epoch=5, lr=0.05, lr_decay=0.5, validate_every=4)
    fit(net, opt, schedule, ball_batch, lambda: {"val_dice": 0.5}, saved.append, start=1, history=history,
        name="t", progress=False)
    assert [r["epoch"] for r in history] == [2, 3, 4, 5, 6]
    assert saved == [4, 6] and "val_dice" in history[2] and "val_dice" not in history[1]
    assert all(1 <= r["threads"] <= cores() for r in history)  # the CPU governor recorded its pick
    assert opt.param_groups[0]["lr"] == pytest.approx(0.05 * 0.5**5)
    assert history[-1]["loss"] < history[0]["loss"]


def test_a_diverged_loss_stops_before_saving():
    net = tiny(bias=float("nan"))
    saved = []
    with pytest.raises(FloatingPointError, match="run.pt: training diverged"):
        fit(net, torch.optim.Adam(net.parameters()), Schedule(3, 2, 1e-3, 1.0, 1), ball_batch,
            lambda: {"val_dice": 0.0}, saved.append, start=0, history=[], name="run.pt", progress=False)
    assert saved == []
