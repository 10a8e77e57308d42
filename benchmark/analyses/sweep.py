"""Fig. 5: the adjustment tool swept over K, one value at a time.

For each case x method and each K, the method predicts with a single ``Adjustment(k)``
(K > 0 asks to grow, K < 0 to shrink; K = 0 is the prediction without edits) and the
volume and Dice are recorded beside the no-edit ones. The axial slice through the
tumour's largest cross-section is kept with the prediction for every K, so the figure
is rebuilt from the files alone.

Files in the analyses folder: ``sweep.csv`` (one row per case x method x K),
``sweep_slices.npz`` and ``sweep_status.csv`` (what failed or was skipped, and why).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import cycle
from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.registry.methods import MethodOptions
from benchmark.analyses.driver import AnalysisFiles, Outcome, analyse_all
from benchmark.analyses.slices import flair, largest_section
from benchmark.case import Case
from benchmark.edits import Adjustment, EditHistory
from benchmark.io import CaseRef
from benchmark.method import Method
from benchmark.metrics import dice

#: The protocol's default K values: -0.5 to 0.5 in steps of 0.1.
DEFAULT_KS = tuple(round(k / 10, 1) for k in range(-5, 6))
COLUMNS = ("case", "method", "k", "volume_ml", "dice", "base_volume_ml", "base_dice")
FILES = AnalysisFiles("sweep", COLUMNS)


@dataclass(frozen=True, eq=False)
class SweepSlice:
    """The slice shown for one case x method.

    Attributes:
        case, method: whose slice it is (the method's table name).
        z: the axial index (the tumour's largest cross-section).
        ks: float [K], the swept values in ascending order.
        flair: float32 [X, Y]; label: bool [X, Y].
        predictions: bool [K, X, Y], the prediction for each of ``ks``.
    """

    case: str
    method: str
    z: int
    ks: np.ndarray
    flair: np.ndarray
    label: np.ndarray
    predictions: np.ndarray

    def arrays(self, i: int) -> dict[str, np.ndarray]:
        return {f"case_{i}": np.asarray(self.case), f"method_{i}": np.asarray(self.method),
                f"z_{i}": np.asarray(self.z), f"ks_{i}": self.ks, f"flair_{i}": self.flair,
                f"label_{i}": self.label, f"predictions_{i}": self.predictions}

    @classmethod
    def from_arrays(cls, arrays, i: int) -> "SweepSlice":
        return cls(str(arrays[f"case_{i}"]), str(arrays[f"method_{i}"]), int(arrays[f"z_{i}"]),
                   *(np.asarray(arrays[f"{a}_{i}"]) for a in ("ks", "flair", "label", "predictions")))


@dataclass(frozen=True, eq=False)
class SweepData:
    """What :func:`read_sweep` returns.

    Attributes:
        table: one row per case x method x K, columns :data:`COLUMNS` (volumes in ml).
        slices: one per case x method, in the table's order.
        status: one row per case x method that failed or was skipped (with the reason)
            or ran ("ok"), columns ``driver.STATUS_COLUMNS``.
    """

    table: pd.DataFrame
    slices: tuple[SweepSlice, ...]
    status: pd.DataFrame


def checked_ks(ks: Sequence[float]) -> tuple[float, ...]:
    """``ks`` sorted without repeats; raises ValueError unless they are finite numbers."""
    values = np.asarray(list(ks), dtype=float)
    if values.size == 0 or not np.isfinite(values).all():
        raise ValueError(f"ks: give one or more finite K values (e.g. {list(DEFAULT_KS)}), got {list(ks)}")
    return tuple(float(k) for k in np.unique(values))


def sweep_case(case: Case, method: Method, ks: Sequence[float]) -> Outcome:
    """The sweep of one case with one method (see the module docstring).

    Args:
        case: the case (its label only scores the predictions).
        method: an editing method; one without the adjustment tool is skipped.
        ks: the K values, any order (they are sorted).
    """
    if "adjustment" not in method.tools:
        return Outcome(skipped=(("adjustment", f"{method.name} does not accept the adjustment tool"),))
    ks = checked_ks(ks)
    image = case.without_label()
    voxel_ml = float(np.prod(case.spacing)) / 1000.0
    base = np.asarray(method.predict(image, EditHistory()), dtype=bool)
    predictions = [base if k == 0 else np.asarray(method.predict(image, EditHistory().add([Adjustment(k)])), bool)
                   for k in ks]
    base_row = {"base_volume_ml": np.count_nonzero(base) * voxel_ml, "base_dice": dice(base, case.label)}
    rows = tuple({"case": case.case_id, "method": method.name, "k": k,
                  "volume_ml": np.count_nonzero(p) * voxel_ml, "dice": dice(p, case.label), **base_row}
                 for k, p in zip(ks, predictions))
    z = largest_section(case.label)
    shown = SweepSlice(case.case_id, method.name, z, np.asarray(ks), flair(case)[:, :, z].astype(np.float32),
                       case.label[:, :, z], np.stack([p[:, :, z] for p in predictions]))
    return Outcome(rows=rows, slices=(shown,))


def run_sweep(refs: Sequence[CaseRef], methods: Sequence[str], options: MethodOptions, ks: Sequence[float],
              out: Path, progress: bool = True) -> Path:
    """Sweep every case x method over ``ks`` and write the files into ``out``.

    Returns:
        the path of ``sweep.csv``.
    """
    ks = checked_ks(ks)
    done = analyse_all(refs, methods, options, lambda case, method: sweep_case(case, method, ks), "sweep", progress)
    return FILES.write(out, done, {key: value for i, s in enumerate(done.slices) for key, value in s.arrays(i).items()})


def read_sweep(folder: Path) -> SweepData | None:
    """The sweep written into ``folder`` (OUT/analyses) by :func:`run_sweep`; None when absent."""
    tables = FILES.read(folder)
    if tables is None:
        return None
    with np.load(Path(folder) / FILES.slices) as arrays:
        count = sum(1 for key in arrays.files if key.startswith("case_"))
        slices = tuple(SweepSlice.from_arrays(arrays, i) for i in range(count))
    return SweepData(tables[0], slices, tables[1])


def plot_sweep(data: SweepData, case: str | None = None, method: str | None = None, n_slices: int = 5):
    """Fig. 5: relative volume V_K / V_0 and Dice against K (one thin line per case, the
    mean thick, one colour per method), above the slices of one case for ``n_slices``
    values of K (default: the first case and method with a slice).

    Returns:
        a matplotlib Figure (not attached to pyplot).
    """
    from matplotlib.figure import Figure

    from benchmark.analyses.figures import (AFTER, BEFORE, GT, corner_text, crop_box, legend_handles, show_contour,
                                            show_image)

    fig = Figure(figsize=(11, 7.8), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=(1.35, 1.0))
    ax_volume, ax_dice = top.subplots(1, 2)
    base_volume = data.table.base_volume_ml.where(data.table.base_volume_ml > 0)
    table = data.table.assign(relative_volume=data.table.volume_ml / base_volume)
    for colour, (name, rows) in zip(cycle(f"C{i}" for i in range(10)), table.groupby("method", sort=False)):
        for ax, column in ((ax_volume, "relative_volume"), (ax_dice, "dice")):
            for _, one in rows.groupby("case", sort=False):
                ax.plot(one.k, one[column], color=colour, alpha=0.3, linewidth=0.8)
            mean = rows.groupby("k")[column].mean()
            ax.plot(mean.index, mean.values, "o-", color=colour, linewidth=2.2, markersize=4,
                    label=f"{name} (mean of {rows.case.nunique()} cases)")
    ax_volume.axhline(1.0, color="grey", linewidth=0.8)
    for ax, ylabel in ((ax_volume, "predicted volume / volume without edits"), (ax_dice, "Dice")):
        ax.axvline(0.0, color="grey", linewidth=0.8, linestyle=":")
        ax.set_xlabel("K typed into the adjustment tool (< 0 shrink, > 0 grow)")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    ax_volume.set_title("Volume against K")
    ax_dice.set_title("Dice against K (thin lines: single cases)")
    if len(table):
        ax_volume.legend(fontsize=8, loc="upper left")
    shown = _pick_slice(data.slices, case, method)
    if shown is None:
        bottom.suptitle("no slice stored", fontsize=10)
        return fig
    picks = np.unique(np.round(np.linspace(0, len(shown.ks) - 1, min(n_slices, len(shown.ks)))).astype(int))
    base = np.flatnonzero(shown.ks == 0)
    box = crop_box([shown.label, *shown.predictions])
    scores = table[(table.case == shown.case) & (table.method == shown.method)].set_index("k").dice
    for ax, i in zip(np.atleast_1d(bottom.subplots(1, len(picks))), picks):
        show_image(ax, shown.flair, box)
        show_contour(ax, shown.label, box, GT)
        if base.size and i == base[0]:
            show_contour(ax, shown.predictions[i], box, BEFORE, linestyle="--")
        else:
            if base.size:
                show_contour(ax, shown.predictions[base[0]], box, BEFORE, linestyle="--", linewidth=1.0)
            show_contour(ax, shown.predictions[i], box, AFTER)
        k = float(shown.ks[i])
        corner_text(ax, f"K = {k:+.2f}")
        ax.set_title(f"Dice {scores.get(k, np.nan):.3f}", fontsize=9)
    bottom.suptitle(f"{shown.case}, {shown.method}: axial slice z = {shown.z}", fontsize=10)
    bottom.legend(handles=legend_handles([("ground truth", GT, "-"), ("K = 0 (no edit)", BEFORE, "--"),
                                          ("with K", AFTER, "-")]), loc="outside lower center", ncol=3, fontsize=8)
    return fig


def _pick_slice(slices: Sequence[SweepSlice], case: str | None, method: str | None) -> SweepSlice | None:
    for s in slices:
        if (case is None or s.case == case) and (method is None or s.method == method):
            return s
    if case is not None or method is not None:
        raise ValueError(f"no sweep slice for case {case!r}, method {method!r}; have "
                         f"{sorted({(s.case, s.method) for s in slices})}")
    return None
