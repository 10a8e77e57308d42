import numpy as np
import pytest
import torch

from baselines.training.losses import near_edit_bce, soft_dice_loss


def test_matches_numpy_soft_dice():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 1, 5, 6, 7)).astype(np.float32)
    target = rng.random((2, 1, 5, 6, 7)) < 0.3
    p = 1 / (1 + np.exp(-logits.astype(np.float64)))
    expected = 1 - (2 * (p * target).sum() + 1) / (p.sum() + target.sum() + 1)
    got = soft_dice_loss(torch.from_numpy(logits), torch.from_numpy(target))
    assert got.item() == pytest.approx(expected, rel=1e-5)


def test_confident_right_answer_is_near_zero_and_wrong_near_one():
    target = torch.zeros(1, 1, 8, 8, 8, dtype=torch.bool)
    target[..., 2:6, 2:6, 2:6] = True
    right = torch.where(target, 20.0, -20.0)
    assert soft_dice_loss(right, target).item() < 1e-3
    assert soft_dice_loss(-right, target).item() > 0.99


def test_target_without_channel_axis_and_shape_mismatch():
    logits = torch.zeros(2, 1, 4, 4, 4)
    assert soft_dice_loss(logits, torch.ones(2, 4, 4, 4)).shape == ()
    with pytest.raises(ValueError, match="differ"):
        soft_dice_loss(logits, torch.ones(2, 1, 4, 4, 5))


def test_loss_decreases_over_a_few_steps_on_a_tiny_case():
    from baselines.networks import make_backbone
    from tests.helpers import tumour_case

    torch.set_num_threads(1)
    case = tumour_case(shape=(24, 24, 24), centre=(12, 12, 12), radius=6.0)
    x = torch.from_numpy(case.image)[None]
    y = torch.from_numpy(case.label)[None, None]
    torch.manual_seed(0)
    model = make_backbone("isensee", in_channels=4, base=4, levels=3, dropout=0.0)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(8):
        loss = soft_dice_loss(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] - 0.1


def test_near_edit_bce_is_the_mean_cross_entropy_over_the_near_voxels():
    torch.manual_seed(0)
    logits = torch.randn(2, 1, 4, 4, 4)
    target = (torch.rand(2, 1, 4, 4, 4) > 0.5).float()
    near = torch.zeros(2, 1, 4, 4, 4)
    near[0, 0, :2] = 1
    p = torch.sigmoid(logits)
    by_hand = -(target * torch.log(p) + (1 - target) * torch.log(1 - p))  # brute force, voxel by voxel
    assert near_edit_bce(logits, target, near).item() == pytest.approx(by_hand[near.bool()].mean().item(), rel=1e-5)
    assert near_edit_bce(logits, target, torch.zeros_like(near)).item() == 0.0
