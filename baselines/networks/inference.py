"""Whole-volume inference: crop to the brain, one forward pass or sliding windows, paste back.

A network trained on patches still segments a whole case: when the brain's bounding
box has at most ``max_voxels`` voxels it goes through the network at once (the
backbones pad it to their downsampling factor); otherwise overlapping windows of
``window`` voxels are run and their logits averaged. Outside the brain the logits are
a large negative number (background).
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from baselines.training.patches import brain_box

#: Logit given to voxels outside the brain's box (sigmoid ~ 0).
OUTSIDE = -20.0


@dataclass(frozen=True)
class InferenceSettings:
    """How a volume goes through the network.

    Attributes:
        device: "cpu" or "cuda".
        max_voxels: largest brain box run in one pass (the default, 160^3, fits a
            base-16 Isensee network in about 20 GiB of GPU memory in half precision;
            at 96x96x64 phantoms everything is one pass).
        window: sliding-window size (X, Y, Z) for larger boxes.
        overlap: fraction of a window shared with its neighbour, in [0, 1).
        margin: voxels kept around the brain box.
        amp: half-precision autocast (CUDA only).
    """

    device: str = "cpu"
    max_voxels: int = 160**3
    window: tuple[int, int, int] = (128, 128, 128)
    overlap: float = 0.5
    margin: int = 4
    amp: bool = True

    def __post_init__(self) -> None:
        if self.device not in ("cpu", "cuda"):
            raise ValueError(f"device must be 'cpu' or 'cuda', got {self.device!r}")
        if self.device == "cuda" and not torch.cuda.is_available():
            raise ValueError("device 'cuda' asked for, but torch sees no CUDA GPU; use --device cpu")
        if not 0.0 <= self.overlap < 1.0:
            raise ValueError(f"overlap must lie in [0, 1), got {self.overlap}")
        if self.max_voxels < 1 or min(self.window) < 1:
            raise ValueError("max_voxels and window sizes must be positive")


def window_starts(length: int, window: int, overlap: float) -> list[int]:
    """Start indices of windows covering [0, length) with the given overlap; the last
    window ends at ``length`` (a single start 0 when the window covers it all)."""
    if window >= length:
        return [0]
    step = max(1, int(window * (1.0 - overlap)))
    starts = list(range(0, length - window, step))
    return starts + [length - window]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def sliding_logits(model: nn.Module, x: torch.Tensor, settings: InferenceSettings) -> tuple[torch.Tensor, float]:
    """Logits for ``x`` from one pass or averaged sliding windows.

    Args:
        model: maps [1, C, x, y, z] to [1, 1, x, y, z], in eval mode, on x's device.
        x: float [1, C, X, Y, Z].

    Returns:
        float32 logits [X, Y, Z] on x's device, and the milliseconds spent in forward
        passes (synchronised on CUDA).
    """
    shape = x.shape[2:]
    autocast = torch.autocast("cuda", dtype=torch.float16, enabled=settings.amp and x.device.type == "cuda")
    forward_ms = 0.0

    def forward(part: torch.Tensor) -> torch.Tensor:
        nonlocal forward_ms
        _sync(x.device)
        t0 = time.perf_counter()
        with autocast:
            out = model(part)[0, 0].float()
        _sync(x.device)
        forward_ms += (time.perf_counter() - t0) * 1e3
        return out

    with torch.inference_mode():
        if int(np.prod(shape)) <= settings.max_voxels:
            return forward(x), forward_ms
        window = [min(w, n) for w, n in zip(settings.window, shape)]
        total = torch.zeros(shape, dtype=torch.float32, device=x.device)
        count = torch.zeros(shape, dtype=torch.float32, device=x.device)
        starts = [window_starts(n, w, settings.overlap) for n, w in zip(shape, window)]
        for corner in itertools.product(*starts):
            box = tuple(slice(s, s + w) for s, w in zip(corner, window))
            total[box] += forward(x[(slice(None), slice(None), *box)])
            count[box] += 1.0
        return total / count, forward_ms


def predict_logits(
    model: nn.Module, image: np.ndarray, edits: np.ndarray | None, settings: InferenceSettings
) -> tuple[np.ndarray, float]:
    """Whole-volume logits of ``model`` for an image and its edit channels.

    Args:
        model: a backbone on ``settings.device``, in eval mode, taking M + E channels.
        image: float32 [M, X, Y, Z], the modalities (background exactly 0: it defines
            the brain box).
        edits: float32 [E, X, Y, Z] edit channels (benchmark.edits.encode), or None for
            a network without them.

    Returns:
        float32 logits [X, Y, Z] (``OUTSIDE`` beyond the brain box), and the forward
        milliseconds (without cropping, copying and pasting).
    """
    box = brain_box(image, settings.margin)
    parts = [image[(slice(None), *box)]] + ([] if edits is None else [edits[(slice(None), *box)]])
    x = torch.from_numpy(np.concatenate(parts, axis=0)).to(settings.device)[None]
    logits, forward_ms = sliding_logits(model, x, settings)
    out = np.full(image.shape[1:], OUTSIDE, np.float32)
    out[box] = logits.cpu().numpy()
    return out, forward_ms
