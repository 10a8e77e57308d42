"""3D U-Net (Cicek et al. 2016), the paper's second backbone.

Encoder level i (after a 2x2x2 max-pool for i > 0) is two conv3 + norm + ReLU with
``base * 2**i`` then ``base * 2**(i+1)`` channels (base 32 gives Cicek's 32-64, 64-128,
128-256, 256-512). Each decoder level upsamples x2 keeping the channels (a 2x2x2
transposed conv as in Cicek, or nearest/trilinear interpolation), concatenates the
encoder's level and applies two conv3 + norm + ReLU at that level's width; a 1x1 conv
gives the logits.
"""

from __future__ import annotations

import torch
from torch import nn

from baselines.networks.backbone import Backbone

NORMS = {"instance": nn.InstanceNorm3d, "batch": nn.BatchNorm3d}
UPSAMPLINGS = ("transposed", "nearest", "trilinear")


def _double_conv(c_in: int, c_mid: int, c_out: int, norm: type[nn.Module]) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv3d(c_in, c_mid, 3, padding=1, bias=False), norm(c_mid, affine=True), nn.ReLU(inplace=True),
        nn.Conv3d(c_mid, c_out, 3, padding=1, bias=False), norm(c_out, affine=True), nn.ReLU(inplace=True),
    )  # fmt: skip


class UNet3D(Backbone):
    """Cicek 2016 3D U-Net.

    Args:
        in_channels: input channels (4 modalities, or 4 + 3 edit channels).
        out_channels: logit channels (1 for whole tumour).
        base: channels of the first conv (32 in Cicek).
        levels: resolution levels, at least 2 (4 in Cicek); inputs are padded to a
            multiple of 2 ** (levels - 1).
        norm: "instance" (default: robust at the batch sizes of 1-2 that 3D volumes
            allow) or "batch" (Cicek's choice).
        upsampling: "transposed" (Cicek's 2x2x2 up-convolution), "nearest" or
            "trilinear" (parameter-free; the following conv3s do the learning).

    ``forward(x)``: x float [B, in_channels, X, Y, Z], any X, Y, Z; returns logits
    [B, out_channels, X, Y, Z].
    """

    def __init__(
        self,
        in_channels: int = 4,
        out_channels: int = 1,
        base: int = 32,
        levels: int = 4,
        norm: str = "instance",
        upsampling: str = "transposed",
    ):
        if in_channels < 1 or out_channels < 1 or base < 1:
            raise ValueError(
                f"UNet3D: in_channels, out_channels and base must be positive, got {in_channels}, {out_channels}, {base}"
            )
        if levels < 2:
            raise ValueError(f"UNet3D: levels must be at least 2, got {levels}")
        if norm not in NORMS:
            raise ValueError(f"UNet3D: norm must be one of {tuple(NORMS)}, got {norm!r}")
        if upsampling not in UPSAMPLINGS:
            raise ValueError(f"UNet3D: upsampling must be one of {UPSAMPLINGS}, got {upsampling!r}")
        super().__init__(dict(in_channels=in_channels, out_channels=out_channels, base=base, levels=levels,
                              norm=norm, upsampling=upsampling), divisor=2 ** (levels - 1))
        norm_layer = NORMS[norm]
        # Encoder level i outputs out[i] = base * 2**(i+1) channels.
        out = [base * 2 ** (i + 1) for i in range(levels)]

        self.encoder = nn.ModuleList(
            _double_conv(in_channels if i == 0 else out[i - 1], base * 2**i, out[i], norm_layer) for i in range(levels)
        )
        self.pool = nn.MaxPool3d(2)
        # up[i] brings out[i + 1] channels from level i + 1 to level i's resolution.
        self.up = nn.ModuleList(
            nn.ConvTranspose3d(out[i + 1], out[i + 1], 2, stride=2)
            if upsampling == "transposed"
            else nn.Upsample(scale_factor=2, mode=upsampling)
            for i in range(levels - 1)
        )
        self.decoder = nn.ModuleList(
            _double_conv(out[i + 1] + out[i], out[i], out[i], norm_layer) for i in range(levels - 1)
        )
        self.head = nn.Conv3d(out[0], out_channels, 1)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for i, level in enumerate(self.encoder):
            x = level(x if i == 0 else self.pool(x))
            skips.append(x)
        skips.pop()  # the bottom level is x itself
        for i in reversed(range(len(self.up))):
            x = self.decoder[i](torch.cat([self.up[i](x), skips[i]], dim=1))
        return self.head(x)
