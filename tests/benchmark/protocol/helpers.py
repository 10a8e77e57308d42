"""Building blocks of the protocol tests: the cases, a base protocol, tiny checkpoints."""

from __future__ import annotations

from pathlib import Path

import torch
import yaml

from baselines.networks.checkpoint import InputSpec, save_checkpoint
from baselines.networks import make_backbone

CASES = ["Brats18_SIM_000_1", "Brats18_SIM_001_1", "Brats18_SIM_002_1", "Brats18_SIM_003_1"]


def checkpoint(path: Path, split: dict, training: dict | None = None) -> Path:
    """A tiny network checkpoint with the given split (only the split is read here)."""
    torch.manual_seed(0)
    net = make_backbone("isensee", in_channels=4, base=2, levels=2, dropout=0.0)
    return save_checkpoint(path, net, backbone="isensee", config=net.config,
                           inputs=InputSpec(("flair", "t1", "t1ce", "t2"), 0, "z-score"),
                           training=training or {}, split=split, epoch=1)


def base_protocol(data: Path) -> dict:
    return {
        "name": "tiny",
        "data": str(data),
        "cases": CASES[:2],
        "seed": 3,
        "metrics": {"hd95": False},
        "methods": {"paint": "manual-paint"},
        "experiments": [
            {"id": "a", "label": "(a) paint", "method": "paint", "user": "none", "rounds": 0},
            {"id": "b", "label": "(b) one edit", "method": "paint", "user": "multi:target_dice=0.99", "rounds": 1},
            {"id": "c", "method": "paint", "user": "multi:target_dice=0.99", "rounds": 2},
        ],
    }


def write(folder: Path, protocol: dict, name: str = "p.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(protocol, sort_keys=False))
    return path
