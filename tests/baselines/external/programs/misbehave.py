"""A test program for both exchanges that does one thing wrong (or records what it was given).

    python misbehave.py MODE {inputs} {outputs} [FILE]

MODE: crash (a traceback on stderr, exit 3), hang (starts a child, writes both pids to
FILE, sleeps 60 s), nothing (exit 0, no output), wrong-shape, non-binary, no-segs (npz
without 'segs'), garbage (bytes of no file format), argv (writes its arguments, working
folder and input files as JSON to FILE, then a valid empty output). The process
exchange is told apart by request.json; imports stay stdlib-only until an output must
be written.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path


def write_output(inputs, outputs, shape_change=0, value=1):
    import numpy as np

    if (inputs / "request.json").exists():
        import nibabel as nib

        request = json.loads((inputs / "request.json").read_text())
        shape = [n + shape_change for n in request["shape"]]
        mask = np.zeros(shape, np.uint8)
        mask[0, 0, 0] = value
        nib.save(nib.Nifti1Image(mask, np.eye(4)), outputs / request["output"])
        return
    for path in inputs.glob("*.npz"):
        shape = [n + shape_change for n in np.load(path, allow_pickle=True)["imgs"].shape]
        segs = np.zeros(shape, np.uint8)
        segs[0, 0, 0] = value
        key = "segs" if mode != "no-segs" else "masks"
        np.savez_compressed(outputs / path.name, **{key: segs})


mode, inputs, outputs = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
extra = Path(sys.argv[4]) if len(sys.argv) > 4 else None
if mode == "crash":
    print("loading the model", file=sys.stderr)
    try:
        raise ValueError("boom: the weights are missing")
    except ValueError:
        import traceback

        traceback.print_exc()
    sys.exit(3)
if mode == "hang":
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    extra.write_text(f"{os.getpid()} {child.pid}")
    time.sleep(60)
if mode == "argv":
    extra.write_text(json.dumps({"argv": sys.argv, "cwd": os.getcwd(), "inputs": sorted(os.listdir(inputs))}))
if mode == "argv":
    write_output(inputs, outputs, value=0)
if mode == "wrong-shape":
    write_output(inputs, outputs, shape_change=1)
if mode == "non-binary":
    write_output(inputs, outputs, value=2)
if mode == "no-segs":
    write_output(inputs, outputs)
if mode == "garbage":
    name = "segmentation.nii.gz" if (inputs / "request.json").exists() else next(inputs.glob("*.npz")).name
    (outputs / name).write_bytes(b"not a segmentation")
