"""Axial slices the figures are rebuilt from: which slice to show, and how it is stored.

Slices are 2D arrays [X, Y] cut at a fixed index z on axis 2 of the canonical (X, Y, Z)
volumes. They are stored in one compressed .npz per analysis, each slice's arrays under
``<name>_<panel>`` keys, so a figure needs neither the images nor the networks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from benchmark.case import CaseImage
from benchmark.edits import Click, Stroke


def flair(image: CaseImage) -> np.ndarray:
    """float32 [X, Y, Z]: the channel named "flair", else the last channel."""
    if "flair" in image.modalities:
        return image.channel("flair")
    return image.image[-1]


def brain(image: CaseImage) -> np.ndarray:
    """bool [X, Y, Z]: voxels where any channel is non-zero (the brain after skull stripping)."""
    return np.any(image.image != 0, axis=0)


def largest_section(mask: np.ndarray) -> int:
    """The axial index z where bool [X, Y, Z] ``mask`` has the most voxels; the middle
    slice for an empty mask."""
    if not mask.any():
        return mask.shape[2] // 2
    return int(np.argmax(np.count_nonzero(mask, axis=(0, 1))))


def most_changed_section(before: np.ndarray, after: np.ndarray) -> int | None:
    """The axial index z where bool [X, Y, Z] ``before`` and ``after`` differ most; None
    when they are equal."""
    changed = np.count_nonzero(before != after, axis=(0, 1))
    return int(np.argmax(changed)) if changed.any() else None


def edit_points(edits: Iterable[Click | Stroke], z: int) -> np.ndarray:
    """The edit voxels on axial slice ``z``.

    Returns:
        int [N, 4]: x, y, sign (+1 foreground, -1 background), index of the edit in
        ``edits``; a stroke's voxels in stroke order.
    """
    rows = [
        (x, y, 1 if edit.positive else -1, i)
        for i, edit in enumerate(edits)
        for x, y, vz in edit.voxels.tolist()
        if vz == z
    ]
    return np.asarray(rows, dtype=np.int64).reshape(-1, 4)


@dataclass(frozen=True, eq=False)
class SlicePanel:
    """One axial slice before and after an edit.

    Attributes:
        z: the slice's index on axis 2.
        flair: float32 [X, Y], the FLAIR intensities (z-scored, 0 outside the brain).
        label: bool [X, Y], ground truth.
        before: bool [X, Y], the prediction without edits.
        after: bool [X, Y], the prediction with the edit(s).
        points: int [N, 4], the edit voxels on the slice (see :func:`edit_points`).
    """

    z: int
    flair: np.ndarray
    label: np.ndarray
    before: np.ndarray
    after: np.ndarray
    points: np.ndarray

    _ARRAYS: ClassVar[tuple[str, ...]] = ("flair", "label", "before", "after", "points")

    @classmethod
    def cut(cls, z: int, flair: np.ndarray, label: np.ndarray, before: np.ndarray, after: np.ndarray,
            edits: Iterable[Click | Stroke] = ()) -> "SlicePanel":
        """Cut slice ``z`` out of [X, Y, Z] volumes (float FLAIR, bool masks)."""
        return cls(int(z), flair[:, :, z].astype(np.float32), label[:, :, z], before[:, :, z], after[:, :, z],
                   edit_points(edits, z))

    def arrays(self, panel: int) -> dict[str, np.ndarray]:
        """The arrays under their npz keys for slice number ``panel``."""
        return {f"z_{panel}": np.asarray(self.z), **{f"{a}_{panel}": getattr(self, a) for a in self._ARRAYS}}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], panel: int) -> "SlicePanel":
        """Inverse of :meth:`arrays`."""
        return cls(int(arrays[f"z_{panel}"]), *(np.asarray(arrays[f"{a}_{panel}"]) for a in cls._ARRAYS))


def panels_arrays(panels: Iterable[SlicePanel]) -> dict[str, np.ndarray]:
    """All panels' arrays, numbered in order, for one npz file."""
    out: dict[str, np.ndarray] = {}
    for i, panel in enumerate(panels):
        out.update(panel.arrays(i))
    return out


def load_panels(path) -> tuple[SlicePanel, ...]:
    """The panels of an npz written with :func:`panels_arrays`, in order."""
    with np.load(path) as arrays:
        count = sum(1 for key in arrays.files if key.startswith("z_"))
        return tuple(SlicePanel.from_arrays(arrays, i) for i in range(count))
