"""How long one simulated-user step takes: the fast policies against literal scipy.

A user step is what the harness does between two predictions: the paper's user
proposes selection clicks, brush strokes and an adjustment (test mode), the edits are
encoded as the network's channels, and the prediction's Dice is recorded.
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

from benchmark.phantoms.corruption import simulate_prediction
from benchmark.edits import Edit, EditHistory, encode
from benchmark.errors import error_components
from benchmark.metrics import dice
from benchmark.phantoms.phantom import make_phantom
from benchmark.policy import RoundState
from policies.adjustment import AdjustmentPolicy
from policies.all_tools import AllToolsUser
from policies.brush import BrushPolicy
from policies.scipy_reference import user_step_scipy
from policies.selection import SelectionPolicy, min_voxels


def user_step(
    label: np.ndarray, prediction: np.ndarray, spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)
) -> tuple[list[Edit], np.ndarray, float]:
    """One round of the paper's user with all three tools, test mode.

    Args:
        label, prediction: bool [X, Y, Z].
        spacing: voxel size in mm along X, Y, Z.

    Returns:
        (edits, channels, dice): selection clicks, brush strokes and the adjustment in
        that order; their encoding float32 [3, X, Y, Z]; the prediction's Dice.
    """
    state = RoundState(label, prediction, spacing=spacing)
    edits = AllToolsUser().propose(state, np.random.default_rng(0))  # the paper's tools are deterministic
    return edits, encode(EditHistory().add(edits), label.shape), dice(prediction, label)


def bench_user_step(shape: tuple[int, int, int] = (240, 240, 155), repeats: int = 7, seed: int = 0) -> dict:
    """Time the fast user step and the scipy one, side by side, on a phantom.

    The phantom's prediction comes from :func:`simulate_prediction` (severity 1, spurious
    blobs inside the brain, i.e. where any modality is > 0).

    Returns:
        ``fast_ms`` and ``scipy_ms`` (medians over ``repeats``), ``speedup``
        (scipy / fast), ``parts_ms`` (medians of the fast step's parts: components,
        cores, brush, k, encode, dice), ``edits`` (count), ``dice``, ``shape``,
        ``repeats``.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    rng = np.random.default_rng(seed)
    phantom = make_phantom(shape, rng)
    label = phantom.label > 0
    brain = np.logical_or.reduce([m > 0 for m in phantom.modalities.values()])
    prediction = simulate_prediction(label, rng, brain)
    state = RoundState(label, prediction)

    fast: list[float] = []
    slow: list[float] = []
    for _ in range(repeats):  # interleaved, so both see the same machine state
        fast.append(_elapsed_ms(lambda: user_step(label, prediction)))
        slow.append(_elapsed_ms(lambda: user_step_scipy(label, prediction)))

    edits, _, score = user_step(label, prediction)
    components = error_components(label, prediction)
    ids = components.largest_first(min_voxels(SelectionPolicy().min_size, state.spacing))
    history = EditHistory().add(edits)
    parts: dict[str, Callable[[], object]] = {
        "components": lambda: error_components(label, prediction),
        "cores": lambda: [components.core(int(i)) for i in ids],
        "brush": lambda: BrushPolicy().propose(state, rng),
        "k": lambda: AdjustmentPolicy().propose(state, rng),
        "encode": lambda: encode(history, shape),
        "dice": lambda: dice(prediction, label),
    }
    parts_ms = {name: float(np.median([_elapsed_ms(f) for _ in range(repeats)])) for name, f in parts.items()}
    return {
        "shape": tuple(shape),
        "repeats": repeats,
        "fast_ms": float(np.median(fast)),
        "scipy_ms": float(np.median(slow)),
        "speedup": float(np.median(slow) / np.median(fast)),
        "parts_ms": parts_ms,
        "edits": len(edits),
        "dice": score,
    }


def _elapsed_ms(f: Callable[[], object]) -> float:
    start = time.perf_counter()
    f()
    return (time.perf_counter() - start) * 1e3
