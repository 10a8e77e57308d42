"""The paper's simulated user written the obvious way, with scipy and numpy only.

An independent check of the fast policies (tests compare their edits with these) and
the baseline of ``benchmark.bench``. Same rules, literal code: full-volume labelling
with a 3x3x3 structure, sizes by bincount, cores by repeated erosion, edits rasterised
by scipy's binary dilation, Dice by counting. Not for production use: it is slow.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from benchmark.edits import DILATION_RADIUS, Adjustment, Click, Edit, EditHistory, Stroke
from policies.brush_reference import brush_strokes_scipy

#: The test-mode rules of the fast policies (1 mm isotropic voxels).
SELECTION_MIN_VOXELS = 50
MIN_ABS_K = 0.05


def selection_clicks_scipy(
    label: np.ndarray, prediction: np.ndarray, min_voxels: int = SELECTION_MIN_VOXELS, max_clicks: int | None = None
) -> list[Click]:
    """Same rules and result as :func:`policies.selection.selection_clicks`.

    Args:
        label, prediction: bool [X, Y, Z].
    """
    candidates = []  # (size, first voxel in raster order, core, positive)
    for error, positive in ((label & ~prediction, True), (prediction & ~label, False)):
        components, n = ndi.label(error, structure=np.ones((3, 3, 3)))
        sizes = np.bincount(components.ravel(), minlength=n + 1)
        for i in range(1, n + 1):
            if sizes[i] >= min_voxels:
                component = components == i
                first = int(np.flatnonzero(component)[0])
                candidates.append((int(sizes[i]), first, _last_erosion_core(component), positive))
    candidates.sort(key=lambda c: (-c[0], c[1]))
    return [Click(core, positive) for _, _, core, positive in candidates[:max_clicks]]


def _last_erosion_core(component: np.ndarray) -> tuple[int, int, int]:
    """Erode (6-connected cross, outside = background) until empty; of the last
    non-empty set, the voxel nearest its centroid, ties to the lowest (x, y, z)."""
    last = component
    while component.any():
        last, component = component, ndi.binary_erosion(component)
    voxels = np.argwhere(last)
    # Compare n * distance to the centroid, an exact integer, rather than floats.
    scaled = len(voxels) * voxels - voxels.sum(0)
    distances = (scaled.astype(np.int64) ** 2).sum(1)
    return tuple(int(c) for c in voxels[np.argmin(distances)])  # type: ignore[return-value]


def measured_k_scipy(label: np.ndarray, prediction: np.ndarray) -> float:
    """K = (V_over - V_under) / V_gt from the error masks; NaN for an empty label."""
    v_gt = label.sum()
    if v_gt == 0:
        return float("nan")
    return float(((prediction & ~label).sum() - (label & ~prediction).sum()) / v_gt)


def encode_scipy(history: EditHistory, shape: tuple[int, int, int]) -> np.ndarray:
    """Same result as :func:`benchmark.edits.encode`: float32 [3, X, Y, Z].

    Each edit's voxels are dilated with ``binary_dilation(iterations=2)`` on their
    bounding box grown by two voxels (a full-volume dilation per edit gives the same
    result, far more slowly); later edits overwrite earlier ones.
    """
    out = np.zeros((3, *shape), np.float32)
    for channel, tool in enumerate(("selection", "brush")):
        for edit in history.of_tool(tool):
            voxels = edit.voxels
            lo = np.maximum(voxels.min(0) - DILATION_RADIUS, 0)
            hi = np.minimum(voxels.max(0) + DILATION_RADIUS + 1, shape)
            seeds = np.zeros(hi - lo, bool)
            seeds[tuple((voxels - lo).T)] = True
            box = (channel, *(slice(a, b) for a, b in zip(lo, hi)))
            out[box][ndi.binary_dilation(seeds, iterations=DILATION_RADIUS)] = 1.0 if edit.positive else -1.0
    out[2] = sum(e.k for e in history.of_tool("adjustment"))
    return out


def dice_numpy(prediction: np.ndarray, label: np.ndarray) -> float:
    """2|P & G| / (|P| + |G|); 1.0 when both are empty."""
    total = prediction.sum() + label.sum()
    return 1.0 if total == 0 else float(2 * (prediction & label).sum() / total)


def user_step_scipy(label: np.ndarray, prediction: np.ndarray) -> tuple[list[Edit], np.ndarray, float]:
    """One round of the paper's user with all three tools, test mode, 1 mm voxels.

    Args:
        label, prediction: bool [X, Y, Z].

    Returns:
        (edits, channels, dice): the selection clicks, brush strokes and adjustment
        (if |K| >= MIN_ABS_K) in that order; their encoding float32 [3, X, Y, Z]; the
        prediction's Dice.
    """
    edits: list[Edit] = list(selection_clicks_scipy(label, prediction))
    strokes: list[Stroke] = brush_strokes_scipy(label, prediction, mode="test")
    edits += strokes
    k = measured_k_scipy(label, prediction)
    if not np.isnan(k) and abs(k) >= MIN_ABS_K:
        edits.append(Adjustment(-k))
    channels = encode_scipy(EditHistory().add(edits), label.shape)
    return edits, channels, dice_numpy(prediction, label)
