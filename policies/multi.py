"""The multi-tool user: each round, the tool a sensible person would reach for.

The paper's users combine the three tools (Sec. 2.2): the selection tool for a large
block of missed or false tumour, the brush for boundary errors on some slices, the
adjustment tool for a boundary that is slightly too tight or too loose all round. This
user looks at the errors, decides which of the three situations it faces, and delegates
the edit itself to that tool's policy, so the edits follow the paper's rules.
"""

from __future__ import annotations

import edt
import numpy as np

from benchmark.edits import Edit
from benchmark.errors import ErrorComponents, error_components
from benchmark.metrics import dice
from benchmark.policy import Policy, RoundState
from policies.adjustment import AdjustmentPolicy
from policies.brush import BrushPolicy
from policies.selection import SelectionPolicy, min_voxels


class MultiToolUser:
    """Simulated user choosing among selection, brush and adjustment every round.

    Decision rule, on the errors of the current prediction (voxel units):

    1. Done: Dice(prediction, label) >= ``target_dice`` -> [].
    2. Blob -> selection first, its click before the other clicks: an error component
       (26-connected, one sign, at least the selection tool's minimum size) holds at
       least ``blob_share`` of all error voxels and is thick: its deepest voxel lies at
       least ``blob_depth`` voxels (Euclidean) from the component's outside. The
       largest such component is the blob.
    3. Shell -> adjustment first: the error is mostly one sign (at least
       ``shell_sign_share`` of it), thin (at least ``shell_near`` of that sign's error
       lies within ``shell_depth`` voxels of the prediction's surface: outside it for
       under-segmentation, inside for over) and all round (it covers at least
       ``shell_coverage`` of the prediction's surface layer: the voxels face-adjacent
       to the prediction outside it, or the prediction's own boundary voxels).
    4. Otherwise (boundary errors local to some slices) -> brush first.

    The other two tools follow as fallbacks, in the order selection, brush,
    adjustment. Candidates come from the delegated policies (``SelectionPolicy``:
    clicks largest component first; ``BrushPolicy``: strokes largest region first;
    ``AdjustmentPolicy``: one K correction), and an edit equal to one already in the
    history is skipped (the method ignored it; repeating it would change nothing). The
    first ``max_edits_per_round`` candidates are proposed. Nothing worth fixing (no
    component above the selection size, no brush region above its minimum area,
    |K| below the adjustment minimum, or only repeats) -> [].

    Args:
        target_dice: stop once the prediction reaches this Dice.
        max_edits_per_round: edits proposed per round.
        mode: "test" or "train", handed to the three tool policies.
        blob_share, blob_depth: the blob test (share of error voxels; voxels).
        shell_sign_share, shell_near, shell_depth, shell_coverage: the shell test
            (shares in [0, 1]; depth in voxels).
    """

    name = "multi"

    def __init__(
        self,
        target_dice: float = 0.9,
        max_edits_per_round: int = 1,
        mode: str = "test",
        *,
        blob_share: float = 0.3,
        blob_depth: float = 4.0,
        shell_sign_share: float = 0.8,
        shell_near: float = 0.9,
        shell_depth: float = 2.0,
        shell_coverage: float = 0.5,
    ) -> None:
        if not 0.0 <= target_dice <= 1.0:
            raise ValueError(f"multi: target_dice must be in [0, 1], got {target_dice!r}")
        if isinstance(max_edits_per_round, bool) or not isinstance(max_edits_per_round, int) or max_edits_per_round < 1:
            raise ValueError(f"multi: max_edits_per_round must be an integer >= 1, got {max_edits_per_round!r}")
        for key, value in dict(
            blob_share=blob_share, shell_sign_share=shell_sign_share, shell_near=shell_near, shell_coverage=shell_coverage
        ).items():
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"multi: {key} is a share and must be in [0, 1], got {value!r}")
        for key, value in dict(blob_depth=blob_depth, shell_depth=shell_depth).items():
            if not value > 0:
                raise ValueError(f"multi: {key} is a depth in voxels and must be > 0, got {value!r}")
        self.target_dice = float(target_dice)
        self.max_edits_per_round = max_edits_per_round
        self.mode = mode
        self.blob_share, self.blob_depth = float(blob_share), float(blob_depth)
        self.shell_sign_share, self.shell_near = float(shell_sign_share), float(shell_near)
        self.shell_depth, self.shell_coverage = float(shell_depth), float(shell_coverage)
        # The tool policies validate the mode.
        self.tools: dict[str, Policy] = {
            "selection": SelectionPolicy(mode=mode),
            "brush": BrushPolicy(mode=mode),
            "adjustment": AdjustmentPolicy(mode=mode),
        }

    def propose(self, state: RoundState, rng: np.random.Generator) -> list[Edit]:
        """This round's edits, first choice first (see the class docstring)."""
        if dice(state.prediction, state.label) >= self.target_dice:
            return []
        order, components, blob = self._plan(state)
        done = state.history.edits
        edits: list[Edit] = []
        for tool in order:
            candidates = self.tools[tool].propose(state, rng)
            if tool == "selection" and blob is not None:
                # The blob's click first; the others keep their order (stable sort).
                candidates.sort(key=lambda click: components.labels[click.voxel] != blob)
            for edit in candidates:
                if edit not in done and edit not in edits:
                    edits.append(edit)
                if len(edits) == self.max_edits_per_round:
                    return edits
        return edits

    def tool_order(self, state: RoundState) -> tuple[str, ...]:
        """The tools in the order this user tries them on ``state``."""
        return self._plan(state)[0]

    def _plan(self, state: RoundState) -> tuple[tuple[str, ...], ErrorComponents, int | None]:
        """(tool order, the error components, the blob's component id or None)."""
        components = error_components(state.label, state.prediction)
        if components.n == 0:
            return ("brush", "selection", "adjustment"), components, None
        blob = self._blob(components, state.spacing)
        if blob is not None:
            return ("selection", "brush", "adjustment"), components, blob
        if self._is_shell(components, state.label, state.prediction):
            return ("adjustment", "selection", "brush"), components, None
        return ("brush", "selection", "adjustment"), components, None

    def _blob(self, components: ErrorComponents, spacing: tuple[float, float, float]) -> int | None:
        """The largest component that is a big share of the error and thick, if any."""
        selection = self.tools["selection"]
        total = components.sizes.sum()
        for i in components.largest_first(min_voxels(selection.min_size, spacing)):  # type: ignore[attr-defined]
            if components.sizes[i] < self.blob_share * total:
                return None
            mask, _ = components.mask(int(i))
            depth = edt.edt(np.ascontiguousarray(mask, dtype=np.uint8), black_border=True)
            if float(depth.max()) >= self.blob_depth:
                return int(i)
        return None

    def _is_shell(self, components: ErrorComponents, label: np.ndarray, prediction: np.ndarray) -> bool:
        under, over = components.under_volume, components.over_volume
        positive = under >= over
        if max(under, over) < self.shell_sign_share * (under + over):
            return False
        box = _box_around(prediction | label, margin=int(np.ceil(self.shell_depth)) + 1)
        pred = prediction[box]
        error = (label[box] & ~pred) if positive else (pred & ~label[box])
        # Voxel distance to the prediction's surface, on the side where the error lies.
        side = ~pred if positive else pred
        depth = edt.edt(np.ascontiguousarray(side, dtype=np.uint8), black_border=not positive)
        layer = depth == 1.0
        if not layer.any():
            return False
        near = np.count_nonzero(error & (depth <= self.shell_depth)) / np.count_nonzero(error)
        coverage = np.count_nonzero(error & layer) / np.count_nonzero(layer)
        return near >= self.shell_near and coverage >= self.shell_coverage


def _box_around(mask: np.ndarray, margin: int) -> tuple[slice, slice, slice]:
    """Bounding box of a non-empty bool [X, Y, Z] mask, grown by ``margin`` voxels."""
    box = []
    for axis in range(3):
        hit = np.flatnonzero(mask.any(axis=tuple(a for a in range(3) if a != axis)))
        box.append(slice(max(int(hit[0]) - margin, 0), min(int(hit[-1]) + 1 + margin, mask.shape[axis])))
    return tuple(box)  # type: ignore[return-value]
