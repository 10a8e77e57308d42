"""Fig. 6: deliberately wrong edits, and how far a method lets them spread.

For each case x method, four wrong edits, each applied alone to the prediction without
edits:

- ``fg_click``: a foreground click in healthy tissue: a brain voxel (image non-zero)
  away from the tumour, the prediction and the brain's edge (see :func:`healthy_voxel`);
- ``fg_stroke``: a foreground stroke through that voxel, :data:`STROKE_VOXELS` voxels
  along X on its axial slice, kept to healthy tissue;
- ``bg_click``: a background click at the deepest voxel of label & prediction;
- ``bg_stroke``: a background stroke through that voxel along X, kept inside
  label & prediction on its axial slice.

Measured per edit (:func:`spread`): voxels that flipped in the edit's direction (grew for
a foreground edit, shrank for a background one), those of them beyond the edit's own
stamp (:func:`benchmark.edits.stamp`), the propagation reach (the largest distance in mm
from the edit voxels to a flipped voxel 26-connected to them), and Dice before/after.
A method without the selection (brush) tool skips the clicks (strokes).

Files in the analyses folder: ``robustness.csv`` (one row per case x method x edit),
``robustness_slices.npz`` (the axial slice of each edit; the row's ``panel``) and
``robustness_status.csv``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cc3d
import edt
import numpy as np
import pandas as pd

from benchmark.registry.methods import MethodOptions
from benchmark.analyses.driver import AnalysisFiles, Outcome, analyse_all
from benchmark.analyses.slices import SlicePanel, brain, flair, load_panels, panels_arrays
from benchmark.case import Case
from benchmark.edits import Click, EditHistory, Stroke, stamp
from benchmark.io import CaseRef
from benchmark.method import Method
from benchmark.metrics import dice
from benchmark.runner import session_rng

#: The wrong edits in figure order: (name, tool, positive, what it is).
EDITS = (
    ("fg_click", "selection", True, "foreground click in healthy tissue"),
    ("fg_stroke", "brush", True, "foreground stroke in healthy tissue"),
    ("bg_click", "selection", False, "background click inside the tumour"),
    ("bg_stroke", "brush", False, "background stroke inside the tumour"),
)
#: Healthy-tissue edits lie at least this far (mm) from tumour, prediction and the
#: brain's edge, where the brain has such voxels (else as far as it allows).
HEALTHY_DISTANCE_MM = 15.0
#: Length of the wrong strokes in voxels (before keeping them inside their region).
STROKE_VOXELS = 10
COLUMNS = ("case", "method", "edit", "tool", "positive", "x", "y", "z", "distance_mm", "edit_voxels",
           "stamped", "flipped", "beyond_stamp", "reach_mm", "dice_before", "dice_after", "panel")
FILES = AnalysisFiles("robustness", COLUMNS, text=("case", "method", "edit", "tool"))


@dataclass(frozen=True)
class Spread:
    """How far one edit changed the prediction (see :func:`spread`)."""

    flipped: int
    beyond_stamp: int
    reach_mm: float


@dataclass(frozen=True, eq=False)
class RobustnessData:
    """What :func:`read_robustness` returns.

    Attributes:
        table: one row per case x method x edit, columns :data:`COLUMNS`; (x, y, z) and
            ``distance_mm`` as in :class:`WrongEdit`.
        panels: the stored slices; row ``panel`` of the table is ``panels[panel]``.
        status: what ran, failed or was skipped, columns ``driver.STATUS_COLUMNS``.
    """

    table: pd.DataFrame
    panels: tuple[SlicePanel, ...]
    status: pd.DataFrame


def healthy_voxel(brain_mask: np.ndarray, lesion: np.ndarray, spacing: tuple[float, float, float],
                  rng: np.random.Generator) -> tuple[tuple[int, int, int], float]:
    """A voxel of healthy tissue, far from ``lesion`` and from the brain's edge.

    Every brain voxel outside the lesion scores min(distance to the lesion, distance to
    the outside of the brain), in mm; the voxel is drawn from those scoring at least
    min(:data:`HEALTHY_DISTANCE_MM`, the best score).

    Args:
        brain_mask: bool [X, Y, Z], the brain.
        lesion: bool [X, Y, Z], tumour | prediction.
        spacing: voxel size in mm along X, Y, Z.
        rng: draws among the qualifying voxels.

    Returns:
        the voxel and its distance to the lesion in mm (inf for an empty lesion).

    Raises:
        ValueError: the brain has no voxel outside the lesion.
    """
    healthy = brain_mask & ~lesion
    if not healthy.any():
        raise ValueError("no brain voxel lies outside tumour and prediction: no healthy tissue to edit")
    to_edge = edt.edt(np.ascontiguousarray(brain_mask, dtype=np.uint8), anisotropy=spacing, black_border=True)
    to_lesion = _distance_to(lesion, spacing)
    score = np.where(healthy, np.minimum(to_edge, to_lesion), -1.0)
    threshold = min(HEALTHY_DISTANCE_MM, float(score.max()))
    candidates = np.argwhere(score >= threshold)
    voxel = tuple(int(c) for c in candidates[rng.integers(len(candidates))])
    return voxel, float(to_lesion[voxel])  # type: ignore[return-value]


def deepest_voxel(region: np.ndarray, spacing: tuple[float, float, float]) -> tuple[tuple[int, int, int], float]:
    """The voxel of bool [X, Y, Z] ``region`` farthest (mm) from its outside, and that depth.

    Raises:
        ValueError: ``region`` is empty.
    """
    if not region.any():
        raise ValueError("the region is empty")
    depth = edt.edt(np.ascontiguousarray(region, dtype=np.uint8), anisotropy=spacing, black_border=True)
    voxel = np.unravel_index(int(np.argmax(depth)), region.shape)
    return tuple(int(c) for c in voxel), float(depth[voxel])  # type: ignore[return-value]


def line_stroke(centre: tuple[int, int, int], allowed: np.ndarray, length: int = STROKE_VOXELS) -> np.ndarray:
    """A straight stroke along X through ``centre`` on its axial slice.

    Args:
        centre: (x, y, z), inside ``allowed``.
        allowed: bool [X, Y, Z] where the stroke may go.
        length: voxels before trimming (``length // 2`` before the centre).

    Returns:
        int [N, 3]: the run of allowed voxels containing the centre, in X order.
    """
    x0, y, z = centre
    if not allowed[centre]:
        raise ValueError(f"the stroke's centre {centre} is outside its allowed region")
    row = allowed[:, y, z]
    first, last = max(0, x0 - length // 2), min(len(row) - 1, x0 + (length - 1) // 2)
    start = stop = x0
    while start > first and row[start - 1]:
        start -= 1
    while stop < last and row[stop + 1]:
        stop += 1
    return np.asarray([(x, y, z) for x in range(start, stop + 1)], dtype=np.intp)


def spread(before: np.ndarray, after: np.ndarray, edit: Click | Stroke,
           spacing: tuple[float, float, float]) -> Spread:
    """How far ``edit`` changed ``before`` into ``after`` (bool [X, Y, Z] masks).

    flipped: voxels that changed in the edit's direction (False to True for a foreground
    edit, True to False for a background one); beyond_stamp: those outside the edit's
    stamp (its voxels dilated by two); reach_mm: the largest distance (mm) from the edit
    voxels to a flipped voxel joined to them by 26-connected flipped or edit voxels,
    0 when none is.
    """
    flipped = after & ~before if edit.positive else before & ~after
    stamped = stamp([edit], before.shape) != 0
    seeds = np.zeros(before.shape, bool)
    seeds[tuple(edit.voxels.T)] = True
    components = cc3d.connected_components(flipped | seeds, connectivity=26)
    touching = np.unique(components[seeds])
    joined = flipped & np.isin(components, touching[touching > 0])
    reach = float(_distance_to(seeds, spacing)[joined].max()) if joined.any() else 0.0
    return Spread(int(np.count_nonzero(flipped)), int(np.count_nonzero(flipped & ~stamped)), reach)


@dataclass(frozen=True)
class WrongEdit:
    """One placed wrong edit.

    Attributes:
        edit: the click or stroke.
        voxel: (x, y, z) it is placed at: the click, or the voxel the stroke runs through.
        distance_mm: from ``voxel`` to tumour or prediction (foreground edits), or to the
            outside of label & prediction (background edits: its depth).
    """

    edit: Click | Stroke
    voxel: tuple[int, int, int]
    distance_mm: float


def wrong_edits(case: Case, before: np.ndarray, rng: np.random.Generator) -> dict[str, WrongEdit | str]:
    """The four wrong edits of :data:`EDITS` on ``case`` given the no-edit prediction
    ``before`` (bool [X, Y, Z]), by name; a string instead says why that edit cannot be
    placed."""
    out: dict[str, WrongEdit | str] = {}
    lesion = case.label | before
    healthy = brain(case) & ~lesion
    try:
        voxel, distance = healthy_voxel(brain(case), lesion, case.spacing, rng)
        out["fg_click"] = WrongEdit(Click(voxel, True), voxel, distance)
        out["fg_stroke"] = WrongEdit(Stroke(line_stroke(voxel, healthy), True), voxel, distance)
    except ValueError as error:
        out["fg_click"] = out["fg_stroke"] = str(error)
    inside = case.label & before
    if inside.any():
        voxel, depth = deepest_voxel(inside, case.spacing)
        out["bg_click"] = WrongEdit(Click(voxel, False), voxel, depth)
        out["bg_stroke"] = WrongEdit(Stroke(line_stroke(voxel, inside), False), voxel, depth)
    else:
        out["bg_click"] = out["bg_stroke"] = "the prediction misses the tumour: no voxel is inside both"
    return out


def robustness_case(case: Case, method: Method, rng: np.random.Generator) -> Outcome:
    """The four wrong edits on one case with one method (see the module docstring)."""
    image = case.without_label()
    before = np.asarray(method.predict(image, EditHistory()), dtype=bool)
    placed = wrong_edits(case, before, rng)
    volume = flair(case)
    rows, panels, skipped = [], [], []
    for name, tool, positive, _ in EDITS:
        wrong = placed[name]
        if tool not in method.tools:
            skipped.append((name, f"{method.name} does not accept the {tool} tool"))
            continue
        if isinstance(wrong, str):
            skipped.append((name, wrong))
            continue
        after = np.asarray(method.predict(image, EditHistory().add([wrong.edit])), dtype=bool)
        measured = spread(before, after, wrong.edit, case.spacing)
        x, y, z = wrong.voxel
        rows.append({"case": case.case_id, "method": method.name, "edit": name, "tool": tool, "positive": positive,
                     "x": x, "y": y, "z": z, "distance_mm": wrong.distance_mm, "edit_voxels": len(wrong.edit.voxels),
                     "stamped": int(np.count_nonzero(stamp([wrong.edit], before.shape))),
                     "flipped": measured.flipped, "beyond_stamp": measured.beyond_stamp, "reach_mm": measured.reach_mm,
                     "dice_before": dice(before, case.label), "dice_after": dice(after, case.label),
                     "panel": len(panels)})
        panels.append(SlicePanel.cut(z, volume, case.label, before, after, [wrong.edit]))
    return Outcome(tuple(rows), tuple(panels), tuple(skipped))


def run_robustness(refs: Sequence[CaseRef], methods: Sequence[str], options: MethodOptions, out: Path,
                   seed: int = 0, progress: bool = True) -> Path:
    """The wrong edits on every case x method, written into ``out``.

    The healthy-tissue voxel of each case x method is drawn from its own stream of
    ``seed`` (``benchmark.runner.session_rng(seed, case, method, "robustness")``).

    Returns:
        the path of ``robustness.csv``.
    """
    def analyse(case: Case, method: Method) -> Outcome:
        return robustness_case(case, method, session_rng(seed, case.case_id, method.name, "robustness"))

    done = analyse_all(refs, methods, options, analyse, "robustness", progress)
    return FILES.write(out, done, panels_arrays(done.slices))


def read_robustness(folder: Path) -> RobustnessData | None:
    """The results of :func:`run_robustness` in ``folder`` (OUT/analyses); None when absent."""
    tables = FILES.read(folder)
    return None if tables is None else RobustnessData(tables[0], load_panels(Path(folder) / FILES.slices), tables[1])


def plot_robustness(data: RobustnessData, case: str | None = None, method: str | None = None):
    """Fig. 6: the wrong edits on one case x method (default: the first in the table),
    foreground edits in healthy tissue above, background edits in the tumour below,
    before/after contours and the edit drawn; beside them, bar charts of the flipped
    voxels beyond the edit's stamp and the propagation reach, mean over cases, per edit
    and method.

    Returns:
        a matplotlib Figure (not attached to pyplot).
    """
    from matplotlib.figure import Figure

    from benchmark.analyses.figures import AFTER, BEFORE, GT, edit_handles, legend_handles, pick_pair, show_panel

    table = data.table
    pair = pick_pair(table, case, method)
    shown = table[(table.case == pair[0]) & (table.method == pair[1])].set_index("edit") if pair else table.iloc[:0]
    fig = Figure(figsize=(12.5, 7.2), layout="constrained")
    grid = fig.add_gridspec(2, 3, width_ratios=(1, 1, 1.25))
    for i, (name, tool, _, what) in enumerate(EDITS):
        ax = fig.add_subplot(grid[i // 2, i % 2])
        if name not in shown.index:
            ax.set_axis_off()
            ax.set_title(f"{what}\n(not run)", fontsize=9)
            continue
        row = shown.loc[name]
        panel = data.panels[int(row.panel)]
        show_panel(ax, panel, tool)
        ax.set_title(f"{what}\nflipped {row.flipped} voxels ({row.beyond_stamp} beyond the stamp), "
                     f"reach {row.reach_mm:.1f} mm\n"
                     f"Dice {row.dice_before:.3f} → {row.dice_after:.3f} (z = {panel.z})", fontsize=8.5)
    for r, (column, ylabel) in enumerate((("beyond_stamp", "flipped voxels beyond the stamp"),
                                          ("reach_mm", "propagation reach (mm)"))):
        ax = fig.add_subplot(grid[r, 2])
        _bars(ax, table, column)
        ax.set_ylabel(ylabel)
        ax.set_title(f"mean over {table.case.nunique()} cases", fontsize=9)
    fig.suptitle(f"Wrong edits on {pair[0]}, {pair[1]}" if pair else "Wrong edits: no results", fontsize=11)
    fig.legend(handles=legend_handles([("ground truth", GT, "-"), ("before the edit", BEFORE, "--"),
                                       ("after the edit", AFTER, "-")]) + edit_handles(),
               loc="outside lower center", ncol=5, fontsize=8)
    return fig


def _bars(ax, table: pd.DataFrame, column: str) -> None:
    """Grouped bars: per edit kind (x), one bar per method, the mean of ``column``."""
    names = [name for name, *_ in EDITS]
    means = table.groupby(["edit", "method"], sort=False)[column].mean().unstack("method").reindex(names)
    width = 0.8 / max(1, means.shape[1])
    for j, method in enumerate(means.columns):
        ax.bar(np.arange(len(names)) + (j - (means.shape[1] - 1) / 2) * width, means[method].fillna(0).values,
               width, label=method)
    ax.set_xticks(np.arange(len(names)), [n.replace("_", " ") for n in names], fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    if means.shape[1]:
        ax.legend(fontsize=7)


def _distance_to(mask: np.ndarray, spacing: tuple[float, float, float]) -> np.ndarray:
    """float [X, Y, Z]: the distance in mm from each voxel to the nearest voxel of
    ``mask`` (inf everywhere when it is empty)."""
    if not mask.any():
        return np.full(mask.shape, np.inf)
    return edt.edt(np.ascontiguousarray(~mask, dtype=np.uint8), anisotropy=spacing, black_border=False)
