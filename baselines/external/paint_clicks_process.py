"""Reference program for ``process=``: the last round's clicks painted onto the previous prediction.

    process=python baselines/external/paint_clicks_process.py {inputs} {outputs}

A positive click fills, a negative one erases, a ball of radius 5 voxels; brush strokes
and adjustments are ignored. Each round painted onto the previous round's output gives
every click painted in order onto an empty mask: manual-paint's rule
(``baselines.manual_paint.method.paint_ball``) at 1 mm voxels with an empty first mask.
Standalone: numpy and nibabel only.
"""

import json
import sys
from pathlib import Path

import nibabel as nib
import numpy as np

RADIUS = 5


def paint(mask, centre, value):
    """Set the voxels within RADIUS voxels of centre (indices) to value, in place."""
    lo = [max(c - RADIUS, 0) for c in centre]
    hi = [min(c + RADIUS + 1, n) for c, n in zip(centre, mask.shape)]
    grids = np.ogrid[tuple(slice(a, b) for a, b in zip(lo, hi))]
    inside = sum((g - c) ** 2 for g, c in zip(grids, centre)) <= RADIUS**2
    mask[tuple(slice(a, b) for a, b in zip(lo, hi))][inside] = value


def main(inputs, outputs):
    request = json.loads((inputs / "request.json").read_text())
    if (request.get("format"), request.get("version")) != ("simedit-exchange", 1):
        sys.exit(f"expected a simedit-exchange version 1 request, got {request.get('format')} {request.get('version')}")
    image = nib.load(inputs / request["image"])  # the header only: the output takes its affine
    if request["previous"]:
        mask = np.asanyarray(nib.load(inputs / request["previous"]).dataobj) != 0
    else:
        mask = np.zeros(request["shape"], bool)
    for edit in request["edits"][-1] if request["edits"] else []:
        if edit["tool"] == "selection":
            paint(mask, edit["voxel"], edit["positive"])
    nib.save(nib.Nifti1Image(mask.astype(np.uint8), image.affine), outputs / request["output"])


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
