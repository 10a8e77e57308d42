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


def near_edit_bce(logits: torch.Tensor, target: torch.Tensor, near: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy averaged over the voxels near an edit (0 when there are none).

    Args:
        logits, target: as :func:`soft_dice_loss`, [B, 1, X, Y, Z].
        near: bool or float [B, 1, X, Y, Z], 1 where a voxel is near a click or stroke.
    """
    near = near.to(torch.float32)
    count = near.sum()
    if count == 0:
        return logits.sum() * 0.0
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits.float(), target.to(torch.float32),
                                                               reduction="none")
    return (bce * near).sum() / count
