"""How many seconds of a person's work a round of edits stands for.

A simulated user's edits cost no time, a person's do. :class:`EffortModel` prices each
edit by its tool, a stroke also by its length, and every move to another slice, so a
session's rows carry the seconds a person would have spent (``effort_s``, cumulative)
and methods can be compared by Dice against effort rather than against edit counts.

The user looks at one slice at a time: an axial slice (z) for clicks and strokes, the
drawn plane (or the one slice it covers) for a box. A session opens on the middle slice
of the volume, as viewers do. An edit on another slice costs a move: ``slice_s`` to
decide where to go, plus ``slice_step_s`` per slice scrolled past; a stroke over several
axial slices moves with it. A box with neither a plane nor a flat axis is a 3D box,
drawn on two orthogonal views (``2 * box_s``, no move counted).

The defaults are the keystroke-level model's operator times (Card, Moran & Newell,
1980/1983: M = 1.35 s to decide, P = 1.10 s to point, 0.20 s for a click, H = 0.40 s to
move the hand between mouse and keys, K = 0.28 s per key for a non-typist, D = 0.9 s per
drawn segment plus 0.16 s per cm) and, for a box, the 7 s per box of extreme clicking
(Papadopoulos et al., ICCV 2017). No study we found measured seconds per click, stroke
or slice in interactive 3D medical editing; the README lists the sources and what each
default assumes (a stroke's image mm shown as screen mm, for one).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from benchmark.edits import Adjustment, Box, Click, Edit, Stroke

#: A slice as ``(axis, index)`` into the canonical [X, Y, Z] arrays (axis 2: axial).
Slice = tuple[int, int]
AXIAL = 2


@dataclass(frozen=True)
class EffortModel:
    """Seconds a person spends per edit, by tool.

    Attributes:
        click_s: one selection click (point, press).
        stroke_s: starting one brush stroke (aim, press), before its length.
        stroke_mm_s: drawing one millimetre of a stroke.
        adjustment_s: typing one adjustment value K (think, type, confirm).
        box_s: drawing one 2D box on a slice.
        slice_s: deciding to move to another slice.
        slice_step_s: scrolling past one slice on the way.
    """

    click_s: float = 2.65  # KLM M + P + click: 1.35 + 1.10 + 0.20
    stroke_s: float = 3.35  # KLM M + P + one drawn segment: 1.35 + 1.10 + 0.90
    stroke_mm_s: float = 0.016  # KLM D: 0.16 s per cm, one image mm taken as one screen mm
    adjustment_s: float = 3.27  # KLM M + H + 4 K + H: 1.35 + 0.40 + 4 x 0.28 + 0.40 ("-0.3" and Enter)
    box_s: float = 7.0  # extreme clicking, Papadopoulos et al. 2017: 7 s per box
    slice_s: float = 1.35  # KLM M: deciding where to go (no measured value found)
    slice_step_s: float = 0.1  # a scroll-wheel notch, a button press (KLM B, Kieras): a guess

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not (np.isfinite(value) and value >= 0):
                raise ValueError(f"{f.name} must be a number of seconds >= 0, got {value!r}")
            object.__setattr__(self, f.name, float(value))

    @classmethod
    def from_mapping(cls, values: dict[str, Any], where: str = "effort") -> "EffortModel":
        """The defaults with ``values`` (seconds by field name) put in.

        Raises:
            ValueError: a key that names no field (with the fields there are) or a value
                that is not seconds >= 0.
        """
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ValueError(f"{where}: unknown key {unknown[0]!r}; the effort model has {', '.join(known)}")
        try:
            return cls(**values)
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from None

    @classmethod
    def parse(cls, text: str) -> "EffortModel":
        """From ``click_s=2,slice_s=1`` (the CLI's ``--effort``)."""
        values: dict[str, Any] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            key, sep, value = part.partition("=")
            try:
                values[key.strip()] = float(value)
            except ValueError:
                raise ValueError(f"--effort: expected KEY=SECONDS, got {part!r}") from None
            if not sep:
                raise ValueError(f"--effort: expected KEY=SECONDS, got {part!r}")
        return cls.from_mapping(values, "--effort")

    def to_json(self) -> dict[str, float]:
        return asdict(self)


def stroke_length_mm(voxels: np.ndarray, spacing: tuple[float, float, float]) -> float:
    """Length in mm of the polyline through a stroke's voxels, int [N, 3] (x, y, z), in order."""
    steps = np.diff(np.asarray(voxels, np.float64), axis=0) * np.asarray(spacing, np.float64)
    return float(np.sqrt((steps ** 2).sum(axis=1)).sum())


def _slices(edit: Edit) -> list[Slice]:
    """The slices an edit is made on, in the order the user visits them."""
    if isinstance(edit, Click):
        return [(AXIAL, edit.voxel[AXIAL])]
    if isinstance(edit, Stroke):
        z = edit.voxels[:, AXIAL]
        keep = np.r_[True, z[1:] != z[:-1]]  # each run of one slice once
        return [(AXIAL, int(v)) for v in z[keep]]
    if isinstance(edit, Box):
        return [plane] if (plane := box_plane(edit)) is not None else []
    return []


def box_plane(box: Box) -> Slice | None:
    """The slice a 2D box is drawn on: its ``plane``, or the slice of a box one voxel
    thick; None for a 3D box."""
    if box.plane is not None:
        return box.plane
    axis = box.flat_axis
    return None if axis is None else (axis, box.lower[axis])


def opening_slice(shape: tuple[int, int, int]) -> Slice:
    """The slice a session opens on: the middle axial slice."""
    return (AXIAL, int(shape[AXIAL]) // 2)


def round_effort(edits: Iterable[Edit], spacing: tuple[float, float, float], model: EffortModel,
                 shown: Slice, shape: tuple[int, int, int]) -> tuple[float, Slice]:
    """Seconds of one round's edits, and the slice shown after them.

    Args:
        edits: the round's edits, in the order made.
        spacing: voxel size in mm along X, Y, Z (a stroke's length).
        model: the seconds per tool.
        shown: the slice shown before the round: the last one edited, or
            :func:`opening_slice` before the first edit.
        shape: (X, Y, Z) of the volume: a move to a slice of another axis scrolls from
            that axis' middle slice.

    Returns:
        ``(seconds, shown)``: the sum over the edits of their tool's price (a stroke's
        start plus its length, a 3D box twice a box) plus, per move to another slice,
        ``slice_s`` and ``slice_step_s`` per slice scrolled; and the slice shown at the end.
    """
    seconds = 0.0
    for edit in edits:
        for where in _slices(edit):
            if where != shown:
                start = shown[1] if where[0] == shown[0] else int(shape[where[0]]) // 2
                seconds += model.slice_s + model.slice_step_s * abs(where[1] - start)
                shown = where
        if isinstance(edit, Click):
            seconds += model.click_s
        elif isinstance(edit, Stroke):
            seconds += model.stroke_s + model.stroke_mm_s * stroke_length_mm(edit.voxels, spacing)
        elif isinstance(edit, Adjustment):
            seconds += model.adjustment_s
        elif isinstance(edit, Box):
            seconds += model.box_s * (1 if box_plane(edit) is not None else 2)
        else:
            raise ValueError(f"no effort is defined for a {type(edit).__name__}; an edit is a Click, Stroke, "
                             "Adjustment or Box")
    return seconds, shown
