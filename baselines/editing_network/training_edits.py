"""Simulated edits for training the editing network G (the paper's E_auto, Sections 2.1, 2.3).

F's prediction on each training case is compared with the ground truth by the
training-time users (``benchmark.registry.make_user(tool, "train")``: large selection
components only, at most one long stroke, K clipped to +-0.5). Each tool's edits are
simulated once per case; every training sample then keeps a random subset of the tools,
the empty subset included, so that G also learns to segment without edits.

F's predictions are cached on disk, one file per case, in a folder named after the
SHA-256 of F's checkpoint file: a retrained F never serves stale predictions.

One addition (off in the paper preset, which follows the paper) teaches G more than
one set of edits per case can (the training users are deterministic: one prediction,
one set of edits):

- ``target_shifts_mm``: the truth a sample is edited towards is the ground truth with
  its boundary moved out (> 0) or in (< 0) by a few millimetres, as another rater might
  draw it (:func:`shifted`). The edits are still the paper's, simulated by comparing F's
  prediction with that truth, and the sample's target is that truth. F's errors on the
  phantoms are mostly of one sign (K < 0 rare); the shifts give G both signs at every
  size, so that K and the clicks steer its volume both ways. Samples without edits
  always target the ground truth itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import edt
import numpy as np

from benchmark.edits import PAPER_TOOLS, Edit, EditHistory
from benchmark.policy import RoundState
from benchmark.registry import make_user
from policies.adjustment import K_LIMIT

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


def shifted(label: np.ndarray, shift_mm: float, spacing: Sequence[float] = (1.0, 1.0, 1.0)) -> np.ndarray:
    """bool [X, Y, Z]: ``label`` with its boundary moved by ``shift_mm``.

    ``shift_mm`` > 0 adds every voxel within that distance of the label (Euclidean, in
    mm with ``spacing``), < 0 removes every label voxel within ``-shift_mm`` of the
    background; 0 returns the label. An empty label stays empty.
    """
    label = np.asarray(label, bool)
    if shift_mm == 0 or not label.any():
        return label.copy()
    anisotropy = tuple(float(s) for s in spacing)
    if shift_mm > 0:
        return label | (edt.edt(~label, anisotropy=anisotropy, black_border=False) <= shift_mm)
    return label & (edt.edt(label, anisotropy=anisotropy, black_border=False) > -shift_mm)


@dataclass(frozen=True)
class EditedTarget:
    """One truth a training sample may edit towards, and each tool's edits towards it.

    Attributes:
        target: bool [X, Y, Z], the truth (the ground truth, or it shifted).
        edits: {tool: edits}, simulated from F's prediction and ``target``.
        shift_mm: the boundary shift that made ``target``.
    """

    target: np.ndarray
    edits: Mapping[str, tuple[Edit, ...]]
    shift_mm: float = 0.0


def edited_targets(label: np.ndarray, prediction: np.ndarray, rng: np.random.Generator,
                   spacing: tuple[float, float, float] = (1.0, 1.0, 1.0),
                   options: Mapping[str, Mapping[str, Any]] | None = None,
                   shifts_mm: Sequence[float] = (0.0,)) -> tuple[EditedTarget, ...]:
    """Every shift's truth and edits for one case (:func:`simulate_tool_edits`).

    Args:
        label, prediction: bool [X, Y, Z], ground truth and F's prediction.
        shifts_mm: boundary shifts of the truth (:func:`shifted`); shifts that empty the
            label are left out (at least the ground truth itself stays), and so are those
            whose K the training user would clip (the truth over 2x or under 2/3 of F's
            volume: a clipped K understates how far the truth moved, and G trained on it
            answers K = +-0.5 with far more than the 2x or 0.67x it asks for).
    """
    out = []
    predicted = int(np.count_nonzero(prediction))
    for shift in shifts_mm:
        target = shifted(label, shift, spacing)
        if label.any() and not target.any():
            continue
        if shift != 0 and not _k_within_clip(predicted, int(np.count_nonzero(target))):
            continue
        out.append(EditedTarget(target, simulate_tool_edits(target, prediction, rng, spacing, options), float(shift)))
    if not out:
        out.append(EditedTarget(np.asarray(label, bool), simulate_tool_edits(label, prediction, rng, spacing, options)))
    return tuple(out)


def draw_sample(label: np.ndarray, pool: Sequence[EditedTarget], rng: np.random.Generator,
                tool_p: float, shift_only_with_k: bool = False) -> tuple[EditHistory, np.ndarray]:
    """One training sample's edits and target: a random tool subset (:func:`draw_tools`);
    none: no edits and the ground truth; else one pool entry, uniformly, with the drawn
    tools' edits and its truth (the ground truth when those tools made no edit there).
    ``shift_only_with_k``: a subset without the adjustment tool takes the ground truth's
    entry (``pool[0]``), so that only a K says the truth moved."""
    tools = draw_tools(rng, tool_p)
    if not tools:
        return EditHistory(), label
    shifted_ok = not shift_only_with_k or "adjustment" in tools
    entry = pool[int(rng.integers(len(pool)))] if shifted_ok else pool[0]
    history = sample_history(entry.edits, tools)
    return (history, entry.target) if len(history) else (history, label)  # no edit: nothing says the truth moved


def _k_within_clip(predicted: int, target: int) -> bool:
    """Does the K that turns a prediction of ``predicted`` voxels into ``target`` voxels lie
    within the training adjustment user's clip (:data:`policies.adjustment.K_LIMIT`)?"""
    limit = K_LIMIT["train"]
    return limit is None or target == 0 or abs(1 - predicted / target) <= limit
