"""Soft Dice loss for binary (whole-tumour) segmentation, as in Isensee et al. 2017."""

from __future__ import annotations

import torch


def soft_dice_loss(logits: torch.Tensor, target: torch.Tensor, smooth: float = 1.0) -> torch.Tensor:
    """1 - soft Dice of sigmoid(logits) against ``target``, pooled over the batch.

    Pooling the sums over the whole batch ("batch Dice") keeps patches without tumour
    from giving a loss of 1 whatever the network does.

    Args:
        logits: float [B, 1, X, Y, Z], the network's raw output.
        target: bool or float [B, 1, X, Y, Z] (or [B, X, Y, Z]) in {0, 1}.
        smooth: added to numerator and denominator; keeps an empty target and empty
            prediction at loss 0.

    Returns:
        A scalar tensor in [0, 1].
    """
    if target.ndim == logits.ndim - 1:
        target = target.unsqueeze(1)
    if logits.shape != target.shape:
        raise ValueError(f"soft_dice_loss: logits {tuple(logits.shape)} and target {tuple(target.shape)} differ")
    prob = torch.sigmoid(logits.float())
    target = target.to(prob.dtype)
    intersection = (prob * target).sum()
    total = prob.sum() + target.sum()
    return 1.0 - (2.0 * intersection + smooth) / (total + smooth)
