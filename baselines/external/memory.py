"""What an external method remembers of the case it is working on.

The runner builds one method object per spec and runs every session of a case before
the next case, so remembering one case at a time is enough: the image as the exchange
writes it (converted once, not every round) and the latest prediction, which the next
call hands to the program as the previous one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from benchmark.case import CaseImage
from benchmark.edits import EditHistory

T = TypeVar("T")


class CaseMemory:
    """Values computed once for the current case, and the latest prediction with the edit
    history it answered. A case is the same while its ``case_id`` and its image array (the
    object itself, held here so that its id cannot be reused) are; another case clears
    everything (``on_forget`` is called with each value dropped)."""

    def __init__(self, on_forget: Callable[[Any], None] | None = None) -> None:
        self._case: tuple[str, np.ndarray] | None = None
        self._values: dict[str, Any] = {}
        self._last: tuple[EditHistory, np.ndarray] | None = None
        self._on_forget = on_forget

    def _enter(self, image: CaseImage) -> None:
        if self._case is not None and self._case[0] == image.case_id and self._case[1] is image.image:
            return
        for value in self._values.values():
            if self._on_forget is not None:
                self._on_forget(value)
        self._case, self._values, self._last = (image.case_id, image.image), {}, None

    def once(self, image: CaseImage, key: str, make: Callable[[], T]) -> T:
        """``make()`` the first time ``key`` is asked for on this case, the same value after."""
        self._enter(image)
        if key not in self._values:
            self._values[key] = make()
        return self._values[key]

    def remember(self, image: CaseImage, history: EditHistory, mask: np.ndarray) -> None:
        """Keep ``mask`` (bool [X, Y, Z]) as the prediction for ``history`` on this case."""
        self._enter(image)
        self._last = (history, mask)

    def recall(self, image: CaseImage, history: EditHistory) -> np.ndarray | None:
        """The remembered prediction for exactly ``history`` on this case, else None."""
        self._enter(image)
        if self._last is not None and self._last[0] == history:
            return self._last[1]
        return None

    def previous(self, image: CaseImage, history: EditHistory,
                 predict: Callable[[CaseImage, EditHistory], np.ndarray]) -> np.ndarray | None:
        """The prediction for ``history`` without its last round: remembered (a session asks
        round after round), else ``predict``-ed now. None for an empty history."""
        if not history.rounds:
            return None
        prefix = EditHistory(history.rounds[:-1])
        found = self.recall(image, prefix)
        return found if found is not None else predict(image, prefix)
