"""Drawing the stored axial slices on matplotlib axes: one look for Figs. 4-6.

Slices are [X, Y] arrays shown with X to the right and Y (anterior) up. Colours: ground
truth green, the prediction before the edit red and dashed, after it blue; foreground
edits yellow, background edits magenta.
Only the ``plot_*`` functions call these, so importing the analyses never imports
matplotlib.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

GT, BEFORE, AFTER = "#2ca02c", "#d62728", "#1f77b4"
FOREGROUND, BACKGROUND = "#ffd400", "#ff3df5"

Box = tuple[slice, slice]


def crop_box(masks: Sequence[np.ndarray], points: np.ndarray | None = None, margin: float = 0.4,
             min_size: int = 40) -> Box:
    """A square window [X, Y] around everything in ``masks`` (bool [X, Y]) and ``points``
    (int [N, >=2], x and y first), widened by ``margin`` of its size on each side, at
    least ``min_size`` voxels, inside the slice; the whole slice when all are empty."""
    shape = masks[0].shape
    union = np.zeros(shape, bool)
    for mask in masks:
        union |= mask
    xs, ys = np.nonzero(union)
    if points is not None and len(points):
        xs, ys = np.concatenate([xs, points[:, 0]]), np.concatenate([ys, points[:, 1]])
    if not len(xs):
        return slice(0, shape[0]), slice(0, shape[1])
    side = max(xs.max() - xs.min() + 1, ys.max() - ys.min() + 1)
    side = int(min(max(side * (1 + 2 * margin), min_size), max(shape)))
    box = []
    for lo, hi, n in ((xs.min(), xs.max(), shape[0]), (ys.min(), ys.max(), shape[1])):
        width = min(side, n)
        start = int(np.clip((lo + hi + 1) // 2 - width // 2, 0, n - width))
        box.append(slice(start, start + width))
    return box[0], box[1]


def pick_pair(table, case: str | None, method: str | None) -> tuple[str, str] | None:
    """The first (case, method) of ``table`` (a frame with those columns) matching the
    given ones (None: any); None for an empty table. Raises ValueError when a given
    case or method has no rows."""
    rows = table
    if case is not None:
        rows = rows[rows.case == case]
    if method is not None:
        rows = rows[rows.method == method]
    if not len(rows):
        if case is None and method is None:
            return None
        raise ValueError(f"no rows for case {case!r}, method {method!r}; cases: {sorted(set(table.case))}, "
                         f"methods: {sorted(set(table.method))}")
    return str(rows.case.iloc[0]), str(rows.method.iloc[0])


def show_image(ax, flair: np.ndarray, box: Box) -> None:
    """FLAIR float [X, Y] in grey, windowed on the brain's 1st-99th percentiles; outside
    the brain (0) black."""
    from matplotlib import colormaps

    window = flair[box]
    inside = window[window != 0]
    lo, hi = np.percentile(inside, (1, 99)) if inside.size else (0.0, 1.0)
    ax.imshow(np.ma.masked_equal(window, 0).T, cmap=colormaps["gray"].with_extremes(bad="black"), origin="lower",
              interpolation="nearest", vmin=lo, vmax=hi if hi > lo else lo + 1)
    ax.set_xticks([])
    ax.set_yticks([])


def show_contour(ax, mask: np.ndarray, box: Box, color: str, linestyle: str = "-", linewidth: float = 1.4) -> None:
    """The outline of bool [X, Y] ``mask`` (nothing when it is empty in the window)."""
    window = mask[box]
    if window.any() and not window.all():
        ax.contour(window.T.astype(np.float32), levels=[0.5], colors=[color], linestyles=[linestyle],
                   linewidths=linewidth)


def show_edits(ax, points: np.ndarray, box: Box, tool: str) -> None:
    """Edit voxels int [N, 4] (x, y, sign, edit index): clicks as discs, strokes as lines."""
    for index in np.unique(points[:, 3]) if len(points) else ():
        edit = points[points[:, 3] == index]
        x, y = edit[:, 0] - box[0].start, edit[:, 1] - box[1].start
        color = FOREGROUND if edit[0, 2] > 0 else BACKGROUND
        if tool == "selection":
            ax.plot(x, y, "o", color=color, markersize=7, markeredgecolor="black", markeredgewidth=0.8)
        else:
            ax.plot(x, y, "-", color="black", linewidth=4.0, solid_capstyle="round")
            ax.plot(x, y, "-", color=color, linewidth=2.4, solid_capstyle="round")


def show_panel(ax, panel, tool: str, before_width: float = 1.4) -> None:
    """A stored slice before and after an edit: the FLAIR cropped to the masks and the
    edit, with the ground truth, the prediction before (dashed, ``before_width``) and
    after, and the edit drawn. ``panel``: a :class:`~benchmark.analyses.slices.SlicePanel`."""
    box = crop_box([panel.label, panel.before, panel.after], panel.points)
    show_image(ax, panel.flair, box)
    show_contour(ax, panel.label, box, GT)
    show_contour(ax, panel.before, box, BEFORE, linestyle="--", linewidth=before_width)
    show_contour(ax, panel.after, box, AFTER)
    show_edits(ax, panel.points, box, tool)


def corner_text(ax, text: str) -> None:
    """Text in the window's top-left corner, legible on any background."""
    ax.text(0.03, 0.97, text, transform=ax.transAxes, va="top", ha="left", fontsize=8, color="white",
            bbox={"facecolor": "black", "alpha": 0.6, "pad": 1.5, "edgecolor": "none"})


def legend_handles(entries: Sequence[tuple[str, str, str]]) -> list:
    """Line handles for ``(label, colour, linestyle)`` entries, for ``fig.legend``."""
    from matplotlib.lines import Line2D

    return [Line2D([], [], color=c, linestyle=s, linewidth=2, label=label) for label, c, s in entries]


def edit_handles() -> list:
    """Legend handles for foreground and background edits."""
    from matplotlib.lines import Line2D

    return [Line2D([], [], marker="o", linestyle="-", color=c, markeredgecolor="black", linewidth=2.4, label=label)
            for label, c in (("foreground edit", FOREGROUND), ("background edit", BACKGROUND))]
