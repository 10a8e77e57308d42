"""Segmentation backbones by name (the paper's Isensee 2017 network, Cicek's 3D U-Net,
DeepIGeoS's P-Net), and what every network shares: the checkpoint format
(:mod:`~baselines.networks.checkpoint`) and sliding-window inference
(:mod:`~baselines.networks.inference`)."""

from __future__ import annotations

from torch import nn

from baselines.networks.isensee import IsenseeNet
from baselines.networks.pnet import PNet
from baselines.networks.unet3d import UNet3D
from benchmark.names import unknown_name

BACKBONES: dict[str, type[nn.Module]] = {"isensee": IsenseeNet, "unet3d": UNet3D, "pnet": PNet}


def backbone_error(name: str) -> str:
    """The message for an unknown backbone name, with a "did you mean" hint."""
    return unknown_name("backbone", name, BACKBONES)


def make_backbone(name: str, **config) -> nn.Module:
    """Build the backbone ``name`` ("isensee" or "unet3d") with constructor ``config``.

    Raises:
        ValueError: unknown name (with the closest known one) or a bad config value.
        TypeError: a config key the backbone does not take.
    """
    if name not in BACKBONES:
        raise ValueError(backbone_error(name))
    return BACKBONES[name](**config)


__all__ = ["BACKBONES", "IsenseeNet", "UNet3D", "backbone_error", "make_backbone"]
