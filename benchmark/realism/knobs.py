"""The realism knobs: how a simulated user departs from a perfect oracle.

Every knob is off by default, and a user with every knob off is the user itself, unchanged
(no wrapper, no extra random draw), so results without knobs stay byte for byte as they
were. Knobs are spelled as user options beside the user's own, for any user, built-in or
plug-in (``multi:jitter_mm=2,slip=0.1``; ``mylab.users:Mine:k_step=0.05``), and a
protocol's ``realism:`` block adds them to its experiments' users.

A knob given as a range ``LOW..HIGH`` (``jitter_mm=0..3``) describes a population: each
simulated user (each user seed) draws its own value uniformly from the range
(:meth:`Realism.draw`), so repeats of a session are different people.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np

#: Distributions of the click jitter.
JITTERS = ("gaussian", "uniform")
#: What happens to a jittered click that leaves the error it was meant for.
OUTSIDE = ("keep", "redraw")
_CHOICES = {"jitter": JITTERS, "jitter_outside": OUTSIDE}
_PROBABILITIES = ("slip_component", "slip_sign", "slip_slice", "hesitate")
_NON_NEGATIVE = ("jitter_mm", "wobble_mm", "wobble_scale_mm", "stroke_cut", "stroke_over", "min_stroke_mm", "k_step")
_COUNTS = ("view_slices", "view_every")
#: ``slip=P`` sets every slip probability at once.
SLIP_SHORTHAND = "slip"


@dataclass(frozen=True)
class Realism:
    """How a simulated user errs (all off by default).

    Attributes:
        jitter_mm: scale of a click's in-plane displacement (x, y) in mm: the standard
            deviation per axis (``gaussian``) or the radius of a disc (``uniform``).
        jitter: "gaussian" or "uniform".
        jitter_outside: "keep" a jittered click wherever it lands, or "redraw" it (up
            to 20 times) until it lands in the error it was meant for (missed tumour for
            a positive click, false tumour for a negative one; else the intended voxel).
        slip_component: probability that a click goes to a smaller error component of
            the same kind than the one intended (its deepest voxel), where there is one.
        slip_sign: probability that a click, stroke or box gets the wrong sign.
        slip_slice: probability that a stroke lands on a neighbouring axial slice.
        wobble_mm: standard deviation in mm of a smooth in-plane wobble along a stroke.
        wobble_scale_mm: the wobble's correlation length along the stroke, in mm.
        stroke_cut, stroke_over: a stroke's length is scaled by a factor drawn
            uniformly from [1 - stroke_cut, 1 + stroke_over] (cut short, overshooting).
        min_stroke_mm: a stroke shorter than this is drawn on to this length.
        view_slices: the user sees and edits only axial slices within this many of the
            slice shown (the one with the most wrong voxels, where a person scrolls to);
            None: all slices.
        view_every: the user looks only at every k-th axial slice (z % k == 0); 1: all.
        k_step: K is typed rounded to this step (0: not rounded).
        k_min, k_max: K is clipped to this slider range (None: no bound).
        hesitate: probability, each round, that the user stops although the target is
            not reached.
    """

    jitter_mm: float = 0.0
    jitter: str = "gaussian"
    jitter_outside: str = "keep"
    slip_component: float = 0.0
    slip_sign: float = 0.0
    slip_slice: float = 0.0
    wobble_mm: float = 0.0
    wobble_scale_mm: float = 5.0
    stroke_cut: float = 0.0
    stroke_over: float = 0.0
    min_stroke_mm: float = 0.0
    view_slices: int | None = None
    view_every: int = 1
    k_step: float = 0.0
    k_min: float | None = None
    k_max: float | None = None
    hesitate: float = 0.0

    def __post_init__(self) -> None:
        for name, choices in _CHOICES.items():
            if getattr(self, name) not in choices:
                raise ValueError(f"{name} must be one of {', '.join(choices)}, got {getattr(self, name)!r}")
        for name in _PROBABILITIES:
            value = _number(self, name)
            if not 0 <= value <= 1:
                raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}")
        for name in _NON_NEGATIVE:
            if not _number(self, name) >= 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {getattr(self, name)!r}")
        if not _number(self, "wobble_scale_mm") > 0:
            raise ValueError(f"wobble_scale_mm must be > 0, got {self.wobble_scale_mm!r}")
        if self.stroke_cut > 1:
            raise ValueError(f"stroke_cut must be at most 1 (a whole stroke), got {self.stroke_cut!r}")
        if self.view_slices is not None and not (_is_int(self.view_slices) and self.view_slices >= 0):
            raise ValueError(f"view_slices must be a number of slices >= 0, got {self.view_slices!r}")
        if not (_is_int(self.view_every) and self.view_every >= 1):
            raise ValueError(f"view_every must be an integer >= 1, got {self.view_every!r}")
        for name in ("k_min", "k_max"):
            if getattr(self, name) is not None:
                _number(self, name)
        if self.k_min is not None and self.k_max is not None and self.k_min > self.k_max:
            raise ValueError(f"k_min {self.k_min} is above k_max {self.k_max}")

    @property
    def active(self) -> bool:
        """Whether any knob departs from the oracle."""
        return self != Realism()

    def to_json(self) -> dict[str, Any]:
        """The knobs that are set (off ones left out)."""
        default = Realism()
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) != getattr(default, f.name)}


def _number(knobs: Realism, name: str) -> float:
    value = getattr(knobs, name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


KNOBS = tuple(f.name for f in fields(Realism))


@dataclass(frozen=True)
class Population:
    """Knobs some of which are ranges: each user seed draws its own :class:`Realism`.

    Attributes:
        fixed: the knobs with one value.
        ranges: knob -> (low, high), drawn uniformly per user (integers for counts).
    """

    fixed: Realism
    ranges: Mapping[str, tuple[float, float]]

    def draw(self, rng: np.random.Generator) -> Realism:
        """One user's knobs; draws nothing when there are no ranges."""
        values: dict[str, Any] = {}
        for name in KNOBS:  # a fixed order: the same seed, the same user
            if name in self.ranges:
                low, high = self.ranges[name]
                values[name] = int(rng.integers(low, high + 1)) if name in _COUNTS else float(rng.uniform(low, high))
        return replace(self.fixed, **values)

    @property
    def active(self) -> bool:
        return bool(self.ranges) or self.fixed.active

    def to_json(self) -> dict[str, Any]:
        """``{"knobs": the fixed ones that are set, "ranges": {knob: [low, high]}}``."""
        return {"knobs": self.fixed.to_json(), "ranges": {k: list(v) for k, v in self.ranges.items()}}


def split_options(options: Mapping[str, Any], own: set[str] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """A user spec's options as ``(the user's own, the realism knobs)``.

    Args:
        options: every option of the spec.
        own: names the user's factory takes itself; a knob it takes is its own (a
            plug-in that implements jitter its way gets the value), not the wrapper's.
    """
    own = own or set()
    knobs = {k: v for k, v in options.items() if (k in KNOBS or k == SLIP_SHORTHAND) and k not in own}
    return {k: v for k, v in options.items() if k not in knobs}, knobs


def population(knobs: Mapping[str, Any], where: str = "user") -> Population:
    """The :class:`Population` of a spec's knob options (``slip`` sets the three slips;
    ``LOW..HIGH`` strings are ranges).

    Raises:
        ValueError: a bad value or range, naming ``where`` and the knob.
    """
    values = dict(knobs)
    if SLIP_SHORTHAND in values:
        slip = values.pop(SLIP_SHORTHAND)
        if not (isinstance(slip, str) and ".." in slip) and not (
                isinstance(slip, (int, float)) and not isinstance(slip, bool) and 0 <= slip <= 1):
            raise ValueError(f"{where}: slip must be a probability in [0, 1] (it sets slip_component, slip_sign "
                             f"and slip_slice), got {slip!r}")
        for name in ("slip_component", "slip_sign", "slip_slice"):
            values.setdefault(name, slip)
    fixed, ranges = {}, {}
    for name, value in values.items():
        if isinstance(value, str) and ".." in value:
            ranges[name] = _range(name, value, where)
            fixed[name] = ranges[name][0]  # checks the range's ends as values
        else:
            fixed[name] = value
    try:
        Realism(**fixed)  # the ranges' low ends
        Realism(**{**fixed, **{k: v[1] for k, v in ranges.items()}})  # and their high ends
        base = Realism(**{k: v for k, v in fixed.items() if k not in ranges})
    except (TypeError, ValueError) as error:
        raise ValueError(f"{where}: {error}") from None
    return Population(base, ranges)


def _range(name: str, text: str, where: str) -> tuple[float, float]:
    if name in _CHOICES:
        raise ValueError(f"{where}: {name} is a choice ({', '.join(_CHOICES[name])}), not a range")
    low, _, high = text.partition("..")
    try:
        bounds = (float(low), float(high))
    except ValueError:
        raise ValueError(f"{where}: {name}={text!r}: a range is LOW..HIGH, two numbers") from None
    if not bounds[0] <= bounds[1]:
        raise ValueError(f"{where}: {name}={text!r}: LOW must not exceed HIGH")
    if name in _COUNTS:
        if not all(b.is_integer() for b in bounds):
            raise ValueError(f"{where}: {name}={text!r}: a range of slices needs whole numbers")
        return int(bounds[0]), int(bounds[1])
    return bounds


def with_knobs(spec: str, knobs: Mapping[str, Any]) -> str:
    """``spec`` with the knobs added as options (to every stage of a chain): what a
    protocol's ``realism:`` block does to its experiments' users.

    Raises:
        ValueError: a key that is no knob, or a knob the spec sets itself.
    """
    from benchmark.chain import THEN, chain_stages
    from benchmark.names import unknown_name
    from benchmark.specs import parse_user_spec

    for key in knobs:
        if key not in KNOBS and key != SLIP_SHORTHAND:
            raise ValueError(unknown_name("realism knob", key, (*KNOBS, SLIP_SHORTHAND)))
    if not knobs:
        return spec
    added = ",".join(f"{k}={v}" for k, v in knobs.items())
    stages = []
    for stage in chain_stages(spec):
        options = parse_user_spec(stage).options
        clash = sorted(set(options) & set(knobs))
        if clash:
            raise ValueError(f"{clash[0]} is set both in the user spec {stage!r} and in realism; keep one")
        stage = stage.strip()
        joint = "," if options else ("" if stage.endswith(":") else ":")
        stages.append(f"{stage}{joint}{added}")
    return f" {THEN} ".join(stages)
