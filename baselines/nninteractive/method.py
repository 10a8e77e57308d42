"""nnInteractive (Isensee et al. 2025) as a simedit method: ``nninteractive=MODEL_DIR``.

Drives nnInteractive's own ``nnInteractiveInferenceSession`` (PyPI ``nninteractive``, an
optional extra) with the edits of a session; MODEL_DIR is a trained model folder
(``plans.json``, ``dataset.json``, ``inference_info.json``, ``fold_*/checkpoint_final.pth``;
``nninteractive-download-model`` puts the official one under
``~/.nninteractive/models/<id>``).

- **Edits**: clicks become point prompts, strokes scribble prompts on their axial slice,
  boxes 2D bounding-box prompts on their drawn plane (:mod:`baselines.nninteractive.edits`);
  adjustments are not supported (the method's tools are selection, brush and box, so a
  session records them as unsupported).
- **Round 0**: empty, or the case's first segmentation ``<initial>/<case_id>.nii.gz``
  (``--initial``) handed over as nnInteractive's initial segmentation
  (``add_initial_seg_interaction``, without a prediction: round 0 is that mask as it is,
  and it is the previous segmentation the first prompts edit).
- **Image**: one modality (option ``modality``, default FLAIR) as nnInteractive's one
  channel. nnInteractive normalises it itself (a z-score with the mean and standard
  deviation of the bounding box of the non-zero voxels) and wants raw intensities;
  simedit's images are z-scored in the brain with the background at 0, where a raw scan
  has its background below all tissue. With ``raw_like`` (default) the brain is shifted
  so that its 0.5th percentile sits just above 0 (darker voxels clipped there), which
  restores that order; ``raw_like=false`` passes the channel as it is.
- **Incremental**: one nnInteractive session per method object. A call whose history goes
  on from the one seen for the same image (case id and the very image array) adds only the
  new edits, one prediction each; anything else (round 0, another case, a shorter or
  different history) resets the interactions (and sets the image again for a new image)
  and replays the whole history.
- **Device and threads**: from the run (``torch.device(device)``; nnInteractive's
  ``torch_n_threads`` = ``threads``, else torch's current setting).
- **Options**: ``modality``, ``autozoom`` (nnInteractive's AutoZoom: zooms out while a
  prediction reaches a patch's border, then refines; slow on a CPU), ``raw_like``,
  ``torch_compile`` (worth it on a GPU for long runs), ``verbose`` (nnInteractive's
  messages; otherwise its prints are silenced).

``predict`` returns the target buffer as bool [X, Y, Z]; :attr:`last_forward_ms` is the
time spent inside nnInteractive's calls.
"""

from __future__ import annotations

import contextlib
import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from baselines.initial import FolderMasks
from baselines.nninteractive.edits import TOOLS, BoxPrompt, Interaction, Point, interactions, new_rounds
from benchmark.case import CaseImage
from benchmark.edits import EditHistory
from benchmark.registry import MethodContext, PluginError, method_factory

INSTALL = ("method 'nninteractive' needs the optional extra: pip install 'simedit[nninteractive]' (on the same pip "
           "line as torch==2.13.0: pip install torch==2.13.0 'simedit[nninteractive]', or pip upgrades torch and "
           "pulls its CUDA build)")
#: The percentile of the brain that ``raw_like`` moves to just above 0.
RAW_LIKE_PERCENTILE = 0.5
RAW_LIKE_FLOOR = 1e-3


def check_model_folder(folder: Path) -> None:
    """Raise PluginError (one line: the folder and the missing file) unless ``folder``
    holds what nnInteractive loads."""
    folder = Path(folder)
    for name in ("plans.json", "dataset.json"):
        if not (folder / name).is_file():
            raise PluginError(f"nninteractive model folder {folder} has no {name}")
    if not any((folder / n).is_file() for n in ("inference_info.json", "inference_session_class.json")):
        raise PluginError(f"nninteractive model folder {folder} has no inference_info.json")
    folds = sorted(p for p in folder.glob("fold_*") if p.is_dir())
    if len(folds) != 1:
        found = f" (it has {', '.join(p.name for p in folds)})" if folds else ""
        raise PluginError(f"nninteractive model folder {folder} has no single fold_*/checkpoint_final.pth{found}")
    if not (folds[0] / "checkpoint_final.pth").is_file():
        raise PluginError(f"nninteractive model folder {folder} has no {folds[0].name}/checkpoint_final.pth")


def session_class() -> Any:
    """nnInteractive's ``nnInteractiveInferenceSession`` (PluginError when the extra is missing)."""
    try:
        from nnInteractive.inference.inference_session import nnInteractiveInferenceSession
    except ModuleNotFoundError as error:
        if error.name and error.name.split(".")[0] in ("nnInteractive", "nnunetv2", "dynamic_network_architectures"):
            raise PluginError(INSTALL) from None
        raise PluginError(f"method 'nninteractive': importing nnInteractive failed: {error}; {INSTALL}") from None
    except Exception as error:  # noqa: BLE001 - a broken install raises anything
        raise PluginError(f"method 'nninteractive': importing nnInteractive raised {type(error).__name__}: "
                          f"{error}".replace("\n", " ")) from None
    return nnInteractiveInferenceSession


@contextlib.contextmanager
def tolerant_trainer_search() -> Iterator[None]:
    """While a model loads: a search for its trainer class that fails on an import counts
    as not found.

    nnInteractive looks for the checkpoint's ``trainer_name`` among its own trainers, then
    imports every nnU-Net trainer module to look there, and when the class is in neither
    builds the network with its stub trainer. Its checkpoints name the trainers they were
    trained with (nnInteractiveTrainerV2 and derivatives, which neither package ships), so
    they always end up with the stub, but the nnU-Net search imports timm and torchvision,
    which on a CPU build of torch (torchvision from PyPI is built for another) raises
    ``RuntimeError: operator torchvision::nms does not exist``. With this, such a model
    gets the stub trainer, as it does where torchvision imports.
    """
    import nnInteractive.inference.inference_session as module

    find = getattr(module, "recursive_find_python_class", None)
    if find is None:  # another nnInteractive: nothing to soften
        yield
        return

    def search(*args: Any, **kwargs: Any) -> Any:
        try:
            return find(*args, **kwargs)
        except Exception:  # noqa: BLE001 - whatever a trainer module's imports raise
            return None

    module.recursive_find_python_class = search
    try:
        yield
    finally:
        module.recursive_find_python_class = find


def raw_like_channel(image: CaseImage, modality: str, raw_like: bool = True) -> np.ndarray:
    """float32 [1, X, Y, Z]: the modality nnInteractive is given (see module docstring)."""
    if modality not in image.modalities:
        raise ValueError(f"nninteractive: case {image.case_id!r} has no modality {modality!r}; it has "
                         f"{list(image.modalities)} (option modality=...)")
    channel = np.asarray(image.channel(modality), dtype=np.float32)
    if raw_like:
        brain = np.any(image.image != 0, axis=0)
        if brain.any():
            low = np.percentile(channel[brain], RAW_LIKE_PERCENTILE)
            channel = np.where(brain, np.maximum(channel - low, 0) + RAW_LIKE_FLOOR, 0).astype(np.float32)
    return channel[None]


class NnInteractiveMethod:
    """An nnInteractive inference session as a simedit method (see module docstring).

    Args:
        session: an initialised ``nnInteractiveInferenceSession``.
        name: the name in result tables.
        modality: the channel passed to nnInteractive.
        initial: first segmentations (``--initial``), or None for an empty round 0.
        raw_like: shift the brain above the background (see module docstring).
        verbose: let nnInteractive print.
    """

    tools = TOOLS

    def __init__(self, session: Any, name: str, *, modality: str = "flair", initial: FolderMasks | None = None,
                 raw_like: bool = True, verbose: bool = False) -> None:
        self.session = session
        self.name = name
        self.modality = modality
        self.initial = initial
        self.raw_like = raw_like
        self.verbose = verbose
        self.last_forward_ms = float("nan")
        self._case: str | None = None
        self._image: np.ndarray | None = None  # the array itself: an id() may be reused once it is freed
        self._initial_mask: np.ndarray | None = None
        self._seen: tuple | None = None
        self._target: Any = None
        self._ms = 0.0

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)`` of nnInteractive, timed into ``_ms``, its prints silenced unless verbose."""
        quiet = contextlib.nullcontext() if self.verbose else contextlib.redirect_stdout(io.StringIO())
        t0 = time.perf_counter()
        with quiet:
            try:
                return fn(*args, **kwargs)
            finally:
                self._ms += (time.perf_counter() - t0) * 1e3

    def _set_image(self, image: CaseImage) -> None:
        import torch

        channel = raw_like_channel(image, self.modality, self.raw_like)
        self._initial_mask = None
        if self.initial is not None:
            self._initial_mask = np.asarray(self.initial(image), dtype=bool)
        self._case, self._image, self._seen = None, None, None
        self._call(self.session.set_image, channel)
        self._target = torch.zeros(image.shape, dtype=torch.uint8)
        self._call(self.session.set_target_buffer, self._target)  # after every set_image
        self._case, self._image = image.case_id, image.image

    def _start_over(self, fresh: bool) -> None:
        """No interactions (and the initial segmentation, if any), as at round 0."""
        if not fresh:
            self._call(self.session.reset_interactions)
        if self._initial_mask is not None:
            self._call(self.session.add_initial_seg_interaction, self._initial_mask.astype(np.uint8),
                       run_prediction=False)

    def _add(self, interaction: Interaction) -> None:
        if isinstance(interaction, Point):
            self._call(self.session.add_point_interaction, interaction.voxel,
                       include_interaction=interaction.positive)
        elif isinstance(interaction, BoxPrompt):
            self._call(self.session.add_bbox_interaction, [list(b) for b in interaction.bbox],
                       include_interaction=interaction.positive)
        else:
            self._call(self.session.add_scribble_interaction, interaction.mask,
                       include_interaction=interaction.positive, interaction_bbox=interaction.bbox)

    def predict(self, image: CaseImage, history: EditHistory) -> np.ndarray:
        """bool [X, Y, Z]: nnInteractive's segmentation after every edit so far."""
        self._ms = 0.0
        fresh = not (self._case == image.case_id and self._image is image.image)
        if fresh:
            self._set_image(image)
        todo = new_rounds(self._seen, history.rounds)
        self._seen = None  # until every interaction is in: a call that raises leaves a session to start over
        if todo is None:
            self._start_over(fresh)
            todo = history.rounds
        thickness = tuple(getattr(self.session, "preferred_scribble_thickness", None) or (2, 2, 2))
        for interaction in interactions((e for r in todo for e in r), image.shape, thickness):
            self._add(interaction)
        self._seen = history.rounds
        self.last_forward_ms = self._ms
        return self._target.numpy().astype(bool)


@method_factory(argument="folder", tools=TOOLS,
                usage="nninteractive=MODEL_DIR (pip install 'simedit[nninteractive]')")
def make(context: MethodContext, *, modality: str = "flair", autozoom: bool = True, raw_like: bool = True,
         torch_compile: bool = False, verbose: bool = False) -> NnInteractiveMethod:
    """nnInteractive on a trained model folder: clicks as point prompts, strokes as scribbles."""
    for option, value in (("autozoom", autozoom), ("raw_like", raw_like), ("torch_compile", torch_compile),
                          ("verbose", verbose)):
        if not isinstance(value, bool):
            raise ValueError(f"option {option} must be true or false, got {value!r}")
    folder = Path(context.arg)
    session_type = session_class()
    check_model_folder(folder)
    import torch

    threads = int(context.threads) if context.threads else torch.get_num_threads()
    quiet = contextlib.nullcontext() if verbose else contextlib.redirect_stdout(io.StringIO())
    with quiet, tolerant_trainer_search():
        session = session_type(device=torch.device(context.device), use_torch_compile=torch_compile,
                               verbose=verbose, torch_n_threads=threads, do_autozoom=autozoom,
                               interactions_storage="tensor", enable_undo=False)
        session.initialize_from_trained_model_folder(str(folder))
    initial = FolderMasks(context.initial) if context.initial else None
    return NnInteractiveMethod(session, f"nninteractive:{folder.name}", modality=str(modality), initial=initial,
                               raw_like=raw_like, verbose=verbose)
