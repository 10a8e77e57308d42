"""The editing-method interface: image plus edits in, segmentation out."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from benchmark.case import CaseImage
from benchmark.edits import EditHistory


class CallTimedOut(TimeoutError):
    """Raised by a method whose call passed its time limit (after stopping the work).

    The session records the round as timed out (``timed_out`` in rounds.csv) and goes
    on as the protocol says (``on_timeout``), instead of failing the session.
    """


@runtime_checkable
class Method(Protocol):
    """An editing method under test. It never sees the label.

    Attributes:
        name: short name used in result tables.
        tools: the edit tools it understands (subset of ``benchmark.edits.TOOLS``);
            the session records edits of other tools as unsupported instead of
            passing them on.
    """

    name: str
    tools: frozenset[str]

    def predict(self, image: CaseImage, history: EditHistory) -> np.ndarray:
        """Segment ``image`` given all edits so far.

        Returns:
            bool [X, Y, Z], the whole-tumour segmentation.
        """
        ...
