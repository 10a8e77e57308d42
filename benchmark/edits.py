"""User edits (the paper's three tools and a box prompt), their history, and their encoding as channels.

Sign convention: ``positive=True`` means "this is tumour" (fixes under-segmentation,
channel value +1); ``positive=False`` means "this is not tumour" (fixes
over-segmentation, channel value -1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Iterable, Union

import numpy as np

TOOLS = ("selection", "brush", "adjustment", "box")

#: The seed paper's three tools, the ones its editing network is trained on and encodes.
PAPER_TOOLS = ("selection", "brush", "adjustment")

#: Channel order of :func:`encode`.
CHANNELS = ("selection", "brush", "adjustment")

#: Voxels reached by two 6-connected dilation steps (taxicab ball of radius 2): the
#: paper's "two-voxel dilation"; identical to scipy's binary_dilation(iterations=2).
DILATION_RADIUS = 2


def _ball_offsets(radius: int) -> np.ndarray:
    r = np.arange(-radius, radius + 1)
    grid = np.stack(np.meshgrid(r, r, r, indexing="ij"), -1).reshape(-1, 3)
    return grid[np.abs(grid).sum(1) <= radius].astype(np.intp)


STAMP = _ball_offsets(DILATION_RADIUS)


@dataclass(frozen=True)
class Click:
    """Selection tool: one voxel, (x, y, z) indices into the canonical arrays."""

    voxel: tuple[int, int, int]
    positive: bool
    tool: ClassVar[str] = "selection"

    def __post_init__(self) -> None:
        v = tuple(int(c) for c in self.voxel)
        if len(v) != 3:
            raise ValueError(f"a click needs 3 voxel indices (x, y, z), got {self.voxel!r}")
        object.__setattr__(self, "voxel", v)
        object.__setattr__(self, "positive", bool(self.positive))

    @property
    def voxels(self) -> np.ndarray:
        """int [1, 3]."""
        return np.asarray([self.voxel], dtype=np.intp)

    def to_json(self) -> dict[str, Any]:
        return {"tool": self.tool, "voxel": list(self.voxel), "positive": self.positive}


@dataclass(frozen=True, eq=False)
class Stroke:
    """Brush tool: a path of voxels, int [N, 3] (x, y, z), normally on one axial slice."""

    voxels: np.ndarray
    positive: bool
    tool: ClassVar[str] = "brush"

    def __post_init__(self) -> None:
        v = np.asarray(self.voxels)
        if v.ndim != 2 or v.shape[1] != 3 or len(v) == 0:
            raise ValueError(f"a stroke needs voxels of shape (N>=1, 3), got {v.shape}")
        if not np.issubdtype(v.dtype, np.integer):
            raise ValueError(f"stroke voxels must be integer indices, got {v.dtype}")
        v = v.astype(np.intp)
        v.setflags(write=False)
        object.__setattr__(self, "voxels", v)
        object.__setattr__(self, "positive", bool(self.positive))

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Stroke)
            and self.positive == other.positive
            and np.array_equal(self.voxels, other.voxels)
        )

    __hash__ = None  # type: ignore[assignment]

    def __len__(self) -> int:
        return len(self.voxels)

    def to_json(self) -> dict[str, Any]:
        return {"tool": self.tool, "voxels": self.voxels.tolist(), "positive": self.positive}


@dataclass(frozen=True)
class Adjustment:
    """Adjustment tool: K > 0 grows the segmentation, K < 0 shrinks it.

    ``k`` is the value the user types: positive to expand, negative to shrink, as in
    the paper's Fig. 5 (a smaller value gives a smaller segmentation). The paper
    measures the error as K = (V_over - V_under) / V_gt, which is positive when the
    prediction is too large; the correction a user types for it is therefore -K (see
    ``policies.adjustment``). Methods that apply K literally (manual paint) grow the
    surface for k > 0 and shrink it for k < 0.
    """

    k: float
    tool: ClassVar[str] = "adjustment"

    def __post_init__(self) -> None:
        k = float(self.k)
        if not np.isfinite(k):
            raise ValueError(f"adjustment K must be finite, got {self.k!r}")
        object.__setattr__(self, "k", k)

    def to_json(self) -> dict[str, Any]:
        return {"tool": self.tool, "k": self.k}


@dataclass(frozen=True)
class Box:
    """Box tool: a 3D box of voxels, or a 2D box on one slice (the CVPR 2025 challenge's prompt).

    Positive: "the tumour lies in here"; negative: "nothing in here is tumour".

    Attributes:
        lower, upper: inclusive corners (x, y, z), indices into the canonical arrays,
            ``lower <= upper`` on every axis.
        plane: ``(axis, index)`` of the slice the box was drawn on (the challenge draws
            its 2D box on the middle slice of the z range and extends it over that range),
            or None. ``lower[axis] <= index <= upper[axis]``.

    A box one voxel thick along an axis (``lower[a] == upper[a]``) is a 2D box on that
    slice (:meth:`flat_axis`); :meth:`rectangle` is the 2D box of the drawn plane, what
    methods that take 2D boxes (nnInteractive) are given.
    """

    lower: tuple[int, int, int]
    upper: tuple[int, int, int]
    positive: bool = True
    plane: tuple[int, int] | None = None
    tool: ClassVar[str] = "box"

    def __post_init__(self) -> None:
        lower, upper = (tuple(int(c) for c in corner) for corner in (self.lower, self.upper))
        if len(lower) != 3 or len(upper) != 3:
            raise ValueError(f"a box needs two corners of 3 voxel indices (x, y, z), got {self.lower!r}, {self.upper!r}")
        if any(a > b for a, b in zip(lower, upper)):
            raise ValueError(f"a box's lower corner {lower} must not exceed its upper corner {upper} on any axis")
        plane = None if self.plane is None else tuple(int(c) for c in self.plane)
        if plane is not None and (len(plane) != 2 or plane[0] not in (0, 1, 2)
                                  or not lower[plane[0]] <= plane[1] <= upper[plane[0]]):
            raise ValueError(f"a box's plane must be (axis 0-2, index within the box), got {self.plane!r} for "
                             f"corners {lower}, {upper}")
        object.__setattr__(self, "lower", lower)
        object.__setattr__(self, "upper", upper)
        object.__setattr__(self, "positive", bool(self.positive))
        object.__setattr__(self, "plane", plane)

    @property
    def voxels(self) -> np.ndarray:
        """int [2, 3]: the two corners (for bounds checks)."""
        return np.asarray([self.lower, self.upper], dtype=np.intp)

    @property
    def slices(self) -> tuple[slice, slice, slice]:
        """The box as index slices into [X, Y, Z] arrays."""
        return tuple(slice(a, b + 1) for a, b in zip(self.lower, self.upper))  # type: ignore[return-value]

    @property
    def flat_axis(self) -> int | None:
        """The axis along which the box is one voxel thick (the last such), or None for a 3D box."""
        flat = [a for a in range(3) if self.lower[a] == self.upper[a]]
        return flat[-1] if flat else None

    def rectangle(self) -> "Box":
        """The 2D box on :attr:`plane` (or on the middle axial slice when there is none)."""
        axis, index = self.plane if self.plane is not None else (2, (self.lower[2] + self.upper[2]) // 2)
        lower, upper = list(self.lower), list(self.upper)
        lower[axis] = upper[axis] = index
        return Box(tuple(lower), tuple(upper), self.positive, (axis, index))  # type: ignore[arg-type]

    def mask(self, shape: tuple[int, int, int]) -> np.ndarray:
        """bool [X, Y, Z], True inside the box (clipped to ``shape``)."""
        out = np.zeros(shape, bool)
        out[self.slices] = True
        return out

    def to_json(self) -> dict[str, Any]:
        return {"tool": self.tool, "lower": list(self.lower), "upper": list(self.upper), "positive": self.positive,
                "plane": None if self.plane is None else list(self.plane)}


Edit = Union[Click, Stroke, Adjustment, Box]


def edit_from_json(d: dict[str, Any]) -> Edit:
    """Inverse of ``edit.to_json()``."""
    tool = d.get("tool")
    if tool == "selection":
        return Click(tuple(d["voxel"]), bool(d["positive"]))
    if tool == "brush":
        return Stroke(np.asarray(d["voxels"], dtype=np.intp).reshape(-1, 3), bool(d["positive"]))
    if tool == "adjustment":
        return Adjustment(float(d["k"]))
    if tool == "box":
        plane = d.get("plane")
        return Box(tuple(d["lower"]), tuple(d["upper"]), bool(d.get("positive", True)),
                   None if plane is None else tuple(plane))
    raise ValueError(f"unknown edit tool {tool!r}; expected one of {TOOLS}")


@dataclass(frozen=True)
class EditHistory:
    """All edits of a session, grouped by round (round 1 first). Immutable."""

    rounds: tuple[tuple[Edit, ...], ...] = field(default_factory=tuple)

    def add(self, edits: Iterable[Edit]) -> "EditHistory":
        """A new history with ``edits`` as the next round."""
        return EditHistory(self.rounds + (tuple(edits),))

    @property
    def edits(self) -> tuple[Edit, ...]:
        return tuple(e for r in self.rounds for e in r)

    def __len__(self) -> int:
        return sum(len(r) for r in self.rounds)

    def of_tool(self, tool: str) -> tuple[Edit, ...]:
        if tool not in TOOLS:
            raise ValueError(f"unknown tool {tool!r}; expected one of {TOOLS}")
        return tuple(e for e in self.edits if e.tool == tool)

    @property
    def k_total(self) -> float:
        """The adjustment in force: the sum of every round's K.

        Each simulated K is measured on the prediction the user saw, which already
        reflects the earlier adjustments, so the corrections add up.
        """
        return float(sum(e.k for e in self.of_tool("adjustment")))

    def to_json(self) -> list[list[dict[str, Any]]]:
        return [[e.to_json() for e in r] for r in self.rounds]


def stamp(edits: Iterable[Click | Stroke], shape: tuple[int, int, int], out: np.ndarray | None = None) -> np.ndarray:
    """Rasterise point edits: each edit voxel dilated by two voxels, +1/-1 by sign.

    Edits are applied in order, so a later edit overwrites an earlier one where they
    overlap (a user correcting themselves).

    Args:
        edits: clicks and/or strokes with voxel indices inside ``shape``.
        shape: (X, Y, Z).
        out: float32 [X, Y, Z] to write into (else a new zero array).

    Returns:
        float32 [X, Y, Z] with values in {-1, 0, +1}.
    """
    if out is None:
        out = np.zeros(shape, np.float32)
    bounds = np.asarray(shape)
    for e in edits:
        v = e.voxels
        if (v < 0).any() or (v >= bounds).any():
            raise ValueError(f"{e.tool} edit has voxels outside the volume {tuple(shape)}: {v[((v < 0) | (v >= bounds)).any(1)][:3].tolist()}")
        pts = (v[:, None, :] + STAMP[None]).reshape(-1, 3)
        pts = pts[((pts >= 0) & (pts < bounds)).all(1)]
        out[pts[:, 0], pts[:, 1], pts[:, 2]] = 1.0 if e.positive else -1.0
    return out


def encode(history: EditHistory, shape: tuple[int, int, int], brain: np.ndarray | None = None,
           k_limit: float | None = None) -> np.ndarray:
    """The paper's three edit channels.

    Args:
        history: the edits so far.
        shape: (X, Y, Z) of the image.
        brain: optional bool [X, Y, Z] mask where K is written (e.g. voxels where any
            modality is non-zero); None writes K everywhere.
        k_limit: clip the summed K to [-k_limit, k_limit] (a network knows only the
            range it was trained on); None: no clipping.

    Returns:
        float32 [3, X, Y, Z]: selection (+1/-1 at clicks dilated by two voxels, 0
        elsewhere), brush (likewise for stroke voxels), adjustment (K on ``brain``, 0
        elsewhere, or K everywhere; the sum over the history, see
        :attr:`EditHistory.k_total`). A network whose layers normalise each channel per
        image (instance norm, as in Isensee et al.) subtracts a constant channel away, so
        the networks are given K on the brain only: the K-scaled brain outline survives.
    """
    out = np.zeros((3, *shape), np.float32)
    stamp(history.of_tool("selection"), shape, out[0])  # type: ignore[arg-type]
    stamp(history.of_tool("brush"), shape, out[1])  # type: ignore[arg-type]
    k = history.k_total if k_limit is None else float(np.clip(history.k_total, -k_limit, k_limit))
    if brain is None:
        out[2] = k
    else:
        if brain.shape != tuple(shape) or brain.dtype != bool:
            raise ValueError(f"brain must be a bool mask of shape {tuple(shape)}, got {brain.dtype} {brain.shape}")
        out[2][brain] = k
    return out
