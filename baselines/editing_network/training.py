"""Training the base network F and the editing network G (seed paper Sections 2.1, 2.4).

One loop serves both: F learns from the modalities alone; G also gets the three edit
channels, simulated from F's predictions on the training cases by the training-time
users (:mod:`baselines.editing_network.training_edits`), each sample with a random subset of the tools
(including none) so that G keeps its own segmentation ability.

Per step: pick a case, (G) draw a tool subset and encode its edits, take a patch
centred on tumour with probability ``foreground_p``, flip and jitter intensities, and
take an Adam step on the soft Dice loss. The learning rate is ``lr * lr_decay ** epoch``
(the paper: 5e-4, x0.985 per epoch). The validation cases get whole-volume Dice every
``validate_every`` epochs; the checkpoint is written then (and after the last epoch),
with the optimiser state, so ``resume`` carries on from the last one written.

Presets (see :meth:`TrainConfig.cpu` and :meth:`TrainConfig.paper`):

- ``cpu``: for the embedded phantoms (``simedit synth --shape 96 96 64``) on 2 CPU
  cores. Isensee network with base 8 and 4 levels, 48^3 patches, batch 2, 10 steps per
  epoch, lr 2e-3 for F (the paper's 5e-4 is too slow to learn from scratch in a few
  hundred steps); the training users' size limits are scaled to the phantoms (selection
  from 100 mm^3, strokes from 4 voxels). F: 60 epochs, lr x0.95 per epoch (at x0.985 its validation Dice still swung
  between 0.69 and 0.77 at epoch 40). G: starts from F's weights and fine-tunes 40
  epochs at 5e-4 with each tool in a sample with probability 0.3, so that it keeps F's
  segmentation without edits. G's samples edit towards truths whose boundary is moved
  by -3 ... +3 mm (``target_shifts_mm``; those whose K the training user would clip
  left out), at lr 1e-3 x0.92 per epoch, keeping the best validation's weights
  (``keep_best``). Measured with ``simedit diagnose`` on the demo's 16 held-out phantoms,
  from the same F (0.877): the paper's one set of edits per case at 5e-4 gave (b) 0.876,
  (d) - (b) +0.8, (e) - (b) +1.9 points and a K sweep of 0.86x / 1.13x at K = -0.5 / +0.5;
  these settings (b) 0.867, +2.3, +3.1 and 0.76x / 2.18x. Held-out (b) moved by 1-9
  points between variants of these settings (tools in half the samples: 0.69; lr 5e-4
  without decay: 0.74-0.86): the README's training section lists the runs. About 4.5
  and 3.5 minutes on 2 idle cores (a 48^3 sample forward and backward: about 0.2 s).
- ``paper``: Isensee et al. 2017 as the seed paper used it, for a GPU: base 16, 5
  levels, dropout 0.3, 128^3 patches, batch 2, 300 epochs of 100 steps, lr 5e-4 x0.985
  per epoch, G trained from scratch with the training users' own limits, mixed precision
  and ``torch.compile``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy import ndimage
from tqdm.auto import tqdm

from baselines.networks.checkpoint import InputSpec, load_checkpoint, load_into, save_checkpoint
from baselines.networks.inference import InferenceSettings, predict_logits
from baselines.training.fit import Schedule, fit
from baselines.editing_network.method import KINDS, NetworkMethod
from baselines.networks import BACKBONES, backbone_error, make_backbone
from baselines.training.patches import augment, brain_box, brain_mask, extract, patch_origin
from baselines.training.settings import check_settings
from baselines.editing_network.training_edits import EditedTarget, PredictionCache, draw_sample, edited_targets, sample_history
from benchmark.digests import file_digest
from benchmark.case import Case
from benchmark.edits import EditHistory, encode
from benchmark.io import CaseRef
from benchmark.metrics import dice

#: The backbones the paper uses for F and G (configured by base and levels).
U_NETS = ("isensee", "unet3d")
NORMALISATION = "z-score over brain voxels (non-zero), per modality; background 0"


#: What the cpu preset changes from TrainConfig's defaults, for F and for G (module docstring).
CPU_PRESETS: dict[str, dict[str, Any]] = {
    "base": dict(epochs=60, lr_decay=0.95),
    "editor": dict(epochs=40, lr=1e-3, lr_decay=0.92, tool_p=0.3, target_shifts_mm=(-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0),
                   keep_best=True),
}


@dataclass(frozen=True)
class TrainConfig:
    """Everything that shapes a training run (stored in the checkpoint).

    Attributes:
        backbone: "isensee" or "unet3d".
        base: channels at full resolution.
        levels: resolution levels.
        dropout: Isensee context-module dropout (ignored by unet3d).
        patch: patch size (X, Y, Z); axes larger than a case are zero-padded.
        batch_size: patches per step.
        epochs: epochs to train (in total, counting resumed ones).
        steps_per_epoch: optimiser steps per epoch.
        lr: initial Adam learning rate; lr_decay: factor per epoch.
        foreground_p: chance that a patch is centred on a tumour voxel.
        validation_fraction: share of the cases held out for validation (at least one
            when there are two or more cases).
        validate_every: epochs between validations and checkpoint writes.
        tool_p: (G) chance that each tool's edits are in a sample.
        selection_min_size: (G) smallest error component, in mm^3, that the training
            selection user clicks; None: its training default (500 mm^3, sized for
            BraTS). The phantoms of the cpu preset squeeze a brain into 96x96x64 "1 mm"
            voxels, about 15 times less volume than BraTS, hence 100 there.
        brush_min_length: (G) shortest stroke, in voxels, the training brush user
            draws; None: its training default (10, sized for BraTS; 4 on the phantoms,
            2.5 times smaller along each axis).
        target_shifts_mm: (G) the boundary shifts of the truth the training edits are
            simulated towards (:func:`baselines.editing_network.training_edits.shifted`);
            (0,): the ground truth only, as the paper.
        shift_only_with_k: (G) only samples with an adjustment edit towards a shifted
            truth; the others edit towards the ground truth.
        edit_loss_weight: (G) weight of a cross-entropy on the voxels within
            ``near_edit_voxels`` (Chebyshev) of a click or stroke, added to the Dice loss
            (:func:`baselines.training.losses.near_edit_bce`): a stroke that fixes 60 voxels
            moves a patch's Dice little.
        keep_best: the checkpoint holds the weights of the validation with the best
            :func:`validation_score` so far (its epoch in ``training["kept"]``), not
            the last ones; its epoch count and history are the run's. The validation
            cases' Dice swings by several points between validations even late in
            training, and tracks the held-out Dice (a G whose last validation gave 0.72
            scored 0.78 held out, one with 0.80 scored 0.88).
        init_from_base: (G) start from F's weights (:func:`init_from_base`) instead of
            at random: G then keeps F's segmentation from the first step and only has
            to learn the edits, which is what makes G trainable in minutes on a CPU.
            The paper trains G from scratch (``paper`` preset: False); needs the same
            backbone and config for F and G.
        seed: seeds the split, weights, sampling and dropout.
        device: "cpu" or "cuda".
        amp: mixed precision (used on CUDA only).
        compile: ``torch.compile`` the network (used on CUDA only).
    """

    backbone: str = "isensee"
    base: int = 8
    levels: int = 4
    dropout: float = 0.3
    patch: tuple[int, int, int] = (48, 48, 48)
    batch_size: int = 2
    epochs: int = 20
    steps_per_epoch: int = 10
    lr: float = 2e-3
    lr_decay: float = 0.985
    foreground_p: float = 0.67
    validation_fraction: float = 0.2
    validate_every: int = 5
    tool_p: float = 0.5
    init_from_base: bool = True
    selection_min_size: float | None = 100.0
    brush_min_length: int | None = 4
    target_shifts_mm: tuple[float, ...] = (0.0,)
    shift_only_with_k: bool = False
    edit_loss_weight: float = 0.0
    near_edit_voxels: int = 4
    keep_best: bool = False
    seed: int = 0
    device: str = "cpu"
    amp: bool = True
    compile: bool = True

    def __post_init__(self) -> None:
        if self.backbone not in BACKBONES:
            raise ValueError(backbone_error(self.backbone))
        if self.backbone not in U_NETS:
            raise ValueError(f"F and G are U-Nets: backbone must be one of {U_NETS}, got {self.backbone!r}")
        counts = ("base", "levels", "batch_size", "epochs", "steps_per_epoch", "validate_every")
        object.__setattr__(self, "patch", check_settings(self, counts, ("foreground_p", "tool_p")))
        shifts = tuple(float(s) for s in self.target_shifts_mm)
        if not shifts or not all(np.isfinite(shifts)):
            raise ValueError(f"target_shifts_mm must be one or more finite shifts in mm, got {self.target_shifts_mm!r}")
        object.__setattr__(self, "target_shifts_mm", shifts)
        if self.edit_loss_weight < 0 or self.near_edit_voxels < 0:
            raise ValueError(f"edit_loss_weight and near_edit_voxels must be >= 0, got {self.edit_loss_weight}, "
                             f"{self.near_edit_voxels}")

    @classmethod
    def cpu(cls, kind: str = "base", **overrides: Any) -> "TrainConfig":
        """The CPU preset of F (``kind="base"``) or G (``"editor"``) for the 96x96x64
        phantoms on 2 cores; see the module docstring."""
        if kind not in CPU_PRESETS:
            raise ValueError(f"kind must be one of {tuple(CPU_PRESETS)}, got {kind!r}")
        return cls(**{**CPU_PRESETS[kind], **overrides})

    @classmethod
    def paper(cls, kind: str = "base", **overrides: Any) -> "TrainConfig":
        """The seed paper's settings on a GPU, the same for F and G; see the module docstring."""
        if kind not in CPU_PRESETS:
            raise ValueError(f"kind must be one of {tuple(CPU_PRESETS)}, got {kind!r}")
        preset = dict(base=16, levels=5, dropout=0.3, patch=(128, 128, 128), batch_size=2, epochs=300,
                      steps_per_epoch=100, lr=5e-4, lr_decay=0.985, validate_every=10, init_from_base=False,
                      selection_min_size=None, brush_min_length=None, device="cuda")
        return cls(**{**preset, **overrides})

    def network_config(self, in_channels: int) -> dict[str, Any]:
        config: dict[str, Any] = dict(in_channels=in_channels, out_channels=1, base=self.base, levels=self.levels)
        if self.backbone == "isensee":
            config["dropout"] = self.dropout
        return config

    def policy_options(self) -> dict[str, dict[str, Any]]:
        """Keyword arguments for the training-time tool policies that differ from their defaults."""
        options: dict[str, dict[str, Any]] = {}
        if self.selection_min_size is not None:
            options["selection"] = {"min_size": self.selection_min_size}
        if self.brush_min_length is not None:
            options["brush"] = {"min_length": self.brush_min_length}
        return options

    def to_plain(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["patch"] = list(self.patch)
        d["target_shifts_mm"] = list(self.target_shifts_mm)
        return d


@dataclass(frozen=True)
class TrainingCase:
    """A case cropped to its brain box, as the loop samples it.

    Attributes:
        case_id: the case's id.
        image: float32 [M, x, y, z] modalities.
        label: bool [x, y, z].
        pool: (G) the truths its samples edit towards, each with every tool's edits
            simulated on F's prediction of the crop (so in the crop's voxel
            coordinates; :func:`edited_targets`), the ground truth's first; None for F.
        prediction: (G) bool [x, y, z], F's prediction of the crop.
    """

    case_id: str
    image: np.ndarray
    label: np.ndarray
    pool: tuple[EditedTarget, ...] | None = None
    prediction: np.ndarray | None = None


def split_cases(case_ids: Sequence[str], fraction: float, rng: np.random.Generator) -> dict[str, list[str]]:
    """A random train/validation split; at least one validation case when there are two or more."""
    ids = sorted(case_ids)
    n_val = 0 if len(ids) < 2 or fraction == 0 else max(1, round(fraction * len(ids)))
    order = rng.permutation(len(ids))
    validation = sorted(ids[i] for i in order[:n_val])
    return {"train": [i for i in ids if i not in validation], "validation": validation}


def _crop(case: Case) -> tuple[np.ndarray, np.ndarray]:
    box = brain_box(case.image, margin=4)
    return np.ascontiguousarray(case.image[(slice(None), *box)]), np.ascontiguousarray(case.label[box])


def load_training_cases(
    refs: Sequence[CaseRef], base: NetworkMethod | None, cache: PredictionCache | None, rng: np.random.Generator,
    policy_options: Mapping[str, Mapping[str, Any]] | None = None, progress: bool = False,
    shifts_mm: Sequence[float] = (0.0,),
) -> list[TrainingCase]:
    """Read and crop the cases; for G, predict them with F (cached) and simulate the
    edits towards every shifted truth (:func:`edited_targets`)."""
    out = []
    for ref in tqdm(refs, desc="loading cases" if base is None else "F predictions + edits", disable=not progress, leave=False):
        case = ref.load()
        image, label = _crop(case)
        pool = prediction = None
        if base is not None and cache is not None:
            view = dataclasses.replace(case, image=image, label=label).without_label()
            prediction = cache.get(case.case_id, label.shape, lambda: base.predict(view, EditHistory()))
            shifts = (0.0, *(s for s in shifts_mm if s != 0))  # the ground truth first: validation edits
            pool = edited_targets(label, prediction, rng, case.spacing, policy_options, shifts)
        out.append(TrainingCase(case.case_id, image, label, pool, prediction))
    return out


def make_batch(cases: Sequence[TrainingCase], config: TrainConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One batch: float32 inputs [B, M (+3), *patch] and bool targets [B, 1, *patch]
    ([B, 2, *patch] with ``edit_loss_weight``: the near-edit mask second)."""
    inputs, targets = [], []
    for _ in range(config.batch_size):
        case = cases[rng.integers(len(cases))]
        channels, target = case.image, case.label
        if case.pool is not None:
            history, target = draw_sample(case.label, case.pool, rng, config.tool_p, config.shift_only_with_k)
            channels = np.concatenate([channels, encode(history, case.label.shape, brain_mask(case.image))])
        origin = patch_origin(target, config.patch, rng, config.foreground_p)
        x, y = augment(extract(channels, origin, config.patch), extract(target, origin, config.patch), rng,
                       intensity_channels=case.image.shape[0])
        inputs.append(x)
        targets.append(y[None] if not config.edit_loss_weight or case.pool is None
                       else np.stack([y, near_edits(x[case.image.shape[0]:], config.near_edit_voxels)]))
    return np.stack(inputs), np.stack(targets)


def near_edits(edit_channels: np.ndarray, radius: int) -> np.ndarray:
    """bool [X, Y, Z]: voxels within ``radius`` (Chebyshev) of a click or stroke voxel of
    ``edit_channels`` (float32 [3, X, Y, Z], :func:`benchmark.edits.encode`'s order)."""
    marked = (edit_channels[0] != 0) | (edit_channels[1] != 0)
    if not marked.any():
        return marked
    return ndimage.maximum_filter(marked, size=2 * radius + 1)


def validation_score(record: Mapping[str, Any]) -> float:
    """What ``keep_best`` ranks validations by: Dice without edits plus (G) Dice with every
    tool's edits."""
    return float(record["val_dice"]) + float(record.get("val_dice_edits", 0.0))


def init_from_base(model: torch.nn.Module, base: torch.nn.Module) -> None:
    """Start G from F's weights: every parameter of the same shape is copied; the first
    convolution, which G widens with the edit channels, gets F's weights for the
    modalities and zeros for the edit channels, so G starts out computing F exactly.

    Raises:
        ValueError: the two networks differ in more than their input channels.
    """
    theirs = base.state_dict()
    ours = model.state_dict()
    if set(theirs) != set(ours):
        raise ValueError("init_from_base: F and G must be the same backbone with the same config but for in_channels")
    with torch.no_grad():
        for name, value in ours.items():
            source = theirs[name]
            if source.shape == value.shape:
                value.copy_(source)
            elif source.ndim == value.ndim >= 2 and source.shape[0] == value.shape[0] and source.shape[2:] == value.shape[2:]:
                value.zero_()
                value[:, : source.shape[1]] = source
            else:
                raise ValueError(f"init_from_base: {name} is {tuple(source.shape)} in F, {tuple(value.shape)} in G")


def validate(model: torch.nn.Module, cases: Sequence[TrainingCase], settings: InferenceSettings, with_edits: bool) -> float:
    """Mean whole-volume Dice over ``cases``: without edits, or (G) with every tool's edits."""
    if not cases:
        return float("nan")
    model.eval()
    scores = []
    for case in cases:
        edits = None
        if case.pool is not None:
            truth = case.pool[0].edits  # the ground truth's
            history = sample_history(truth, tuple(truth) if with_edits else ())
            edits = encode(history, case.label.shape, brain_mask(case.image))
        logits, _ = predict_logits(model, case.image, edits, settings)
        scores.append(dice(logits > 0, case.label))
    model.train()
    return float(np.mean(scores))


def train(
    kind: str,
    refs: Sequence[CaseRef],
    out: str | Path,
    config: TrainConfig = TrainConfig(),
    base_checkpoint: str | Path | None = None,
    resume: str | Path | None = None,
    progress: bool = True,
) -> Path:
    """Train F (``kind="base"``) or G (``kind="editor"``) and write the checkpoint ``out``.

    Args:
        kind: "base" or "editor".
        refs: the cases (all of them; the split is drawn here, or taken from ``resume``).
        out: checkpoint file to write.
        config: the training settings (ignored but for ``epochs`` and ``device`` when
            resuming: the checkpoint's own settings carry on).
        base_checkpoint: (editor) F's checkpoint, whose predictions the edits come from.
        resume: a checkpoint written by an earlier run of this function.
        progress: show a tqdm bar with the loss and validation Dice.

    Returns:
        The checkpoint path.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {tuple(KINDS)}, got {kind!r}")
    if kind == "editor" and base_checkpoint is None:
        raise ValueError("training the editor needs F's checkpoint (--base F.pt) to simulate edits from")
    if config.device == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda asked for, but torch sees no CUDA GPU; use --device cpu")
    out = Path(out)
    by_id = {r.case_id: r for r in refs}
    ckpt = load_checkpoint(resume) if resume is not None else None
    if ckpt is not None:
        if ckpt.training.get("kind") != kind:
            raise ValueError(f"{resume}: a {ckpt.training.get('kind')!r} checkpoint cannot resume {kind!r} training")
        saved = {k: v for k, v in ckpt.training["config"].items() if k in {f.name for f in dataclasses.fields(TrainConfig)}}
        config = TrainConfig(**{**saved, "epochs": config.epochs, "device": config.device})
        split = {k: list(v) for k, v in ckpt.split.items()}
        missing = sorted((set(split["train"]) | set(split["validation"])) - set(by_id))
        if missing:
            raise ValueError(f"{resume}: its cases {missing[:5]} are not in the data folder")
    rng = np.random.default_rng(config.seed if ckpt is None else [config.seed, ckpt.epoch])
    if ckpt is None:
        split = split_cases(list(by_id), config.validation_fraction, rng)
    if not split["train"]:
        raise ValueError("no training cases: give at least one case (two or more for a validation split)")

    settings = InferenceSettings(device=config.device, amp=config.amp)
    base = cache = None
    base_info: dict[str, Any] = {}
    if kind == "editor":
        digest = file_digest(base_checkpoint)
        base = NetworkMethod.from_checkpoint("base", base_checkpoint, settings)
        cache = PredictionCache(Path(base_checkpoint).with_suffix(".predictions"), digest)
        base_info = {"base_checkpoint": str(base_checkpoint), "base_sha256": digest}
    policy_options = config.policy_options()
    train_cases = load_training_cases([by_id[i] for i in split["train"]], base, cache, rng, policy_options, progress,
                                      config.target_shifts_mm)
    val_cases = load_training_cases([by_id[i] for i in split["validation"]], base, cache, rng, policy_options, progress)
    modalities = tuple(refs[0].modalities)
    inputs = InputSpec(modalities, KINDS[kind], NORMALISATION)

    with torch.random.fork_rng(devices=[torch.cuda.current_device()] if config.device == "cuda" else []):
        torch.manual_seed(config.seed if ckpt is None else config.seed + ckpt.epoch)
        model = make_backbone(config.backbone, **config.network_config(inputs.channels))
        if ckpt is not None:
            load_into(model, ckpt)
        elif base is not None and config.init_from_base:
            init_from_base(model, base.model)
        model.to(config.device).train()
        optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
        if ckpt is not None and ckpt.optimizer is not None:
            optimizer.load_state_dict(ckpt.optimizer)
        start = 0 if ckpt is None else ckpt.epoch
        history = list(ckpt.training.get("history", [])) if ckpt is not None else []

        best = dict(ckpt.training.get("kept", {})) if ckpt is not None else {}
        kept_state = {k: v.detach().clone() for k, v in model.state_dict().items()} if best else None

        def save(epoch: int) -> None:
            nonlocal kept_state
            training = {"kind": kind, "config": config.to_plain(), "history": history, **base_info}
            current = None
            if config.keep_best:
                score = validation_score(history[-1])
                if not best or score > best["score"]:
                    best.update(score=score, epoch=epoch)
                    kept_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                else:  # write the kept weights; training goes on from its own
                    current = {k: v.detach().clone() for k, v in model.state_dict().items()}
                    model.load_state_dict(kept_state)
                training["kept"] = dict(best)
            save_checkpoint(out, model, backbone=config.backbone, config=model.config, inputs=inputs,
                            training=training, split=split, epoch=epoch, optimizer=optimizer)
            if current is not None:
                model.load_state_dict(current)

        def scores() -> dict[str, float]:
            result = {"val_dice": validate(model, val_cases, settings, with_edits=False)}
            if kind == "editor":
                result["val_dice_edits"] = validate(model, val_cases, settings, with_edits=True)
            return result

        schedule = Schedule(config.epochs, config.steps_per_epoch, config.lr, config.lr_decay,
                            config.validate_every, config.device, config.amp, config.compile,
                            config.edit_loss_weight if kind == "editor" else 0.0)
        fit(model, optimizer, schedule, lambda: make_batch(train_cases, config, rng), scores, save,
            start=start, history=history, name=f"{out} ({kind})", progress=progress)
    return out
