"""The unit of evaluation: one subject's images and whole-tumour label.

Arrays follow one convention throughout simedit: voxel order (X, Y, Z) as nibabel
returns it after reorientation to the closest canonical (RAS+) orientation, so an
axial slice is a fixed index on axis 2.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


class InvalidCaseError(ValueError):
    """A case's files cannot be used; the message names the file and the problem."""


@dataclass(frozen=True, eq=False)
class CaseImage:
    """What an editing method may see of a case: never the label.

    Attributes:
        case_id: identifier of the case (folder or file stem).
        image: float32 [C, X, Y, Z], one channel per modality, z-scored inside the
            brain (non-zero voxels); background stays 0.
        spacing: voxel size in mm along X, Y, Z.
        affine: float64 [4, 4] voxel-to-world matrix of the canonical arrays.
        modalities: channel names, e.g. ("flair", "t1", "t1ce", "t2").
        orientation: float [3, 2], nibabel's orientation of the file the case was read
            from (row i: the canonical axis file axis i became, and its flip); identity
            for a file already in RAS+ or a case made in memory. Rules defined on the
            file's own voxel grid (the CVPR 2025 challenge's) use it to undo the
            reorientation (:func:`benchmark.io.orientation.to_file_zyx`).
    """

    case_id: str
    image: np.ndarray
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)
    affine: np.ndarray = field(default_factory=lambda: np.eye(4))
    modalities: tuple[str, ...] = ("flair", "t1", "t1ce", "t2")
    orientation: np.ndarray = field(default_factory=lambda: np.array([[0.0, 1.0], [1.0, 1.0], [2.0, 1.0]]))

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.image.shape[1:])  # type: ignore[return-value]

    def channel(self, name: str) -> np.ndarray:
        """float32 [X, Y, Z] of the named modality."""
        try:
            return self.image[self.modalities.index(name)]
        except ValueError:
            raise KeyError(
                f"case {self.case_id!r} has no modality {name!r}; it has {list(self.modalities)}"
            ) from None


@dataclass(frozen=True, eq=False)
class Case(CaseImage):
    """A case with its ground truth, as the simulated user sees it.

    Attributes (besides CaseImage's):
        label: bool [X, Y, Z], the whole tumour.
        raw_label: the layout's integer label map [X, Y, Z] (sub-regions), if any.
        source: where the case was read from, for error messages.
    """

    label: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 0), bool))
    raw_label: np.ndarray | None = None
    source: str = ""

    def __post_init__(self) -> None:
        if self.image.ndim != 4:
            raise InvalidCaseError(
                f"{self.source or self.case_id}: image must be [C, X, Y, Z], got shape {self.image.shape}"
            )
        if self.label.shape != self.image.shape[1:]:
            raise InvalidCaseError(
                f"{self.source or self.case_id}: label shape {self.label.shape} differs from "
                f"image shape {self.image.shape[1:]}"
            )
        if self.label.dtype != bool:
            raise InvalidCaseError(f"{self.source or self.case_id}: label must be bool, got {self.label.dtype}")

    def without_label(self) -> CaseImage:
        """The label-free view handed to methods."""
        return CaseImage(self.case_id, self.image, self.spacing, self.affine, self.modalities, self.orientation)


