"""DeepIGeoS's resolution-preserving network (Wang et al., TPAMI 2018), for P-Net and R-Net.

No downsampling: five blocks of ReLU convolutions whose dilation doubles from block to
block (1, 2, 4, 8, 16). Each block opens with a 3x3x3 convolution and goes on with
3x3x1 (in-plane, axial) ones: one more in blocks 1-2, two more in blocks 3-5. Every
block's output is compressed by a 1x1x1 convolution to a quarter of its features; the
five compressed maps are concatenated and go through the head: dropout, 1x1x1
convolution, ReLU, dropout, 3x3x3 convolution to the logits.

P-Net (the proposal network) takes the modalities; R-Net (the refinement network) the
same modalities plus P-Net's segmentation and the foreground and background geodesic
maps of the user's seeds: the same network with ``in_channels`` larger by 3.

The receptive field is 183 x 183 x 65 voxels (X, Y, Z); every convolution is
zero-padded to keep the size, so any X, Y, Z goes through unchanged.
"""

from __future__ import annotations

import torch
from torch import nn

from baselines.networks.backbone import Backbone

DILATIONS = (1, 2, 4, 8, 16)


def _block(c_in: int, features: int, dilation: int, in_plane_convs: int) -> nn.Sequential:
    """A 3x3x3 convolution then ``in_plane_convs`` 3x3x1 ones, all dilated, each with ReLU."""
    layers: list[nn.Module] = [nn.Conv3d(c_in, features, 3, padding=dilation, dilation=dilation), nn.ReLU(inplace=True)]
    for _ in range(in_plane_convs):
        layers += [
            nn.Conv3d(features, features, (3, 3, 1), padding=(dilation, dilation, 0), dilation=(dilation, dilation, 1)),
            nn.ReLU(inplace=True),
        ]
    return nn.Sequential(*layers)


class PNet(Backbone):
    """DeepIGeoS P-Net / R-Net 3D, without the CRF.

    Args:
        in_channels: input channels (the modalities for P-Net; + 3 for R-Net).
        out_channels: logit channels (1 for whole tumour).
        features: features per block (64 in DeepIGeoS); a multiple of 4, as blocks are
            compressed to ``features // 4``.
        dropout: dropout before each of the head's two convolutions (0.5 in DeepIGeoS).

    ``forward(x)``: x float [B, in_channels, X, Y, Z], any X, Y, Z; returns logits
    [B, out_channels, X, Y, Z].
    """

    def __init__(self, in_channels: int = 4, out_channels: int = 1, features: int = 16, dropout: float = 0.5):
        if in_channels < 1 or out_channels < 1:
            raise ValueError(f"PNet: in_channels and out_channels must be positive, got {in_channels}, {out_channels}")
        if features < 4 or features % 4:
            raise ValueError(f"PNet: features must be a positive multiple of 4, got {features}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"PNet: dropout must be in [0, 1), got {dropout}")
        super().__init__(dict(in_channels=in_channels, out_channels=out_channels, features=features, dropout=dropout))
        compressed = features // 4
        self.blocks = nn.ModuleList(
            _block(in_channels if i == 0 else features, features, d, 1 if i < 2 else 2) for i, d in enumerate(DILATIONS)
        )
        self.compress = nn.ModuleList(
            nn.Sequential(nn.Conv3d(features, compressed, 1), nn.ReLU(inplace=True)) for _ in DILATIONS
        )
        self.head = nn.Sequential(
            nn.Dropout(dropout),
            nn.Conv3d(compressed * len(DILATIONS), features, 1),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Conv3d(features, out_channels, 3, padding=1),
        )
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        compressed = []
        for block, compress in zip(self.blocks, self.compress):
            x = block(x)
            compressed.append(compress(x))
        return self.head(torch.cat(compressed, dim=1))
