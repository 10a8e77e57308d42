"""The checks every training set-up's settings share (F and G's, DeepIGeoS's)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def check_settings(config: Any, counts: Sequence[str], shares: Sequence[str]) -> tuple[int, int, int]:
    """Raise ValueError, naming the setting, unless ``config``'s shared settings are sane.

    Args:
        config: a training config with ``patch``, ``validation_fraction``, ``lr``,
            ``lr_decay`` and ``device``, and the attributes ``counts`` and ``shares`` name.
        counts: attributes that must be >= 1 (epochs, steps, batch size, ...).
        shares: attributes that are probabilities, in [0, 1].

    Returns:
        The patch size as a tuple of three ints (at least 8 each).
    """
    patch = tuple(int(p) for p in config.patch)
    if len(patch) != 3 or min(patch) < 8:
        raise ValueError(f"patch must be three sizes of at least 8 voxels, got {patch}")
    for name in counts:
        if getattr(config, name) < 1:
            raise ValueError(f"{name} must be >= 1, got {getattr(config, name)}")
    for name in shares:
        if not 0.0 <= getattr(config, name) <= 1.0:
            raise ValueError(f"{name} must lie in [0, 1], got {getattr(config, name)}")
    if not 0.0 <= config.validation_fraction < 1.0:
        raise ValueError(f"validation_fraction must lie in [0, 1), got {config.validation_fraction}")
    if config.lr <= 0 or not 0 < config.lr_decay <= 1:
        raise ValueError(f"lr must be > 0 and lr_decay in (0, 1], got {config.lr}, {config.lr_decay}")
    if config.device not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu' or 'cuda', got {config.device!r}")
    return patch  # type: ignore[return-value]
