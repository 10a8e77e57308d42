"""Backbones: shapes on any input size, padding against an independent pad, and learning."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from baselines.networks import IsenseeNet, UNet3D, make_backbone
from baselines.editing_network.training_config import U_NETS  # P-Net (no downsampling) has its own tests
from baselines.networks.backbone import pad_to_multiple

torch.set_num_threads(1)


def ball_case(n: int = 24, radius: float = 6.0, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Image [1, 4, n, n, n] bright on a ball in channel 0, and its mask [1, 1, n, n, n]."""
    g = torch.Generator().manual_seed(seed)
    ax = torch.arange(n, dtype=torch.float32)
    d2 = (ax[:, None, None] - 11.5) ** 2 + (ax[None, :, None] - 10.0) ** 2 + (ax[None, None, :] - 13.0) ** 2
    label = (d2 <= radius**2).float()
    x = 0.5 * torch.randn(1, 4, n, n, n, generator=g)
    x[0, 0] += 2.0 * label
    return x, label[None, None]


def soft_dice_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    p = torch.sigmoid(logits)
    return 1 - (2 * (p * target).sum() + 1) / (p.sum() + target.sum() + 1)


@pytest.mark.parametrize("shape", [(19, 23, 17), (16, 16, 16), (1, 2, 3)])
def test_pad_to_multiple_pads_with_zeros_and_crops_back(shape):
    x = torch.randn(2, 3, *shape)
    padded, crop = pad_to_multiple(x, 8)
    assert all(n % 8 == 0 and 0 <= n - m < 8 for n, m in zip(padded.shape[2:], shape))
    assert torch.equal(padded[(..., *crop)], x)
    outside = torch.ones_like(padded, dtype=torch.bool)
    outside[(..., *crop)] = False
    assert not padded[outside].any()


@pytest.mark.parametrize("name", U_NETS)
@pytest.mark.parametrize("in_channels", [4, 7])
def test_any_input_size_gives_logits_of_that_size(name, in_channels):
    net = make_backbone(name, in_channels=in_channels, base=4).eval()
    with torch.no_grad():
        out = net(torch.randn(2, in_channels, 19, 23, 17))
    assert out.shape == (2, 1, 19, 23, 17)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", U_NETS)
def test_odd_input_equals_cropped_output_on_independently_padded_input(name):
    torch.manual_seed(1)
    net = make_backbone(name, in_channels=4, out_channels=2, base=4, levels=3).eval()
    x = np.random.default_rng(0).normal(size=(1, 4, 9, 14, 7)).astype(np.float32)
    # Divisor 4: 9 -> 12 (1 before, 2 after), 14 -> 16 (1, 1), 7 -> 8 (0, 1).
    ref_in = np.pad(x, [(0, 0), (0, 0), (1, 2), (1, 1), (0, 1)])
    with torch.no_grad():
        out = net(torch.from_numpy(x))
        ref = net(torch.from_numpy(ref_in))[:, :, 1:10, 1:15, 0:7]
    assert out.shape == (1, 2, 9, 14, 7)
    torch.testing.assert_close(out, ref)


def test_isensee_default_is_the_paper_network():
    net = IsenseeNet(in_channels=7)
    widths = [level.entry.out_channels for level in net.encoder]
    assert widths == [16, 32, 64, 128, 256]
    assert net.divisor == 16 and len(net.heads) == 3
    assert net.encoder[0].context[3].p == pytest.approx(0.3)


def test_unet3d_base32_has_cicek_widths():
    net = UNet3D(base=32)
    assert [level[3].out_channels for level in net.encoder] == [64, 128, 256, 512]
    assert net.divisor == 8


def test_wrong_channel_count_is_refused():
    net = make_backbone("isensee", in_channels=7, base=4)
    with pytest.raises(ValueError, match=r"\[B, 7, X, Y, Z\].*\(2, 4, 8, 8, 8\)"):
        net(torch.zeros(2, 4, 8, 8, 8))


def test_unknown_backbone_suggests_the_closest():
    with pytest.raises(ValueError, match="did you mean 'unet3d'"):
        make_backbone("unet")
    with pytest.raises(ValueError, match="levels"):
        make_backbone("isensee", levels=1)


@pytest.mark.parametrize("name", U_NETS)
def test_soft_dice_decreases_on_a_ball(name):
    torch.manual_seed(0)
    net = make_backbone(name, in_channels=4, base=4, levels=3)
    optimiser = torch.optim.Adam(net.parameters(), lr=1e-2)
    x, y = ball_case()
    losses = []
    for _ in range(20):
        optimiser.zero_grad()
        loss = soft_dice_loss(net(x), y)
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert np.mean(losses[-3:]) < 0.85 * np.mean(losses[:3])
