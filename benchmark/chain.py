"""Users in sequence: ``box:style=cvpr25 then cvpr25:units=voxel,ties=cvpr25``.

A chained user spec is user specs joined by the word ``then`` (spaces around it). Round
``r`` goes to stage ``min(r, n)``: each stage but the last proposes one round, the last
every round after. A stage that has nothing to propose in its round hands that round to
the stages after it, so a chain is done only when its last stage is. The CVPR 2025
challenge is ``box:style=cvpr25 then cvpr25:units=voxel,ties=cvpr25`` with a budget of
6 rounds: its box step, then five clicks.
"""

from __future__ import annotations

import re

import numpy as np

from benchmark.edits import Edit
from benchmark.policy import Policy, RoundState

#: The word that joins the stages of a chained user spec.
THEN = "then"
_THEN = re.compile(rf"\s+{THEN}\s+")


def chain_stages(spec: str) -> list[str]:
    """The user specs of a chain, in order (one for a plain user spec).

    Raises:
        ValueError: an empty stage (``then`` at either end or twice in a row).
    """
    stages = [stage.strip() for stage in _THEN.split(f" {spec.strip()} ")] if isinstance(spec, str) else [spec]
    if len(stages) > 1 and not all(stages):
        raise ValueError(f"user {spec!r}: a chain is USER then USER [then USER...], with a user spec on "
                         f"both sides of every {THEN!r}")
    return stages if len(stages) > 1 else [spec]


class ChainedUser:
    """Stages of users taking the rounds in turn (see the module docstring).

    Attributes:
        name: the whole chained spec.
        stages: the users, in order.
    """

    def __init__(self, name: str, stages: list[Policy]) -> None:
        if len(stages) < 2:
            raise ValueError(f"user {name!r}: a chain needs at least two users, got {len(stages)}")
        self.name, self.stages = name, list(stages)

    def propose(self, state: RoundState, rng: np.random.Generator) -> list[Edit]:
        """The edits of the round's stage, or of the first later stage that has some."""
        first = min(state.round, len(self.stages)) - 1
        for stage in self.stages[first:]:
            edits = list(stage.propose(state, rng))
            if edits:
                return edits
        return []
