"""The simulated-user interface: what a policy sees and what it returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from benchmark.edits import Edit, EditHistory


@dataclass(frozen=True, eq=False)
class RoundState:
    """Everything a simulated user may look at before proposing edits.

    Attributes:
        label: bool [X, Y, Z], ground-truth whole tumour (only users see it).
        prediction: bool [X, Y, Z], the method's current segmentation.
        history: the edits made so far (round 1 first).
        round: the number of the round about to be proposed (1 for the first edits).
        spacing: voxel size in mm along X, Y, Z.
        orientation: float [3, 2], the case file's nibabel orientation (see
            :attr:`benchmark.case.CaseImage.orientation`), for rules defined on the file's
            own voxel grid; identity for cases made in memory.
    """

    label: np.ndarray
    prediction: np.ndarray
    history: EditHistory = field(default_factory=EditHistory)
    round: int = 1
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)
    orientation: np.ndarray = field(default_factory=lambda: np.array([[0.0, 1.0], [1.0, 1.0], [2.0, 1.0]]))

    def __post_init__(self) -> None:
        if self.label.shape != self.prediction.shape or self.label.ndim != 3:
            raise ValueError(
                f"label {self.label.shape} and prediction {self.prediction.shape} must be the same 3D shape"
            )
        if self.label.dtype != bool or self.prediction.dtype != bool:
            raise ValueError(
                f"label and prediction must be bool arrays, got {self.label.dtype} and {self.prediction.dtype}"
            )


@runtime_checkable
class Policy(Protocol):
    """A simulated user: compares the prediction with the ground truth and edits.

    ``propose`` returns this round's edits; an empty list means the user is done
    (satisfied, or nothing worth fixing). It must draw all randomness from ``rng``.
    """

    name: str

    def propose(self, state: RoundState, rng: np.random.Generator) -> list[Edit]: ...


def not_repeated(edits: list[Edit], history: EditHistory) -> list[Edit]:
    """``edits`` without those already made (in the history) or proposed twice, in order.

    A user proposing an edit it already made is looking at an error the method did not fix
    when given that very edit; typing it again changes nothing, so a user stops instead
    of spending its budget on the same edit (the multi-tool user's rule, for every
    built-in user).
    """
    done = history.edits
    out: list[Edit] = []
    for edit in edits:
        if edit not in done and edit not in out:
            out.append(edit)
    return out
