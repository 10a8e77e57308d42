"""``cvpr25=COMMAND``: a CVPR 2025 interactive 3D challenge submission as an editing method.

The exchange is the challenge's own (``CVPR25_iter_eval.py`` of JunMa11/CVPR-MedSegFMCompetition),
so a submission runs unchanged, e.g. its container::

    cvpr25=docker container run --gpus device=0 -m 32G --rm -v {inputs}:/workspace/inputs/
           -v {outputs}:/workspace/outputs/ team:latest /bin/bash -c "sh predict.sh"

(the time limit kills the ``docker`` client, not the container it started: give the
container its own limit, e.g. ``timeout 90 sh predict.sh`` inside).

Per call ``{inputs}`` holds one file, ``<case>.npz``, with the keys and types the
challenge writes (uncompressed ``np.savez``, where it compresses: the same for
``np.load``; ``clicks`` is pickled, so submissions read it with ``allow_pickle=True``):

- ``imgs``: uint8 (z, y, x), one channel: the modality ``modality`` (default FLAIR, on
  which the whole tumour shows), in the challenge's MR intensities: inside the brain
  clipped to its 0.5 and 99.5 percentiles and scaled to 0-255 (truncated), background 0
  (the preprocessing of MedSAM's ``pre_CT_MR.py``, which made the challenge's npz files
  from raw scans). simedit's images are z-scored inside the brain, an increasing affine
  map of the raw intensities there, so this gives the raw scan's uint8 up to rounding.
- ``spacing``: float64 (3,), mm along (z, y, x), the axes of ``imgs`` (the evaluator
  hands it with the (z, y, x) arrays to its surface-distance code).
- ``clicks``: one dict per class (here one: the whole tumour),
  ``{"fg": [[z, y, x], ...], "bg": [...]}``; ``clicks_order``: per class the kinds in
  the order clicked, ``[["fg", "bg", ...]]``. Every selection edit so far, in history
  order: positive -> "fg", negative -> "bg".
- ``prev_pred``: uint8 (z, y, x), this method's previous output for the case (the one
  for the same edits without the last round); 0/1.
- ``boxes`` (a list of per-class dicts ``z_min, z_max, z_mid, z_mid_x_min, z_mid_y_min,
  z_mid_x_max, z_mid_y_max``) once the history holds a box (:func:`boxes`), in every
  call from then on, as the challenge does.

The program writes ``{outputs}/<case>.npz`` with ``segs``: (z, y, x) class labels, here
0 and 1. A missing file or key, another shape or other values fail the call.

Clicks and boxes are the challenge's prompts: the method declares tools {"selection",
"box"}, so a session records strokes and adjustments as unsupported. Round 0 has no
prompt, and the challenge never runs a submission without one: the method then returns,
without running the program, the case's first mask from ``--initial DIR``
(``DIR/<case_id>.nii.gz``) when given, else an empty mask, and that mask is
``prev_pred`` of the first prompt. So does any history without a click or a box. The time limit defaults to the challenge's 90 s per
class. Case ids name the npz files, so they must be plain file names.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.case import CaseImage
from benchmark.edits import Box, Click, EditHistory
from benchmark.io import load_mask
from benchmark.registry import MethodContext, method_factory
from baselines.external.memory import CaseMemory
from baselines.initial import FolderMasks
from baselines.external.process import binary_mask
from baselines.external.program import BadOutput, ProgramRunner, method_name, parse_command

#: The challenge's limit: 90 s per class; simedit segments one class.
TIME_LIMIT_S = 90.0
CLIP_PERCENTILES = (0.5, 99.5)


def challenge_intensities(volume: np.ndarray) -> np.ndarray:
    """One channel in the challenge's MR intensity convention.

    Args:
        volume: float [X, Y, Z] (any axis order), brain non-zero, background 0.

    Returns:
        uint8 of the same shape: brain voxels clipped to the brain's 0.5 and 99.5
        percentiles, scaled linearly to 0..255 and truncated; background 0. A constant
        brain gives all zeros.
    """
    out = np.zeros(volume.shape, np.uint8)
    brain = volume != 0
    values = volume[brain].astype(np.float64)
    if values.size == 0:
        return out
    low, high = np.percentile(values, CLIP_PERCENTILES)
    if high > low:
        out[brain] = ((np.clip(values, low, high) - low) / (high - low) * 255.0).astype(np.uint8)
    return out


def to_zyx(array: np.ndarray) -> np.ndarray:
    """[X, Y, Z] -> contiguous (z, y, x), the challenge's (D, H, W); its own inverse."""
    return np.ascontiguousarray(np.transpose(array, (2, 1, 0)))


def clicks(history: EditHistory) -> tuple[list[dict[str, list]], list[list[str]]]:
    """``(clicks, clicks_order)`` of the challenge for the history's selection edits, in order.

    Coordinates become [z, y, x] of numpy int64, as the challenge writes them.
    """
    per_class: dict[str, list] = {"fg": [], "bg": []}
    order: list[str] = []
    for edit in history.edits:
        if isinstance(edit, Click):
            kind = "fg" if edit.positive else "bg"
            x, y, z = edit.voxel
            per_class[kind].append([np.int64(z), np.int64(y), np.int64(x)])
            order.append(kind)
    return [per_class], [order]


def boxes(history: EditHistory) -> list[dict[str, int]] | None:
    """The ``boxes`` entry: one dict per class (here one), or None when the history has no box.

    The last positive :class:`~benchmark.edits.Box` of the history, in the keys the
    challenge writes, in the (z, y, x) axes of ``imgs``: ``z_min, z_max`` its axial
    range, ``z_mid`` its drawn plane when that plane is axial (else the middle of the
    range), ``z_mid_x_min, z_mid_y_min, z_mid_x_max, z_mid_y_max`` its extent along x and
    y (inclusive, like all the challenge's corners). The challenge has no negative box:
    those are not passed on.
    """
    positive = [e for e in history.edits if isinstance(e, Box) and e.positive]
    if not positive:
        return None
    box = positive[-1]
    (x0, y0, z0), (x1, y1, z1) = box.lower, box.upper
    z_mid = box.plane[1] if box.plane is not None and box.plane[0] == 2 else (z0 + z1) // 2
    return [{"z_min": z0, "z_max": z1, "z_mid": z_mid, "z_mid_x_min": x0, "z_mid_y_min": y0,
             "z_mid_x_max": x1, "z_mid_y_max": y1}]


def check_case_id(case_id: str, who: str) -> str:
    """``case_id`` if it can name ``<case_id>.npz`` in a folder, else ValueError."""
    if not case_id or "/" in case_id or "\0" in case_id or case_id.startswith(".") or "\\" in case_id:
        raise ValueError(f"{who}: case id {case_id!r} is not a safe file name (it names <case>.npz in the "
                         "challenge's exchange); rename the case (no '/', '\\', NUL or leading '.')")
    return case_id


def read_segs(path: Path, shape_zyx: tuple[int, int, int]) -> np.ndarray:
    """``segs`` of the program's npz as bool [X, Y, Z]; BadOutput when missing or unusable."""
    if not path.is_file():
        raise BadOutput(f"wrote no {path.name} in {{outputs}}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            if "segs" not in npz.files:
                raise BadOutput(f"wrote {path.name} without the key 'segs' (it has {sorted(npz.files)})")
            segs = npz["segs"]
    except BadOutput:
        raise
    except Exception as error:  # noqa: BLE001 - whatever a broken file makes numpy raise
        raise BadOutput(f"wrote an unreadable {path.name} ({type(error).__name__}: {error})") from None
    return to_zyx(binary_mask(segs, shape_zyx, f"{path.name} with segs", axes="z, y, x"))


class Cvpr25Method:
    """A challenge submission answering each click round (see module docstring).

    Attributes:
        name: ``cvpr25:<program>-<digest>`` or the ``name`` option.
        tools: {"selection", "box"}.
        modality: the channel passed as ``imgs``.
        initial: folder of first masks (``--initial``), or None for empty ones.
        runner: runs the command.
        last_forward_ms: the program's wall time in the last predict (0 when not run).
    """

    tools = frozenset({"selection", "box"})

    def __init__(self, name: str, runner: ProgramRunner, modality: str = "flair", initial: Path | None = None) -> None:
        self.name, self.runner, self.modality = name, runner, modality
        self.initial = None if initial is None else Path(initial)
        self.last_forward_ms = float("nan")
        self._memory = CaseMemory()

    def predict(self, image: CaseImage, history: EditHistory) -> np.ndarray:
        self.last_forward_ms = 0.0
        return self._predict(image, history)

    def _predict(self, image: CaseImage, history: EditHistory) -> np.ndarray:
        fg_bg, order = clicks(history)
        box = boxes(history)
        if not order[0] and box is None:
            return self._memory.once(image, "first", lambda: self._first_mask(image))
        case = check_case_id(image.case_id, f"method {self.name!r}")
        previous = self._memory.previous(image, history, self._predict)
        imgs = self._memory.once(image, "imgs", lambda: self._imgs(image))

        def write(inputs: Path) -> None:
            arrays: dict[str, Any] = dict(imgs=imgs, spacing=np.asarray(image.spacing[::-1], np.float64),
                                          clicks=fg_bg, clicks_order=order, prev_pred=to_zyx(previous.astype(np.uint8)))
            if box is not None:
                arrays["boxes"] = box
            np.savez(inputs / f"{case}.npz", **arrays)

        try:
            mask = self.runner.call(write, lambda outputs: read_segs(outputs / f"{case}.npz", imgs.shape))
        finally:
            if not math.isnan(self.runner.last_ms):
                self.last_forward_ms += self.runner.last_ms
        self._memory.remember(image, history, mask)
        return mask

    def _first_mask(self, image: CaseImage) -> np.ndarray:
        if self.initial is None:
            return np.zeros(image.shape, bool)
        return load_mask(FolderMasks(self.initial).path(image.case_id), like=image)

    def _imgs(self, image: CaseImage) -> np.ndarray:
        if self.modality not in image.modalities:
            raise ValueError(f"method {self.name!r}: case {image.case_id!r} has no {self.modality!r} channel (it has "
                             f"{list(image.modalities)}); choose one with modality=...")
        return to_zyx(challenge_intensities(image.channel(self.modality)))


@method_factory(argument="command", tools={"selection", "box"},
                usage="cvpr25[timeout_s=90,modality=flair,keep=true,name=NAME]=COMMAND with {inputs} and {outputs}")
def make(context: MethodContext, *, timeout_s: float | None = TIME_LIMIT_S, modality: str = "flair",
         keep: bool = False, name: str | None = None) -> Cvpr25Method:
    """A CVPR 2025 interactive 3D challenge submission (npz with imgs, boxes, clicks, prev_pred), run unchanged per prompt round.

    ``imgs`` is one modality (``modality``, FLAIR by default) as the challenge's uint8 MR
    intensities; round 0 returns the --initial mask, else an empty one, without running
    the program; ``timeout_s`` defaults to the challenge's 90 s.
    """
    command = parse_command(context.arg, context.name)
    table_name = method_name("cvpr25", command, name)
    if context.initial is not None and not Path(context.initial).is_dir():
        raise ValueError(f"--initial {context.initial} is not a folder of first masks")
    runner = ProgramRunner(table_name, command, context.workdir, timeout_s, keep)
    return Cvpr25Method(table_name, runner, str(modality), context.initial)
