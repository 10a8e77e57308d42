"""Run a network on any volume size: pad to its downsampling factor, crop the output back."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F


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
