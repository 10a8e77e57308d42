"""What every backbone shares: its constructor arguments for the checkpoint, the check of
its input, and running on any volume size (padded to its downsampling factor, the output
cropped back)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[slice, slice, slice]]:
    """Zero-pad the three spatial axes up to the next multiple of ``multiple``.

    Args:
        x: float [B, C, X, Y, Z].
        multiple: positive int, the network's total downsampling factor.

    Returns:
        The padded tensor [B, C, X', Y', Z'] (each of X', Y', Z' the smallest multiple
        of ``multiple`` at least the original), and the slices over (X', Y', Z') that
        recover the original extent. Padding is split between the two ends of each axis
        (the odd voxel at the far end) so the content stays centred.
    """
    if x.ndim != 5:
        raise ValueError(f"expected a [B, C, X, Y, Z] tensor, got shape {tuple(x.shape)}")
    if multiple < 1:
        raise ValueError(f"multiple must be a positive int, got {multiple}")
    before, after = [], []
    for n in x.shape[2:]:
        total = -n % multiple
        before.append(total // 2)
        after.append(total - total // 2)
    crop = tuple(slice(b, b + n) for b, n in zip(before, x.shape[2:]))
    if not any(before) and not any(after):
        return x, crop  # type: ignore[return-value]
    # F.pad lists (before, after) pairs from the last axis backwards.
    pads = [p for axis in reversed(range(3)) for p in (before[axis], after[axis])]
    return F.pad(x, pads), crop  # type: ignore[return-value]


def padded_forward(
    forward: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, multiple: int
) -> torch.Tensor:
    """``forward`` applied to ``x`` zero-padded to ``multiple``, cropped back to x's extent.

    Args:
        forward: maps [B, C, X', Y', Z'] (X', Y', Z' multiples of ``multiple``) to
            [B, K, X', Y', Z'].
        x: float [B, C, X, Y, Z], any spatial size.
        multiple: the network's total downsampling factor, 2 ** (levels - 1).

    Returns:
        [B, K, X, Y, Z].
    """
    padded, crop = pad_to_multiple(x, multiple)
    return forward(padded)[(..., *crop)]


def check_input(x: torch.Tensor, in_channels: int, network: str) -> None:
    """Raise ValueError unless ``x`` is a float [B, in_channels, X, Y, Z] tensor."""
    if x.ndim != 5 or x.shape[1] != in_channels:
        raise ValueError(
            f"{network} takes a [B, {in_channels}, X, Y, Z] tensor, got shape {tuple(x.shape)}; "
            "stack the modalities (and edit channels) on axis 1 and add a batch axis"
        )
    if not x.is_floating_point():
        raise ValueError(f"{network} takes a floating-point tensor, got {x.dtype}; convert with x.float()")


class Backbone(nn.Module):
    """Base of the segmentation networks: ``forward(x)`` checks x (float [B, in_channels,
    X, Y, Z], any X, Y, Z) and returns ``_forward`` of it zero-padded to ``divisor``,
    cropped back to [B, out_channels, X, Y, Z].

    Args:
        config: the subclass's constructor arguments (``in_channels`` among them), as a
            checkpoint records them and :attr:`config` returns them.
        divisor: the network's total downsampling factor (1: none).
    """

    def __init__(self, config: dict[str, Any], divisor: int = 1) -> None:
        super().__init__()
        self._config = dict(config)
        self.in_channels = int(config["in_channels"])
        self.divisor = int(divisor)

    @property
    def config(self) -> dict[str, Any]:
        """The constructor arguments, as a checkpoint records them."""
        return dict(self._config)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.in_channels, type(self).__name__)
        return padded_forward(self._forward, x, self.divisor)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, in_channels, X', Y', Z'] with X', Y', Z' multiples of ``divisor`` -> logits."""
        raise NotImplementedError
