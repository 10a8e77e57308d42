"""Fig. 4: each tool's simulated user, one round, on the prediction without edits.

For each case x method and each of the paper's tools (selection, brush, adjustment),
the test-time simulated user of that tool (``make_user(tool, "test")``) proposes its
edits on the no-edit prediction and the method predicts with them. The axial slice that
best shows the change is kept: the first click's or stroke's slice, or for an
adjustment the slice with the most changed voxels. The rng of each case x method x tool
is ``benchmark.runner.session_rng(seed, case, method, tool)``.

Files in the analyses folder: ``panels.csv`` (one row per case x method x tool, after a
row with tool "none": the prediction without edits on the tumour's largest
cross-section),
``panels_slices.npz`` (the row's ``panel``) and ``panels_status.csv``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.registry.methods import MethodOptions
from benchmark.analyses.driver import AnalysisFiles, Outcome, analyse_all
from benchmark.analyses.slices import (SlicePanel, flair, largest_section, load_panels, most_changed_section,
                                       panels_arrays)
from benchmark.case import Case
from benchmark.edits import PAPER_TOOLS, Adjustment, EditHistory
from benchmark.io import CaseRef
from benchmark.method import Method
from benchmark.metrics import dice
from benchmark.policy import RoundState
from benchmark.runner import session_rng
from benchmark.registry.users import make_user

#: The ``tool`` of each case x method's first row: the prediction without edits, on the
#: slice through the tumour's largest cross-section.
NO_EDITS = "none"
#: Columns of panels.csv; ``k`` is the adjustment typed (NaN for the other tools).
COLUMNS = ("case", "method", "tool", "n_edits", "k", "z", "dice_before", "dice_after", "panel")
FILES = AnalysisFiles("panels", COLUMNS, text=("case", "method", "tool"))


@dataclass(frozen=True, eq=False)
class PanelsData:
    """What :func:`read_panels` returns.

    Attributes:
        table: one row per case x method x tool, columns :data:`COLUMNS` (Dice in 3D).
        panels: the stored slices; row ``panel`` of the table is ``panels[panel]``.
        status: what ran, failed or was skipped, columns ``driver.STATUS_COLUMNS``.
    """

    table: pd.DataFrame
    panels: tuple[SlicePanel, ...]
    status: pd.DataFrame


def panels_case(case: Case, method: Method, seed: int = 0) -> Outcome:
    """One round of each tool's user on one case with one method (see the module
    docstring); a tool the method does not accept is skipped."""
    image = case.without_label()
    before = np.asarray(method.predict(image, EditHistory()), dtype=bool)
    volume = flair(case)
    z = largest_section(case.label)
    score = dice(before, case.label)
    rows = [{"case": case.case_id, "method": method.name, "tool": NO_EDITS, "n_edits": 0, "k": float("nan"), "z": z,
             "dice_before": score, "dice_after": score, "panel": 0}]
    panels, skipped = [SlicePanel.cut(z, volume, case.label, before, before)], []
    for tool in PAPER_TOOLS:
        if tool not in method.tools:
            skipped.append((tool, f"{method.name} does not accept the {tool} tool"))
            continue
        state = RoundState(case.label, before, EditHistory(), 1, case.spacing)
        edits = list(make_user(tool, "test").propose(state, session_rng(seed, case.case_id, method.name, tool)))
        after = np.asarray(method.predict(image, EditHistory().add(edits)), dtype=bool) if edits else before
        drawn = [e for e in edits if not isinstance(e, Adjustment)]
        if drawn:
            z = int(drawn[0].voxels[0, 2])
        else:
            changed = most_changed_section(before, after)
            z = largest_section(case.label) if changed is None else changed
        rows.append({"case": case.case_id, "method": method.name, "tool": tool, "n_edits": len(edits),
                     "k": sum(e.k for e in edits) if tool == "adjustment" and edits else float("nan"), "z": z,
                     "dice_before": score, "dice_after": dice(after, case.label), "panel": len(panels)})
        panels.append(SlicePanel.cut(z, volume, case.label, before, after, drawn))
    return Outcome(tuple(rows), tuple(panels), tuple(skipped))


def run_panels(refs: Sequence[CaseRef], methods: Sequence[str], options: MethodOptions, out: Path,
               seed: int = 0, progress: bool = True) -> Path:
    """Each tool's user on every case x method, written into ``out``.

    Returns:
        the path of ``panels.csv``.
    """
    done = analyse_all(refs, methods, options, lambda case, method: panels_case(case, method, seed), "panels",
                       progress)
    return FILES.write(out, done, panels_arrays(done.slices))


def read_panels(folder: Path) -> PanelsData | None:
    """The results of :func:`run_panels` in ``folder`` (OUT/analyses); None when absent."""
    tables = FILES.read(folder)
    return None if tables is None else PanelsData(tables[0], load_panels(Path(folder) / FILES.slices), tables[1])


def plot_panels(data: PanelsData, max_rows: int = 8):
    """Fig. 4: one row per case x method (the first ``max_rows``): the slice with the
    ground truth and the prediction without edits, then one column per tool with the
    prediction after its edits and the edits drawn (clicks as discs, strokes as lines,
    K in the corner); the 3D Dice in each title.

    Returns:
        a matplotlib Figure (not attached to pyplot).
    """
    from matplotlib.figure import Figure

    from benchmark.analyses.figures import (AFTER, BEFORE, GT, corner_text, crop_box, edit_handles, legend_handles,
                                            show_contour, show_image, show_panel)

    table = data.table
    pairs = list(dict.fromkeys(zip(table.case, table.method)))
    shown = pairs[:max_rows]
    tools = [t for t in PAPER_TOOLS if t in set(table.tool)]
    fig = Figure(figsize=(2.9 * (1 + len(tools)), 0.6 + 2.9 * max(1, len(shown))), layout="constrained")
    if not shown:
        fig.suptitle("Tools on the prediction without edits: no results", fontsize=11)
        return fig
    axes = np.atleast_2d(fig.subplots(len(shown), 1 + len(tools), squeeze=False))
    for (case, method), row_axes in zip(shown, axes):
        rows = table[(table.case == case) & (table.method == method)].set_index("tool")
        first = data.panels[int(rows.loc[NO_EDITS].panel)]
        box = crop_box([first.label, first.before])
        show_image(row_axes[0], first.flair, box)
        show_contour(row_axes[0], first.label, box, GT)
        show_contour(row_axes[0], first.before, box, BEFORE, linestyle="--")
        corner_text(row_axes[0], f"z = {first.z}")
        row_axes[0].set_title(f"{case}\n{method}\nno edits: Dice {rows.dice_before.iloc[0]:.3f}", fontsize=8.5)
        for ax, tool in zip(row_axes[1:], tools):
            if tool not in rows.index:
                ax.set_axis_off()
                ax.set_title(f"{tool}: not accepted", fontsize=8.5)
                continue
            row = rows.loc[tool]
            panel = data.panels[int(row.panel)]
            show_panel(ax, panel, tool, before_width=1.0)
            k = f", K = {row.k:+.2f}" if tool == "adjustment" and row.n_edits else ""
            corner_text(ax, f"z = {panel.z}{k}")
            ax.set_title(f"{tool}: {row.n_edits} edit{'' if row.n_edits == 1 else 's'}\n"
                         f"Dice {row.dice_before:.3f} → {row.dice_after:.3f}", fontsize=8.5)
    more = f" (first {len(shown)} of {len(pairs)} case x method rows)" if len(pairs) > len(shown) else ""
    fig.suptitle(f"One round of each tool's simulated user{more}", fontsize=11)
    fig.legend(handles=legend_handles([("ground truth", GT, "-"), ("no edits", BEFORE, "--"),
                                       ("after the tool's edits", AFTER, "-")]) + edit_handles(),
               loc="outside lower center", ncol=5, fontsize=8)
    return fig
