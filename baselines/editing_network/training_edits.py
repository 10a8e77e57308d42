"""Simulated edits for training the editing network G (the paper's E_auto, Sections 2.1, 2.3).

F's prediction on each training case is compared with the ground truth by the
training-time users (``benchmark.registry.make_user(tool, "train")``: large selection
components only, at most one long stroke, K clipped to +-0.5). Each tool's edits are
simulated once per case; every training sample then keeps a random subset of the tools,
the empty subset included, so that G also learns to segment without edits.

F's predictions are cached on disk, one file per case, in a folder named after the
SHA-256 of F's checkpoint file: a retrained F never serves stale predictions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.edits import PAPER_TOOLS, Edit, EditHistory
from benchmark.policy import RoundState
from benchmark.registry import make_user

ToolEdits = Mapping[str, tuple[Edit, ...]]


class PredictionCache:
    """F's binary predictions on disk: ``<folder>/<digest[:16]>/<case_id>.npz``.

    Args:
        folder: where caches live (e.g. ``F.pt``'s folder + ``F.predictions``).
        digest: F's checkpoint digest (:func:`benchmark.digests.file_digest`).
    """

    def __init__(self, folder: str | Path, digest: str) -> None:
        self.folder = Path(folder) / digest[:16]

    def get(self, case_id: str, shape: tuple[int, int, int], compute: Callable[[], np.ndarray]) -> np.ndarray:
        """The cached bool [X, Y, Z] prediction of ``case_id``, computed and stored when
        missing or of another shape."""
        path = self.folder / f"{case_id}.npz"
        if path.is_file():
            with np.load(path) as stored:
                if tuple(stored["shape"]) == tuple(shape):
                    return np.unpackbits(stored["bits"], count=int(np.prod(shape))).reshape(shape).astype(bool)
        prediction = np.asarray(compute(), dtype=bool)
        if prediction.shape != tuple(shape):
            raise ValueError(f"prediction for {case_id} has shape {prediction.shape}, expected {tuple(shape)}")
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, bits=np.packbits(prediction), shape=np.asarray(shape))
        tmp.replace(path)
        return prediction


def simulate_tool_edits(
    label: np.ndarray,
    prediction: np.ndarray,
    rng: np.random.Generator,
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0),
    options: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, tuple[Edit, ...]]:
    """Each training-time tool's edits for one prediction.

    Args:
        label: bool [X, Y, Z], ground truth.
        prediction: bool [X, Y, Z], F's prediction.
        rng: handed to the policies.
        spacing: voxel size in mm (the policies' size limits are in mm).
        options: per tool, keyword arguments for its policy (e.g.
            ``{"selection": {"min_size": 100.0}}``); the training-mode defaults otherwise.

    Returns:
        {tool: edits} for every tool of ``benchmark.edits.PAPER_TOOLS`` (possibly empty).
    """
    state = RoundState(label, prediction, EditHistory(), 1, spacing)
    options = options or {}
    return {tool: tuple(make_user(tool, "train", **options.get(tool, {})).propose(state, rng)) for tool in PAPER_TOOLS}


def draw_tools(rng: np.random.Generator, tool_p: float) -> tuple[str, ...]:
    """A random subset of the tools, each kept with probability ``tool_p`` (the empty
    subset, a sample without edits, has probability (1 - tool_p) ** 3)."""
    return tuple(tool for tool in PAPER_TOOLS if rng.random() < tool_p)


def sample_history(edits: ToolEdits, tools: tuple[str, ...]) -> EditHistory:
    """One round holding the edits of ``tools`` only."""
    kept = [e for tool in tools for e in edits[tool]]
    return EditHistory().add(kept) if kept else EditHistory()
