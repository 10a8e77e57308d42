"""Isensee et al. 2017 (BraTS): the paper's backbone for the base network F and the editor G.

Encoder level i has ``base * 2**i`` channels. Level 0 starts with a conv3, deeper levels
with a stride-2 conv3; each then adds a pre-activation residual context module
(instance norm, leaky ReLU, conv3, channel dropout, instance norm, leaky ReLU, conv3) and
normalises the sum. The decoder climbs with upsampling modules (upsample x2, conv3 halving
the channels), concatenates the encoder's level, and applies a localisation module (conv3,
then conv1 halving the channels); level 0 ends with a conv3 instead. Deep supervision:
1x1 segmentation maps from the three finest decoder levels, each upsampled and added to
the next finer one, form the logits.

Only the summed logits are returned: a loss on them reaches every segmentation head (the
sum's gradient flows into each), which is how Isensee 2017 trained; per-level losses on
downsampled targets (nnU-Net style) are not offered.
"""

from __future__ import annotations

import torch
from torch import nn

from baselines.networks.backbone import Backbone

_SLOPE = 0.01
UPSAMPLE_MODES = ("nearest", "trilinear")


def _norm_act(channels: int) -> list[nn.Module]:
    return [nn.InstanceNorm3d(channels, affine=True), nn.LeakyReLU(_SLOPE, inplace=True)]


def _conv_norm_act(c_in: int, c_out: int, kernel: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv3d(c_in, c_out, kernel, padding=kernel // 2, bias=False), *_norm_act(c_out))


class _ContextLevel(nn.Module):
    """Entry conv (stride 1 or 2), residual context module, then norm and activation."""

    def __init__(self, c_in: int, c_out: int, stride: int, dropout: float):
        super().__init__()
        self.entry = nn.Conv3d(c_in, c_out, 3, stride=stride, padding=1)
        self.context = nn.Sequential(
            *_norm_act(c_out),
            nn.Conv3d(c_out, c_out, 3, padding=1),
            nn.Dropout3d(dropout),
            *_norm_act(c_out),
            nn.Conv3d(c_out, c_out, 3, padding=1),
        )
        self.out = nn.Sequential(*_norm_act(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.entry(x)
        return self.out(h + self.context(h))


class IsenseeNet(Backbone):
    """Isensee 2017 residual U-Net with deep supervision.

    Args:
        in_channels: input channels (4 modalities for F; 4 + 3 edit channels for G).
        out_channels: logit channels (1 for whole tumour).
        base: channels at full resolution (16 in the paper: 16-32-64-128-256).
        levels: resolution levels, at least 2 (5 in the paper); inputs are padded to a
            multiple of 2 ** (levels - 1).
        dropout: channel dropout in the context modules (0.3 in the paper).
        upsample: "nearest" (the paper's upscale layer) or "trilinear", for the
            upsampling modules and the deep-supervision sums.

    ``forward(x)``: x float [B, in_channels, X, Y, Z], any X, Y, Z; returns logits
    [B, out_channels, X, Y, Z].
    """

    def __init__(
        self,
        in_channels: int = 4,
        out_channels: int = 1,
        base: int = 16,
        levels: int = 5,
        dropout: float = 0.3,
        upsample: str = "nearest",
    ):
        if in_channels < 1 or out_channels < 1 or base < 1:
            raise ValueError(
                f"IsenseeNet: in_channels, out_channels and base must be positive, "
                f"got {in_channels}, {out_channels}, {base}"
            )
        if levels < 2:
            raise ValueError(f"IsenseeNet: levels must be at least 2, got {levels}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"IsenseeNet: dropout must be in [0, 1), got {dropout}")
        if upsample not in UPSAMPLE_MODES:
            raise ValueError(f"IsenseeNet: upsample must be one of {UPSAMPLE_MODES}, got {upsample!r}")
        super().__init__(dict(in_channels=in_channels, out_channels=out_channels, base=base, levels=levels,
                              dropout=dropout, upsample=upsample), divisor=2 ** (levels - 1))
        width = [base * 2**i for i in range(levels)]

        self.encoder = nn.ModuleList(
            _ContextLevel(in_channels if i == 0 else width[i - 1], width[i], 1 if i == 0 else 2, dropout)
            for i in range(levels)
        )
        # up[i] brings level i + 1 to level i's resolution and width.
        self.up = nn.ModuleList(
            nn.Sequential(nn.Upsample(scale_factor=2, mode=upsample), _conv_norm_act(width[i + 1], width[i], 3))
            for i in range(levels - 1)
        )
        # Localisation modules for levels 1..levels-2; level 0 ends with a single conv3.
        self.localise = nn.ModuleList(
            _conv_norm_act(2 * width[0], 2 * width[0], 3)
            if i == 0
            else nn.Sequential(_conv_norm_act(2 * width[i], 2 * width[i], 3), _conv_norm_act(2 * width[i], width[i], 1))
            for i in range(levels - 1)
        )
        # Segmentation heads on the (up to) three finest decoder levels, finest first.
        self.heads = nn.ModuleList(
            nn.Conv3d(2 * width[0] if i == 0 else width[i], out_channels, 1) for i in range(min(3, levels - 1))
        )
        self.upsample_logits = nn.Upsample(scale_factor=2, mode=upsample)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for level in self.encoder:
            x = level(x)
            skips.append(x)
        logits = None
        for i in reversed(range(len(self.up))):
            x = self.localise[i](torch.cat([self.up[i](x), skips[i]], dim=1))
            if i < len(self.heads):
                seg = self.heads[i](x)
                logits = seg if logits is None else self.upsample_logits(logits) + seg
        return logits
