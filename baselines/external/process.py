"""``process=COMMAND``: an external program as an editing method, through simedit's own exchange.

Every prediction (round 0 included) runs COMMAND once (how: :mod:`baselines.external.program`)
with two fresh folders. The exchange, format ``simedit-exchange`` version 1:

``{inputs}/request.json``::

    {"format": "simedit-exchange", "version": 1,
     "case": "BraTS2021_00000",           # the case id (data only; never in a path or argument)
     "round": 2,                          # rounds of edits so far (0: the first segmentation)
     "shape": [240, 240, 155],            # X, Y, Z
     "spacing": [1.0, 1.0, 1.0],          # mm along X, Y, Z
     "modalities": ["flair", "t1", "t1ce", "t2"],
     "image": "image.nii",
     "previous": "previous.nii.gz",       # null in round 0
     "edits": [[{"tool": "selection", "voxel": [x, y, z], "positive": true}, ...],   # round 1
               [{"tool": "brush", "voxels": [[x, y, z], ...], "positive": false},
                {"tool": "adjustment", "k": -0.2}]],                                 # round 2
     "output": "segmentation.nii.gz"}

- ``image.nii``: float32 [X, Y, Z, C], channels in ``modalities`` order, z-scored inside
  the brain (background 0), with the case's canonical (RAS+) affine; uncompressed, written
  once per case and hard-linked (read-only) into each call's folder.
- ``previous.nii.gz``: uint8 [X, Y, Z], this method's own prediction for the same history
  without its last round (what the program answered last time).
- ``edits``: every round so far, oldest first, each a list of the records simedit's
  ``edits.jsonl`` holds (:mod:`benchmark.edits`; K of an adjustment is the value typed
  that round, the one in force is their sum; a box is ``{"tool": "box", "lower": [x, y, z],
  "upper": [x, y, z], "positive": true, "plane": [axis, index] or null}``, corners
  inclusive). Only the tools the method declares (option ``tools``, e.g.
  ``selection+box``) are passed; voxel indices index image.nii's array.

The program writes ``{outputs}/segmentation.nii.gz`` (or ``.nii``): a mask of the image's
shape with values 0 and 1 (bool or any integer type), read as stored, index for index
with image.nii (its affine is not read). Anything else (no file, an unreadable one, another
shape, other values) fails the call, naming the file.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

from benchmark.case import CaseImage
from benchmark.edits import TOOLS, EditHistory
from benchmark.registry import MethodContext, method_factory
from baselines.external.memory import CaseMemory
from baselines.external.program import BadOutput, ProgramRunner, method_name, parse_command

FORMAT, VERSION = "simedit-exchange", 1
REQUEST, IMAGE, PREVIOUS, OUTPUT = "request.json", "image.nii", "previous.nii.gz", "segmentation.nii.gz"


def request(image: CaseImage, history: EditHistory, has_previous: bool) -> dict[str, Any]:
    """The ``request.json`` of one call (see module docstring)."""
    return {
        "format": FORMAT, "version": VERSION, "case": image.case_id, "round": len(history.rounds),
        "shape": [int(n) for n in image.shape], "spacing": [float(s) for s in image.spacing],
        "modalities": list(image.modalities), "image": IMAGE, "previous": PREVIOUS if has_previous else None,
        "edits": history.to_json(), "output": OUTPUT,
    }


def write_image(path: Path, image: CaseImage) -> None:
    """``image.nii``: float32 [X, Y, Z, C] with the case's affine, uncompressed, read-only."""
    nifti = nib.Nifti1Image(np.moveaxis(np.asarray(image.image, np.float32), 0, -1), np.asarray(image.affine))
    nifti.header.set_xyzt_units("mm")
    nib.save(nifti, path)
    path.chmod(0o444)  # hard links share it: a program cannot change it for the next call


def write_mask(path: Path, mask: np.ndarray, affine: np.ndarray) -> None:
    """A bool [X, Y, Z] mask as uint8 NIfTI."""
    nib.save(nib.Nifti1Image(np.asarray(mask, np.uint8), np.asarray(affine)), path)


def read_segmentation(outputs: Path, shape: tuple[int, int, int]) -> np.ndarray:
    """The program's ``segmentation.nii.gz`` (or ``.nii``) in ``outputs`` as bool [X, Y, Z].

    Raises:
        BadOutput: no file, unreadable, another shape, values other than 0 and 1.
    """
    path = next((outputs / n for n in (OUTPUT, OUTPUT[: -len(".gz")]) if (outputs / n).is_file()), None)
    if path is None:
        raise BadOutput(f"wrote no {OUTPUT} (nor {OUTPUT[: -len('.gz')]}) in {{outputs}}")
    try:
        data = np.asanyarray(nib.load(path).dataobj)
    except Exception as error:  # noqa: BLE001 - whatever a broken file makes nibabel raise
        raise BadOutput(f"wrote an unreadable {path.name} ({type(error).__name__}: {error})") from None
    return binary_mask(data, tuple(shape), path.name)


def binary_mask(data: np.ndarray, shape: tuple[int, ...], what: str, axes: str = "X, Y, Z") -> np.ndarray:
    """``data`` as bool if it has ``shape`` and only the values 0 and 1, else BadOutput naming ``what``."""
    if data.shape != tuple(shape):
        raise BadOutput(f"wrote {what} of shape {data.shape}, not the image's {tuple(shape)} ({axes})")
    if data.dtype == bool:
        return np.ascontiguousarray(data)
    if data.dtype.kind not in "iuf":
        raise BadOutput(f"wrote {what} of dtype {data.dtype}; write a uint8 or bool mask")
    ok = (data == 0) | (data == 1)
    if not ok.all():
        bad = np.unique(data[~ok])
        listing = ", ".join(f"{v:g}" for v in bad[:5].tolist()) + (", ..." if bad.size > 5 else "")
        raise BadOutput(f"wrote {what} with values [{listing}] besides 0 and 1; write a mask (1 = tumour)")
    return data == 1


def parse_tools(tools: str | Iterable[str]) -> frozenset[str]:
    """``"selection+brush"`` (or an iterable of names) as a set of edit tools."""
    names = [t.strip() for t in (tools.split("+") if isinstance(tools, str) else tools)]
    unknown = [t for t in names if t not in TOOLS]
    if unknown or not names:
        raise ValueError(f"tools={tools!r}: expected '+'-joined names among {', '.join(TOOLS)}, "
                         f"e.g. tools=selection+brush")
    return frozenset(names)


class ProcessMethod:
    """An external program answering each prediction through the simedit exchange.

    Attributes:
        name: ``process:<program>-<digest>`` or the ``name`` option.
        tools: the edit tools passed on (the others the session records as unsupported).
        runner: runs the command (folders, time limit, errors).
        last_forward_ms: the program's wall time in the last predict (all its runs).
    """

    def __init__(self, name: str, tools: frozenset[str], runner: ProgramRunner) -> None:
        self.name, self.tools, self.runner = name, tools, runner
        self.last_forward_ms = float("nan")
        self._memory = CaseMemory(on_forget=_unlink)
        self._images = 0

    def predict(self, image: CaseImage, history: EditHistory) -> np.ndarray:
        self.last_forward_ms = 0.0
        return self._predict(image, history)

    def _predict(self, image: CaseImage, history: EditHistory) -> np.ndarray:
        previous = self._memory.previous(image, history, self._predict)
        source = self._memory.once(image, "image", lambda: self._cached_image(image))

        def write(inputs: Path) -> None:
            try:
                os.link(source, inputs / IMAGE)
            except OSError:  # another file system, or links not allowed
                shutil.copyfile(source, inputs / IMAGE)
            if previous is not None:
                write_mask(inputs / PREVIOUS, previous, image.affine)
            (inputs / REQUEST).write_text(json.dumps(request(image, history, previous is not None)) + "\n")

        try:
            mask = self.runner.call(write, lambda outputs: read_segmentation(outputs, image.shape))
        finally:
            if not math.isnan(self.runner.last_ms):
                self.last_forward_ms += self.runner.last_ms
        self._memory.remember(image, history, mask)
        return mask

    def _cached_image(self, image: CaseImage) -> Path:
        self._images += 1
        path = self.runner.cache / f"image-{self._images:06d}.nii"
        write_image(path, image)
        return path


def _unlink(value: Any) -> None:
    if isinstance(value, Path):
        value.unlink(missing_ok=True)


@method_factory(argument="command", tools=None,
                usage="process[timeout_s=S,tools=selection+brush+adjustment,keep=true,name=NAME]=COMMAND "
                      "with {inputs} and {outputs}")
def make(context: MethodContext, *, timeout_s: float | None = None, tools: str = "selection+brush+adjustment",
         keep: bool = False, name: str | None = None) -> ProcessMethod:
    """An external program run for every prediction, exchanging files in simedit's format (request.json, image.nii).

    COMMAND runs without a shell in the working folder (``sh -c '...'`` for shell
    features); ``timeout_s`` limits each call (null: no limit); ``tools`` are the edit
    tools the program understands; ``keep`` keeps each call's folders for debugging.
    """
    command = parse_command(context.arg, context.name)
    table_name = method_name("process", command, name)
    declared = parse_tools(tools)
    return ProcessMethod(table_name, declared, ProgramRunner(table_name, command, context.workdir, timeout_s, keep))
