"""One interactive session: a method and a simulated user working on one case.

```
round 0:  method.predict(image, no edits)            -> prediction -> row
round r:  user.propose(state) -> edits (none: stop)     history += edits
          method.predict(image, supported history)   -> prediction -> row
stop:     Dice target reached, the user is done, or the round budget is spent
```

A call that takes longer than ``time_limit_s`` (or raises
:class:`~benchmark.method.CallTimedOut`) is marked ``timed_out`` and its prediction
replaced: by the previous round's (``on_timeout="keep"``; an empty mask in round 0) or by
an empty mask (``"empty"``, what the CVPR 2025 challenge scores for a missing output).

The method gets the label-free :class:`~benchmark.case.CaseImage` and the edits of the
tools it supports; edits of other tools stay in the user's history (the user made them)
and are recorded as unsupported in the round's row.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from benchmark.case import Case
from benchmark.digests import mask_digest
from benchmark.effort import EffortModel, opening_slice, round_effort
from benchmark.edits import Adjustment, Box, Click, Edit, EditHistory, Stroke
from benchmark.edit_quality import component_errors, edit_voxels, fixed_broken, locality
from benchmark.method import CallTimedOut, Method
from benchmark.metrics import dice, hd95, surface_dice
from benchmark.policy import Policy, RoundState
from benchmark.results import RoundRecord


#: Metric conventions a protocol may ask for.
CONVENTIONS = ("simedit", "cvpr25")
#: What replaces a prediction that passed the time limit.
ON_TIMEOUT = ("keep", "empty")


@dataclass(frozen=True)
class SessionConfig:
    """How long a session may go on and what it measures.

    Attributes:
        max_rounds: budget of editing rounds after the initial prediction (>= 0).
        target_dice: stop as soon as a prediction reaches this Dice (None: only the
            budget and the user end the session).
        hd95: compute HD95 per round (costs a distance transform per round).
        nsd_mm: compute NSD per round at this tolerance in mm (None: not computed).
        conventions: "simedit" (NSD counts surface voxels, as MONAI's default) or
            "cvpr25" (the challenge's: DeepMind's area-weighted surface elements, NSD 0
            when Dice <= 0.2; see :mod:`benchmark.challenge_scores`).
        time_limit_s: wall-clock limit of one ``predict`` call (None: none).
        on_timeout: "keep" (the previous prediction stands) or "empty" (an empty mask).
        locality_mm: the radius of the locality measure (changed voxels farther than this
            from every edit voxel of the round count as far).
        effort: the seconds a person would spend per edit (``effort_s`` in the rows).
    """

    max_rounds: int = 5
    target_dice: float | None = None
    hd95: bool = True
    nsd_mm: float | None = None
    conventions: str = "simedit"
    time_limit_s: float | None = None
    on_timeout: str = "keep"
    locality_mm: float = 10.0
    effort: EffortModel = field(default_factory=EffortModel)

    def __post_init__(self) -> None:
        if self.max_rounds < 0:
            raise ValueError(f"max_rounds must be >= 0, got {self.max_rounds}")
        if self.target_dice is not None and not 0.0 < self.target_dice <= 1.0:
            raise ValueError(f"target_dice must lie in (0, 1], got {self.target_dice}")
        if self.nsd_mm is not None and not (np.isfinite(self.nsd_mm) and self.nsd_mm >= 0):
            raise ValueError(f"nsd_mm must be a tolerance >= 0 in mm, got {self.nsd_mm!r}")
        if self.conventions not in CONVENTIONS:
            raise ValueError(f"conventions must be one of {', '.join(CONVENTIONS)}, got {self.conventions!r}")
        if self.time_limit_s is not None and not (np.isfinite(self.time_limit_s) and self.time_limit_s > 0):
            raise ValueError(f"time_limit_s must be a positive number of seconds, got {self.time_limit_s!r}")
        if self.on_timeout not in ON_TIMEOUT:
            raise ValueError(f"on_timeout must be one of {', '.join(ON_TIMEOUT)}, got {self.on_timeout!r}")
        if not (np.isfinite(self.locality_mm) and self.locality_mm >= 0):
            raise ValueError(f"locality_mm must be a radius >= 0 in mm, got {self.locality_mm!r}")
        if isinstance(self.effort, dict):  # from run.json
            object.__setattr__(self, "effort", EffortModel.from_mapping(self.effort))

    def nsd(self, pred: np.ndarray, label: np.ndarray, spacing: tuple[float, float, float], dsc: float) -> float:
        """This round's NSD by the configured conventions (NaN when not asked for)."""
        if self.nsd_mm is None:
            return float("nan")
        if self.conventions == "cvpr25":
            from benchmark.challenge_scores import challenge_nsd  # the surfel tables load only when asked for

            return challenge_nsd(dsc, pred, label, spacing, self.nsd_mm)
        return surface_dice(pred, label, spacing, self.nsd_mm)


@dataclass(frozen=True)
class SessionResult:
    """What a session produced: its rows, its edits per round and why it stopped.

    Attributes:
        masks: every round's prediction, bool [R + 1, X, Y, Z] (round 0 first), when
            :func:`run_session` was asked to keep them; None otherwise.
    """

    rounds: tuple[RoundRecord, ...]
    edits: tuple[tuple[Edit, ...], ...]
    stop_reason: str
    final_prediction: np.ndarray
    masks: np.ndarray | None = None

    @property
    def final_dice(self) -> float:
        return self.rounds[-1].dice

    @property
    def n_edits(self) -> int:
        return self.rounds[-1].n_edits

    def edit_log(self) -> list[dict[str, Any]]:
        """One JSON-ready entry per round with edits."""
        first = self.rounds[0]
        seed = {"user_seed": first.user_seed} if first.user_seed else {}  # 0 left out: files as before repeats
        return [
            {"case": first.case, "method": first.method, "user": first.user, **seed, "round": r,
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


@dataclass(frozen=True, eq=False)
class Call:
    """One ``predict`` call: its mask (bool [X, Y, Z]), times in ms, and whether it timed out."""

    mask: np.ndarray
    model_ms: float
    forward_ms: float
    timed_out: bool = False


def _predict(method: Method, image, history: EditHistory, shape, config: SessionConfig,
             previous: np.ndarray | None) -> Call:
    t0 = time.perf_counter()
    said_timed_out, pred = False, None
    try:
        pred = method.predict(image, history)
    except CallTimedOut:
        said_timed_out = True
    ms = (time.perf_counter() - t0) * 1e3
    forward_ms = float(getattr(method, "last_forward_ms", float("nan")))
    limit = config.time_limit_s
    if said_timed_out or (limit is not None and ms > limit * 1e3):
        kept = previous if config.on_timeout == "keep" and previous is not None else np.zeros(shape, bool)
        return Call(kept, ms, forward_ms, True)
    return Call(as_mask(pred, shape, f"method {method.name!r}"), ms, forward_ms)


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
                rng: np.random.Generator, *, user_name: str | None = None, keep_masks: bool = False,
                user_seed: int = 0) -> SessionResult:
    """Run the editing loop on one case.

    Args:
        case: the case, with its label (only the user looks at it).
        method: the editing method under test.
        user: the simulated user.
        config: budget, stopping target, metrics.
        rng: the session's random generator, handed to the user each round.
        user_name: the user's name in the rows (default ``user.name``; the runner
            passes the full spec, e.g. ``multi:target_dice=0.95``).
        keep_masks: return every round's prediction in ``masks`` (for ``--save-masks``).
        user_seed: which person of a population the user is, for the rows.
    """
    image = case.without_label()
    shape = case.label.shape
    voxel_ml = float(np.prod(case.spacing)) / 1000.0
    history = EditHistory()  # everything the user did
    supported = EditHistory()  # what the method is given

    effort_s, shown = 0.0, opening_slice(shape)

    def row(r: int, call: Call, edits: tuple[Edit, ...], user_ms: float, before: np.ndarray | None) -> RoundRecord:
        nonlocal effort_s, shown
        pred = call.mask
        score = dice(pred, case.label)
        fp_ml, fn_ml = component_errors(pred, case.label, case.spacing)
        change: dict[str, float] = {}
        if before is not None:
            fixed, broken = fixed_broken(before, pred, case.label)
            given = [e for e in edits if e.tool in method.tools]  # what the method acted on
            far, reach = locality(before, pred, edit_voxels(given, shape), case.spacing, config.locality_mm)
            seconds, shown = round_effort(edits, case.spacing, config.effort, shown, shape)
            effort_s += seconds
            change = dict(fixed=fixed, broken=broken, fixed_ml=fixed * voxel_ml, broken_ml=broken * voxel_ml,
                          far_share=far, reach_mm=reach)
        return RoundRecord(
            case=case.case_id, method=method.name, user=user_name or user.name, round=r,
            dice=score,
            hd95=hd95(pred, case.label, case.spacing) if config.hd95 else float("nan"),
            n_edits=len(history), tools=";".join(e.tool for e in edits),
            unsupported=";".join(e.tool for e in edits if e.tool not in method.tools),
            user_ms=user_ms, model_ms=call.model_ms, forward_ms=call.forward_ms,
            volume_ml=np.count_nonzero(pred) * voxel_ml,
            nsd=config.nsd(pred, case.label, case.spacing, score), timed_out=int(call.timed_out),
            fp_ml=fp_ml, fn_ml=fn_ml, effort_s=effort_s, pred_sha=mask_digest(pred), user_seed=user_seed, **change,
        )

    call = _predict(method, image, supported, shape, config, None)
    pred = call.mask
    rows = [row(0, call, (), 0.0, None)]
    masks = [pred] if keep_masks else None
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
        before = pred
        call = _predict(method, image, supported, shape, config, pred)
        pred = call.mask
        rows.append(row(r, call, edits, user_ms, before))
        if masks is not None:
            masks.append(pred)
    else:
        if config.target_dice is not None and rows[-1].dice >= config.target_dice:
            stop = "target"
    return SessionResult(tuple(rows), history.rounds, stop, pred, None if masks is None else np.stack(masks))
