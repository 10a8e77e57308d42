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

Presets: :mod:`baselines.editing_network.training_config`.
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
from baselines.networks import make_backbone
from baselines.editing_network.training_config import TrainConfig
from baselines.training.patches import augment, brain_box, brain_mask, extract, patch_origin
from baselines.editing_network.training_edits import EditedTarget, PredictionCache, draw_sample, edited_targets, sample_history
from benchmark.digests import file_digest
from benchmark.case import Case
from benchmark.edits import EditHistory, encode
from benchmark.io import CaseRef
from benchmark.metrics import dice

NORMALISATION = "z-score over brain voxels (non-zero), per modality; background 0"


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
