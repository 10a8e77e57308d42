"""The settings of F's and G's training, and their presets.

Presets (see :meth:`TrainConfig.cpu` and :meth:`TrainConfig.paper`):

- ``cpu``: for the embedded phantoms (``simedit synth --shape 96 96 64``) on 2 CPU
  cores. Isensee network with base 8 and 4 levels, 48^3 patches, batch 2, 10 steps per
  epoch, lr 2e-3 for F (the paper's 5e-4 is too slow to learn from scratch in a few
  hundred steps); the training users' size limits are scaled to the phantoms (selection
  from 100 mm^3, strokes from 4 voxels). F: 60 epochs, lr x0.95 per epoch (at x0.985 its validation Dice still swung
  between 0.69 and 0.77 at epoch 40). G: starts from F's weights and fine-tunes 40
  epochs with each tool in a sample with probability 0.3, so that it keeps F's
  segmentation without edits. G's samples edit towards truths whose boundary is moved
  by -3 ... +3 mm (``target_shifts_mm``; those whose K the training user would clip
  left out), at lr 1e-3 x0.92 per epoch, keeping the best validation's weights
  (``keep_best``). Measured with ``simedit diagnose`` on the demo's 16 held-out phantoms,
  from the same F (0.877): the paper's one set of edits per case at 5e-4 gave (b) 0.876,
  (d) - (b) +0.8, (e) - (b) +1.9 points and a K sweep of 0.86x / 1.13x at K = -0.5 / +0.5;
  these settings (b) 0.867, +2.3, +3.1 and 0.76x / 2.18x. Held-out (b) moved by 1-9
  points between variants of these settings (tools in half the samples: 0.69; lr 5e-4
  without decay: 0.74-0.86): the README's training section lists the runs. Training
  steps took 310 s (F) and 207 s (G) in the demo at 6c9f50e on 2 idle cores (a 48^3
  sample forward and backward: about 0.2 s).
- ``paper``: Isensee et al. 2017 as the seed paper used it, for a GPU: base 16, 5
  levels, dropout 0.3, 128^3 patches, batch 2, 300 epochs of 100 steps, lr 5e-4 x0.985
  per epoch, G trained from scratch with the training users' own limits, mixed precision
  and ``torch.compile``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from baselines.networks import BACKBONES, backbone_error
from baselines.training.settings import check_settings


#: The backbones the paper uses for F and G (configured by base and levels).
U_NETS = ("isensee", "unet3d")


#: What the cpu preset changes from TrainConfig's defaults, for F and for G (module docstring).
CPU_PRESETS: dict[str, dict[str, Any]] = {
    "base": dict(epochs=60, lr_decay=0.95),
    "editor": dict(epochs=40, lr=1e-3, lr_decay=0.92, tool_p=0.3, target_shifts_mm=(-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0),
                   keep_best=True),
}


@dataclass(frozen=True)
class TrainConfig:
    """Everything that shapes a training run (stored in the checkpoint).

    Attributes:
        backbone: "isensee" or "unet3d".
        base: channels at full resolution.
        levels: resolution levels.
        dropout: Isensee context-module dropout (ignored by unet3d).
        patch: patch size (X, Y, Z); axes larger than a case are zero-padded.
        batch_size: patches per step.
        epochs: epochs to train (in total, counting resumed ones).
        steps_per_epoch: optimiser steps per epoch.
        lr: initial Adam learning rate; lr_decay: factor per epoch.
        foreground_p: chance that a patch is centred on a tumour voxel.
        validation_fraction: share of the cases held out for validation (at least one
            when there are two or more cases).
        validate_every: epochs between validations and checkpoint writes.
        tool_p: (G) chance that each tool's edits are in a sample.
        selection_min_size: (G) smallest error component, in mm^3, that the training
            selection user clicks; None: its training default (500 mm^3, sized for
            BraTS). The phantoms of the cpu preset squeeze a brain into 96x96x64 "1 mm"
            voxels, about 15 times less volume than BraTS, hence 100 there.
        brush_min_length: (G) shortest stroke, in voxels, the training brush user
            draws; None: its training default (10, sized for BraTS; 4 on the phantoms,
            2.5 times smaller along each axis).
        target_shifts_mm: (G) the boundary shifts of the truth the training edits are
            simulated towards (:func:`baselines.editing_network.training_edits.shifted`);
            (0,): the ground truth only, as the paper.
        shift_only_with_k: (G) only samples with an adjustment edit towards a shifted
            truth; the others edit towards the ground truth.
        edit_loss_weight: (G) weight of a cross-entropy on the voxels within
            ``near_edit_voxels`` (Chebyshev) of a click or stroke, added to the Dice loss
            (:func:`baselines.training.losses.near_edit_bce`): a stroke that fixes 60 voxels
            moves a patch's Dice little.
        keep_best: the checkpoint holds the weights of the validation with the best
            :func:`validation_score` so far (its epoch in ``training["kept"]``), not
            the last ones; its epoch count and history are the run's. The validation
            cases' Dice swings by several points between validations even late in
            training, and tracks the held-out Dice (a G whose last validation gave 0.72
            scored 0.78 held out, one with 0.80 scored 0.88).
        init_from_base: (G) start from F's weights (:func:`init_from_base`) instead of
            at random: G then keeps F's segmentation from the first step and only has
            to learn the edits, which is what makes G trainable in minutes on a CPU.
            The paper trains G from scratch (``paper`` preset: False); needs the same
            backbone and config for F and G.
        seed: seeds the split, weights, sampling and dropout.
        device: "cpu" or "cuda".
        amp: mixed precision (used on CUDA only).
        compile: ``torch.compile`` the network (used on CUDA only).
    """

    backbone: str = "isensee"
    base: int = 8
    levels: int = 4
    dropout: float = 0.3
    patch: tuple[int, int, int] = (48, 48, 48)
    batch_size: int = 2
    epochs: int = 20
    steps_per_epoch: int = 10
    lr: float = 2e-3
    lr_decay: float = 0.985
    foreground_p: float = 0.67
    validation_fraction: float = 0.2
    validate_every: int = 5
    tool_p: float = 0.5
    init_from_base: bool = True
    selection_min_size: float | None = 100.0
    brush_min_length: int | None = 4
    target_shifts_mm: tuple[float, ...] = (0.0,)
    shift_only_with_k: bool = False
    edit_loss_weight: float = 0.0
    near_edit_voxels: int = 4
    keep_best: bool = False
    seed: int = 0
    device: str = "cpu"
    amp: bool = True
    compile: bool = True

    def __post_init__(self) -> None:
        if self.backbone not in BACKBONES:
            raise ValueError(backbone_error(self.backbone))
        if self.backbone not in U_NETS:
            raise ValueError(f"F and G are U-Nets: backbone must be one of {U_NETS}, got {self.backbone!r}")
        counts = ("base", "levels", "batch_size", "epochs", "steps_per_epoch", "validate_every")
        object.__setattr__(self, "patch", check_settings(self, counts, ("foreground_p", "tool_p")))
        shifts = tuple(float(s) for s in self.target_shifts_mm)
        if not shifts or not all(np.isfinite(shifts)):
            raise ValueError(f"target_shifts_mm must be one or more finite shifts in mm, got {self.target_shifts_mm!r}")
        object.__setattr__(self, "target_shifts_mm", shifts)
        if self.edit_loss_weight < 0 or self.near_edit_voxels < 0:
            raise ValueError(f"edit_loss_weight and near_edit_voxels must be >= 0, got {self.edit_loss_weight}, "
                             f"{self.near_edit_voxels}")

    @classmethod
    def cpu(cls, kind: str = "base", **overrides: Any) -> "TrainConfig":
        """The CPU preset of F (``kind="base"``) or G (``"editor"``) for the 96x96x64
        phantoms on 2 cores; see the module docstring."""
        if kind not in CPU_PRESETS:
            raise ValueError(f"kind must be one of {tuple(CPU_PRESETS)}, got {kind!r}")
        return cls(**{**CPU_PRESETS[kind], **overrides})

    @classmethod
    def paper(cls, kind: str = "base", **overrides: Any) -> "TrainConfig":
        """The seed paper's settings on a GPU, the same for F and G; see the module docstring."""
        if kind not in CPU_PRESETS:
            raise ValueError(f"kind must be one of {tuple(CPU_PRESETS)}, got {kind!r}")
        preset = dict(base=16, levels=5, dropout=0.3, patch=(128, 128, 128), batch_size=2, epochs=300,
                      steps_per_epoch=100, lr=5e-4, lr_decay=0.985, validate_every=10, init_from_base=False,
                      selection_min_size=None, brush_min_length=None, device="cuda")
        return cls(**{**preset, **overrides})

    def network_config(self, in_channels: int) -> dict[str, Any]:
        config: dict[str, Any] = dict(in_channels=in_channels, out_channels=1, base=self.base, levels=self.levels)
        if self.backbone == "isensee":
            config["dropout"] = self.dropout
        return config

    def policy_options(self) -> dict[str, dict[str, Any]]:
        """Keyword arguments for the training-time tool policies that differ from their defaults."""
        options: dict[str, dict[str, Any]] = {}
        if self.selection_min_size is not None:
            options["selection"] = {"min_size": self.selection_min_size}
        if self.brush_min_length is not None:
            options["brush"] = {"min_length": self.brush_min_length}
        return options

    def to_plain(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["patch"] = list(self.patch)
        d["target_shifts_mm"] = list(self.target_shifts_mm)
        return d
