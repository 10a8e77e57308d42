"""One interactive session: a method and a simulated user working on one case.

```
round 0:  method.predict(image, no edits)            -> prediction -> row
round r:  user.propose(state) -> edits (none: stop)     history += edits
          method.predict(image, supported history)   -> prediction -> row
stop:     Dice target reached, the user is done, or the round budget is spent
```

The method gets the label-free :class:`~benchmark.case.CaseImage` and the edits of the
tools it supports; edits of other tools stay in the user's history (the user made them)
and are recorded as unsupported in the round's row.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmark.case import Case
from benchmark.edits import Adjustment, Box, Click, Edit, EditHistory, Stroke
from benchmark.method import Method
from benchmark.metrics import dice, hd95
from benchmark.policy import Policy, RoundState
from benchmark.results import RoundRecord


@dataclass(frozen=True)
class SessionConfig:
    """How long a session may go on and what it measures.

    Attributes:
        max_rounds: budget of editing rounds after the initial prediction (>= 0).
        target_dice: stop as soon as a prediction reaches this Dice (None: only the
            budget and the user end the session).
        hd95: compute HD95 per round (costs a distance transform per round).
    """

    max_rounds: int = 5
    target_dice: float | None = None
    hd95: bool = True

    def __post_init__(self) -> None:
        if self.max_rounds < 0:
            raise ValueError(f"max_rounds must be >= 0, got {self.max_rounds}")
        if self.target_dice is not None and not 0.0 < self.target_dice <= 1.0:
            raise ValueError(f"target_dice must lie in (0, 1], got {self.target_dice}")


@dataclass(frozen=True)
class SessionResult:
    """What a session produced: its rows, its edits per round and why it stopped."""

    rounds: tuple[RoundRecord, ...]
    edits: tuple[tuple[Edit, ...], ...]
    stop_reason: str
    final_prediction: np.ndarray

    @property
    def final_dice(self) -> float:
        return self.rounds[-1].dice

    @property
    def n_edits(self) -> int:
        return self.rounds[-1].n_edits

    def edit_log(self) -> list[dict[str, Any]]:
        """One JSON-ready entry per round with edits."""
        first = self.rounds[0]
        return [
            {"case": first.case, "method": first.method, "user": first.user, "round": r,
             "edits": [e.to_json() for e in edits]}
            for r, edits in enumerate(self.edits, start=1)
        ]


def as_mask(pred: object, shape: tuple[int, ...], who: str) -> np.ndarray:
    """A method's output as bool [X, Y, Z]: a bool array, or integers that are all 0 or 1.

    Raises:
        TypeError: anything else (another shape, probabilities, label values, not an
            array), with what came back and what to return instead.
    """
    try:
        array = np.asarray(pred)
    except Exception:  # noqa: BLE001 - whatever the object's __array__ raises
        array = np.asarray(None, dtype=object)
    if array.dtype == object or array.ndim == 0:
        raise TypeError(f"{who} returned {type(pred).__name__}; return a bool numpy array of shape {tuple(shape)}")
    if array.shape != tuple(shape):
        raise TypeError(f"{who} returned an array of shape {array.shape}; expected the image's {tuple(shape)} "
                        "(X, Y, Z, no channel axis)")
    if array.dtype == bool:
        return array
    if np.issubdtype(array.dtype, np.integer) and np.isin(np.unique(array), (0, 1)).all():
        return array.astype(bool)
    finite = array[np.isfinite(array)] if np.issubdtype(array.dtype, np.floating) else array
    span = f"values {finite.min():.4g}..{finite.max():.4g}" if finite.size else "no finite values"
    raise TypeError(f"{who} returned {array.dtype} with {span}, not a mask; return a bool array (e.g. "
                    "probabilities > 0.5, or label == 1)")


def _predict(method: Method, image, history: EditHistory, shape) -> tuple[np.ndarray, float, float]:
    t0 = time.perf_counter()
    pred = method.predict(image, history)
    ms = (time.perf_counter() - t0) * 1e3
    forward_ms = float(getattr(method, "last_forward_ms", float("nan")))
    return as_mask(pred, shape, f"method {method.name!r}"), ms, forward_ms


def check_edits(proposed: object, shape: tuple[int, ...], who: str) -> tuple[Edit, ...]:
    """A user's proposal as a tuple of edits inside the volume.

    Raises:
        TypeError: not a list of :data:`benchmark.edits.Edit` (Click, Stroke, Adjustment, Box).
        ValueError: a click or stroke voxel, or a box corner, outside the volume.
    """
    if proposed is None or isinstance(proposed, (str, bytes, dict)) or not hasattr(proposed, "__iter__"):
        raise TypeError(f"{who} proposed {type(proposed).__name__}; propose must return a list of edits "
                        "([] when it has nothing to fix)")
    edits = tuple(proposed)
    for edit in edits:
        if not isinstance(edit, (Click, Stroke, Adjustment, Box)):
            raise TypeError(f"{who} proposed a {type(edit).__name__} ({edit!r:.80}); an edit is a "
                            "benchmark.edits.Click, Stroke, Adjustment or Box")
        if not isinstance(edit, Adjustment):
            outside = ((edit.voxels < 0) | (edit.voxels >= np.asarray(shape))).any(axis=1)
            if outside.any():
                raise ValueError(f"{who} proposed a {edit.tool} edit outside the volume {tuple(shape)}: voxel "
                                 f"{edit.voxels[outside][0].tolist()}")
    return edits


def run_session(case: Case, method: Method, user: Policy, config: SessionConfig,
                rng: np.random.Generator, *, user_name: str | None = None) -> SessionResult:
    """Run the editing loop on one case.

    Args:
        case: the case, with its label (only the user looks at it).
        method: the editing method under test.
        user: the simulated user.
        config: budget, stopping target, metrics.
        rng: the session's random generator, handed to the user each round.
        user_name: the user's name in the rows (default ``user.name``; the runner
            passes the full spec, e.g. ``multi:target_dice=0.95``).
    """
    image = case.without_label()
    shape = case.label.shape
    voxel_ml = float(np.prod(case.spacing)) / 1000.0
    history = EditHistory()  # everything the user did
    supported = EditHistory()  # what the method is given

    def row(r: int, pred: np.ndarray, edits: tuple[Edit, ...], user_ms: float, times: tuple[float, float]) -> RoundRecord:
        return RoundRecord(
            case=case.case_id, method=method.name, user=user_name or user.name, round=r,
            dice=dice(pred, case.label),
            hd95=hd95(pred, case.label, case.spacing) if config.hd95 else float("nan"),
            n_edits=len(history), tools=";".join(e.tool for e in edits),
            unsupported=";".join(e.tool for e in edits if e.tool not in method.tools),
            user_ms=user_ms, model_ms=times[0], forward_ms=times[1],
            volume_ml=np.count_nonzero(pred) * voxel_ml,
        )

    pred, *times = _predict(method, image, supported, shape)
    rows = [row(0, pred, (), 0.0, tuple(times))]
    stop = "budget"
    for r in range(1, config.max_rounds + 1):
        if config.target_dice is not None and rows[-1].dice >= config.target_dice:
            stop = "target"
            break
        state = RoundState(case.label, pred, history, r, case.spacing, case.orientation)
        t0 = time.perf_counter()
        edits = check_edits(user.propose(state, rng), shape, f"user {user_name or user.name!r}")
        user_ms = (time.perf_counter() - t0) * 1e3
        if not edits:
            stop = "user"
            break
        history = history.add(edits)
        supported = supported.add(e for e in edits if e.tool in method.tools)
        pred, *times = _predict(method, image, supported, shape)
        rows.append(row(r, pred, edits, user_ms, tuple(times)))
    else:
        if config.target_dice is not None and rows[-1].dice >= config.target_dice:
            stop = "target"
    return SessionResult(tuple(rows), history.rounds, stop, pred)
