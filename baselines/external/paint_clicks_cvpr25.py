"""Reference program for ``cvpr25=``: clicks painted onto prev_pred, as a challenge submission.

    cvpr25=python baselines/external/paint_clicks_cvpr25.py {inputs} {outputs}

Reads every ``<inputs>/<case>.npz`` and writes ``<outputs>/<case>.npz`` with ``segs``.
The box step (``boxes`` and no click yet): each class is the ellipsoid inscribed in its
box (z range by the middle slice's x/y extent). For each class, its clicks in
``clicks_order`` order: "fg" fills a ball of radius 5
voxels with the class, "bg" erases the class there. The npz does not say which clicks
are new, so all are painted, onto ``prev_pred``: a voxel is decided by the last click
whose ball holds it, and ``prev_pred`` already is that for the earlier clicks, so the
result is every click painted in order onto an empty mask (manual-paint's rule at 1 mm
voxels). Standalone: numpy only.
"""

import sys
from pathlib import Path

import numpy as np

RADIUS = 5


def ball(shape, centre):
    """(slices, inside): the box around centre (indices) and which of its voxels lie within RADIUS."""
    lo = [max(int(c) - RADIUS, 0) for c in centre]
    hi = [min(int(c) + RADIUS + 1, n) for c, n in zip(centre, shape)]
    grids = np.ogrid[tuple(slice(a, b) for a, b in zip(lo, hi))]
    inside = sum((g - int(c)) ** 2 for g, c in zip(grids, centre)) <= RADIUS**2
    return tuple(slice(a, b) for a, b in zip(lo, hi)), inside


def ellipsoid(shape, box):
    """bool (z, y, x): the ellipsoid inscribed in a challenge box dict (inclusive corners)."""
    lo = np.array([box["z_min"], box["z_mid_y_min"], box["z_mid_x_min"]], float)
    hi = np.array([box["z_max"], box["z_mid_y_max"], box["z_mid_x_max"]], float)
    centre, radius = (lo + hi) / 2, (hi - lo) / 2 + 0.5
    grids = np.ogrid[tuple(slice(0, n) for n in shape)]
    return sum(((g - c) / r) ** 2 for g, c, r in zip(grids, centre, radius)) <= 1.0


def main(inputs, outputs):
    for path in sorted(inputs.glob("*.npz")):
        data = np.load(path, allow_pickle=True)
        imgs = data["imgs"]
        segs = data["prev_pred"].astype(np.uint8) if "prev_pred" in data.files else np.zeros(imgs.shape, np.uint8)
        if "boxes" in data.files and not any(len(kinds) for kinds in data["clicks_order"]):
            segs = np.zeros(imgs.shape, np.uint8)
            for label, box in enumerate(data["boxes"], start=1):
                segs[ellipsoid(imgs.shape, box)] = label
        for label, (points, kinds) in enumerate(zip(data["clicks"], data["clicks_order"]), start=1):
            used = {"fg": 0, "bg": 0}
            for kind in kinds:
                box, inside = ball(segs.shape, points[kind][used[kind]])
                used[kind] += 1
                view = segs[box]
                if kind == "fg":
                    view[inside] = label
                else:
                    view[inside & (view == label)] = 0
        np.savez_compressed(outputs / path.name, segs=segs)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
