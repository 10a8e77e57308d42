"""Training DeepIGeoS (no CRF): P-Net on the images, then R-Net on P-Net's errors.

P-Net learns to segment the modalities. R-Net learns from the modalities, P-Net's
segmentation of the training case and the geodesic maps of seeds simulated on P-Net's
errors as DeepIGeoS did (:mod:`baselines.deepigeos.seeds`): a fresh draw of seeds for
every sample, its maps computed over the whole brain crop (as at test time), then a
patch cut from all channels. A P-Net without errors on a case gives no seeds and empty
maps, so R-Net also learns to keep a good proposal.

Per step (both networks): pick a case, take a patch centred on tumour with probability
``foreground_p``, flip and jitter intensities, Adam step on the soft Dice loss; the
learning rate is ``lr * lr_decay ** epoch``. Every ``validate_every`` epochs (and after
the last) the validation cases get whole-volume Dice and the checkpoint is written with
the optimiser state, as for the base and editing networks.

Files: ``--out D.pt`` is R-Net's checkpoint, the one the method is loaded from; P-Net's
is ``D.pnet.pt`` beside it. R-Net's training record names P-Net's file and SHA-256.
``resume`` carries on from whatever the files hold: P-Net until its epochs are done,
then R-Net (refused if P-Net changed after R-Net was started).

Presets (:meth:`DeepIGeoSConfig.cpu`, :meth:`DeepIGeoSConfig.paper`):

- ``cpu``: 96x96x64 phantoms on 2 CPU cores. 8 features per block, 64x64x48 patches,
  batch 2, 15 epochs of 10 steps per network, lr 2e-3. Measured on 16 phantoms (12
  train, 4 validation), one torch thread on the shared machine: 10 minutes for both
  networks (1.7-2.4 s a step); validation Dice 0.79 (P-Net) and 0.87 (R-Net with
  simulated seeds). With two threads on a busy 2-core machine a training step of this
  network ran 20-70x slower; training now drops to the threads the other processes
  leave free, epoch by epoch (:mod:`baselines.training.threads`).
- ``paper``: for a GPU, at the size of the HITLAB-DeepIGeoS BraTS reimplementation: 16
  features per block, dropout 0.5, 96x96x96 patches, batch 2, 100 epochs of 100 steps
  per network, lr 1e-3, mixed precision.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import numpy as np
import torch
from tqdm.auto import tqdm

from baselines.networks.checkpoint import Checkpoint, InputSpec, build_network, load_checkpoint, load_into, save_checkpoint
from baselines.deepigeos.method import PNET_KIND, RNET_EXTRA, RNET_KIND, GeodesicSettings, geodesic_maps
from baselines.deepigeos.seeds import simulate_seeds
from baselines.networks.inference import InferenceSettings, predict_logits
from baselines.training.fit import Schedule, fit
from baselines.networks.pnet import PNet
from baselines.training.patches import augment, brain_box, extract, patch_origin
from baselines.training.settings import check_settings
from baselines.editing_network.training import NORMALISATION, split_cases
from benchmark.digests import file_digest
from benchmark.io import LAYOUTS, CaseRef
from benchmark.metrics import dice

BACKBONE = "pnet"


@dataclass(frozen=True)
class DeepIGeoSConfig:
    """Everything that shapes a DeepIGeoS training run (stored in both checkpoints).

    Attributes:
        features: features per block of both networks.
        dropout: dropout in their heads.
        patch: patch size (X, Y, Z); axes larger than a case are zero-padded.
        batch_size: patches per step.
        pnet_epochs, rnet_epochs: epochs to train each network (totals, counting
            resumed ones).
        steps_per_epoch: optimiser steps per epoch.
        lr: initial Adam learning rate; lr_decay: factor per epoch.
        foreground_p: chance that a patch is centred on a tumour voxel.
        validation_fraction: share of the cases held out for validation.
        validate_every: epochs between validations and checkpoint writes.
        geodesic_modalities, lamb, scale: R-Net's geodesic maps (GeodesicSettings).
        seed: seeds the split, weights, sampling, seeds and dropout.
        device: "cpu" or "cuda".
        amp: mixed precision (CUDA only).
    """

    features: int = 8
    dropout: float = 0.5
    patch: tuple[int, int, int] = (64, 64, 48)
    batch_size: int = 2
    pnet_epochs: int = 15
    rnet_epochs: int = 15
    steps_per_epoch: int = 10
    lr: float = 2e-3
    lr_decay: float = 0.985
    foreground_p: float = 0.67
    validation_fraction: float = 0.2
    validate_every: int = 5
    geodesic_modalities: tuple[str, ...] = ("flair",)
    lamb: float = 0.9
    scale: float = 5.0
    seed: int = 0
    device: str = "cpu"
    amp: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "geodesic_modalities", tuple(self.geodesic_modalities))
        counts = ("batch_size", "pnet_epochs", "rnet_epochs", "steps_per_epoch", "validate_every")
        object.__setattr__(self, "patch", check_settings(self, counts, ("foreground_p",)))
        self.geodesic  # building the settings validates lamb and scale
        PNet(1, features=self.features, dropout=self.dropout)  # validates features and dropout

    @classmethod
    def cpu(cls, **overrides: Any) -> "DeepIGeoSConfig":
        """The CPU preset; see the module docstring."""
        return cls(**overrides)

    @classmethod
    def paper(cls, **overrides: Any) -> "DeepIGeoSConfig":
        """The GPU preset; see the module docstring."""
        preset = dict(features=16, patch=(96, 96, 96), pnet_epochs=100, rnet_epochs=100, steps_per_epoch=100,
                      lr=1e-3, validate_every=10, device="cuda")
        return cls(**{**preset, **overrides})

    @property
    def geodesic(self) -> GeodesicSettings:
        return GeodesicSettings(self.geodesic_modalities, self.lamb, 2, self.scale)

    def network_config(self, in_channels: int) -> dict[str, Any]:
        return dict(in_channels=in_channels, out_channels=1, features=self.features, dropout=self.dropout)

    def to_plain(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["patch"] = list(self.patch)
        d["geodesic_modalities"] = list(self.geodesic_modalities)
        return d

    @classmethod
    def from_plain(cls, d: dict[str, Any], **overrides: Any) -> "DeepIGeoSConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{**{k: v for k, v in d.items() if k in known}, **overrides})


def pnet_path(out: str | Path) -> Path:
    """Where P-Net's checkpoint lies for R-Net checkpoint ``out``: D.pt -> D.pnet.pt."""
    out = Path(out)
    return out.with_name(f"{out.stem}.pnet{out.suffix or '.pt'}")


@dataclass(frozen=True)
class _Case:
    """A case cropped to its brain box: image float32 [M, x, y, z], label bool [x, y, z],
    proposal bool [x, y, z] (P-Net's segmentation; R-Net only)."""

    case_id: str
    image: np.ndarray
    label: np.ndarray
    spacing: tuple[float, float, float]
    proposal: np.ndarray | None = None


def _load(refs: Sequence[CaseRef], progress: bool) -> list[_Case]:
    out = []
    for ref in tqdm(refs, desc="loading cases", disable=not progress, leave=False):
        case = ref.load()
        box = brain_box(case.image, margin=4)
        out.append(_Case(case.case_id, np.ascontiguousarray(case.image[(slice(None), *box)]),
                         np.ascontiguousarray(case.label[box]), case.spacing))
    return out


def rnet_channels(case: _Case, config: DeepIGeoSConfig, channels: Sequence[int], rng: np.random.Generator,
                  device: str = "cpu") -> np.ndarray:
    """float32 [3, x, y, z]: P-Net's segmentation and the maps of a fresh seed draw."""
    seeds = simulate_seeds(case.label, case.proposal, rng)
    maps = geodesic_maps(case.image, seeds, case.spacing, config.geodesic, channels, device)
    return np.concatenate([case.proposal[None].astype(np.float32), maps])


def _batch(cases: Sequence[_Case], config: DeepIGeoSConfig, rng: np.random.Generator,
           extra: Callable[[_Case], np.ndarray] | None) -> tuple[np.ndarray, np.ndarray]:
    """float32 inputs [B, M (+3), *patch] and bool targets [B, 1, *patch]."""
    inputs, targets = [], []
    for _ in range(config.batch_size):
        case = cases[rng.integers(len(cases))]
        channels = case.image if extra is None else np.concatenate([case.image, extra(case)])
        origin = patch_origin(case.label, config.patch, rng, config.foreground_p)
        x, y = augment(extract(channels, origin, config.patch), extract(case.label, origin, config.patch), rng,
                       intensity_channels=case.image.shape[0])
        inputs.append(x)
        targets.append(y[None])
    return np.stack(inputs), np.stack(targets)


def _stage(stage: str, path: Path, cases: dict[str, list[_Case]], inputs: InputSpec, config: DeepIGeoSConfig,
           split: dict[str, list[str]], epochs: int, ckpt: Checkpoint | None, info: dict[str, Any],
           extra: Callable[[_Case, np.random.Generator], np.ndarray] | None, progress: bool) -> None:
    """Train one network for ``epochs`` (total) epochs, writing ``path`` at each validation.

    ``extra(case, rng)`` gives R-Net's channels beyond the modalities (None for P-Net).
    """
    settings = InferenceSettings(device=config.device, amp=config.amp)
    rng = np.random.default_rng([config.seed, 0 if ckpt is None else ckpt.epoch, stage == RNET_KIND])
    train_cases, val_cases = cases["train"], cases["validation"]
    # Validation seeds are drawn once, from a fixed generator: the same every validation.
    val_extra = [extra(c, np.random.default_rng([config.seed, i])) for i, c in enumerate(val_cases)] if extra else []
    on_cuda = config.device == "cuda"
    with torch.random.fork_rng(devices=[torch.cuda.current_device()] if on_cuda else []):
        torch.manual_seed(config.seed if ckpt is None else config.seed + ckpt.epoch)
        model = PNet(**config.network_config(inputs.channels))
        if ckpt is not None:
            load_into(model, ckpt)
        model.to(config.device).train()
        optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
        if ckpt is not None and ckpt.optimizer is not None:
            optimizer.load_state_dict(ckpt.optimizer)
        start = 0 if ckpt is None else ckpt.epoch
        history = list(ckpt.training.get("history", [])) if ckpt is not None else []

        def validate() -> dict[str, float]:
            model.eval()
            scores = []
            for i, case in enumerate(val_cases):
                logits, _ = predict_logits(model, case.image, val_extra[i] if extra else None, settings)
                scores.append(dice(logits > 0, case.label))
            model.train()
            return {"val_dice": float(np.mean(scores)) if scores else float("nan")}

        def save(epoch: int) -> None:
            training = {"kind": stage, "config": config.to_plain(), "history": history, **info}
            save_checkpoint(path, model, backbone=BACKBONE, config=model.config, inputs=inputs,
                            training=training, split=split, epoch=epoch, optimizer=optimizer)

        schedule = Schedule(epochs, config.steps_per_epoch, config.lr, config.lr_decay, config.validate_every,
                            config.device, config.amp)
        fit(model, optimizer, schedule, lambda: _batch(train_cases, config, rng, (lambda c: extra(c, rng)) if extra else None),
            validate, save, start=start, history=history, name=f"{path} ({stage})", progress=progress)


def _resumable(path: Path, kind: str, resume: bool) -> Checkpoint | None:
    if not resume or not path.is_file():
        return None
    ckpt = load_checkpoint(path)
    if ckpt.training.get("kind") != kind:
        raise ValueError(f"{path}: holds a {ckpt.training.get('kind')!r} network, not {kind!r}; "
                         "choose another --out or move the file away")
    return ckpt


def train_deepigeos(refs: Sequence[CaseRef], out: str | Path, config: DeepIGeoSConfig = DeepIGeoSConfig(),
                    resume: bool = False, progress: bool = True) -> tuple[Path, Path]:
    """Train P-Net, then R-Net on P-Net's errors; write ``pnet_path(out)`` and ``out``.

    Args:
        refs: the cases (the split is drawn here, or taken from P-Net's checkpoint).
        out: R-Net's checkpoint file (the method's); its folder must exist.
        config: the settings; when resuming, the checkpoint's own settings carry on
            but for the epoch totals and the device.
        resume: carry on from the files already at ``out`` and ``pnet_path(out)``.
        progress: show tqdm bars.

    Returns:
        (P-Net's path, R-Net's path).
    """
    out = Path(out)
    if not out.parent.is_dir():
        raise ValueError(f"{out}: folder {out.parent} does not exist; create it first")
    if config.device == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda asked for, but torch sees no CUDA GPU; use --device cpu")
    if not resume:
        existing = [p for p in (pnet_path(out), out) if p.exists()]
        if existing:
            raise ValueError(f"{existing[0]} exists; pass --resume to carry on from it, or choose another --out")
    by_id = {r.case_id: r for r in refs}
    pnet_file = pnet_path(out)
    pnet_ckpt = _resumable(pnet_file, PNET_KIND, resume)
    rnet_ckpt = _resumable(out, RNET_KIND, resume)
    if rnet_ckpt is not None and pnet_ckpt is not None and pnet_ckpt.epoch < config.pnet_epochs:
        raise ValueError(f"{out}: R-Net was started on P-Net's epoch {pnet_ckpt.epoch}; training P-Net on to "
                         f"{config.pnet_epochs} epochs would leave it stale: move {out.name} away first")
    if pnet_ckpt is not None:
        config = DeepIGeoSConfig.from_plain(pnet_ckpt.training["config"], pnet_epochs=config.pnet_epochs,
                                            rnet_epochs=config.rnet_epochs, device=config.device)
        split = {k: list(v) for k, v in pnet_ckpt.split.items()}
        missing = sorted((set(split["train"]) | set(split["validation"])) - set(by_id))
        if missing:
            raise ValueError(f"{pnet_file}: its cases {missing[:5]} are not in the data folder")
    else:
        split = split_cases(list(by_id), config.validation_fraction, np.random.default_rng(config.seed))
    if not split["train"]:
        raise ValueError("no training cases: give at least one case (two or more for a validation split)")
    modalities = tuple(refs[0].modalities)
    channels = config.geodesic.channels(modalities)
    cases = {k: _load([by_id[i] for i in ids], progress) for k, ids in split.items()}

    if pnet_ckpt is None or pnet_ckpt.epoch < config.pnet_epochs:
        _stage(PNET_KIND, pnet_file, cases, InputSpec(modalities, 0, NORMALISATION), config, split,
               config.pnet_epochs, pnet_ckpt, {}, None, progress)
    pnet_ckpt = load_checkpoint(pnet_file)
    digest = file_digest(pnet_file)
    if rnet_ckpt is not None and rnet_ckpt.training.get("pnet_sha256") != digest:
        raise ValueError(f"{out}: was trained on another P-Net than {pnet_file.name} (SHA-256 differs); "
                         "start again with a new --out")

    settings = InferenceSettings(device=config.device, amp=config.amp)
    pnet = build_network(pnet_ckpt).to(config.device)
    cases = {k: [dataclasses.replace(c, proposal=predict_logits(pnet, c.image, None, settings)[0] > 0) for c in v]
             for k, v in cases.items()}
    info = {"pnet_checkpoint": pnet_file.name, "pnet_sha256": digest, "geodesic": config.geodesic.to_plain()}
    _stage(RNET_KIND, out, cases, InputSpec(modalities, len(RNET_EXTRA), NORMALISATION), config, split,
           config.rnet_epochs, rnet_ckpt, info, lambda c, rng: rnet_channels(c, config, channels, rng, config.device),
           progress)
    return pnet_file, out


@click.command("deepigeos")
@click.option("--data", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder of training cases (any layout simedit reads).")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="R-Net's checkpoint (.pt), the file `deepigeos=` takes; P-Net goes beside it as .pnet.pt.")
@click.option("--preset", type=click.Choice(["cpu", "paper"]), default="cpu", show_default=True,
              help="cpu: phantoms on 2 cores in minutes; paper: 16 features, 96^3 patches, on a GPU.")
@click.option("--features", type=int, default=None, help="Features per block (default: the preset's).")
@click.option("--pnet-epochs", type=int, default=None, help="P-Net's total epochs (default: the preset's).")
@click.option("--rnet-epochs", type=int, default=None, help="R-Net's total epochs (default: the preset's).")
@click.option("--steps", type=int, default=None, help="Optimiser steps per epoch (default: the preset's).")
@click.option("--patch", nargs=3, type=int, default=None, help="Patch size X Y Z (default: the preset's).")
@click.option("--lr", type=float, default=None, help="Initial learning rate (default: the preset's).")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default=None, help="Default: the preset's.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--layout", type=click.Choice(LAYOUTS), default=None, help="Data layout (default: detected).")
@click.option("--case", "case_ids", multiple=True, help="Train only on these case ids (repeat).")
@click.option("--resume", is_flag=True, help="Carry on from the checkpoints already at --out (and its .pnet.pt).")
def deepigeos(data: Path, out: Path, preset: str, features, pnet_epochs, rnet_epochs, steps, patch, lr, device,
              seed: int, layout, case_ids, resume: bool) -> None:
    """Train DeepIGeoS (no CRF): P-Net, then R-Net on geodesic maps of simulated seeds."""
    from benchmark.io import discover

    given = dict(features=features, pnet_epochs=pnet_epochs, rnet_epochs=rnet_epochs, steps_per_epoch=steps,
                 patch=patch, lr=lr, device=device)
    try:
        config = getattr(DeepIGeoSConfig, preset)(seed=seed, **{k: v for k, v in given.items() if v is not None})
        refs = discover(data, layout, case_ids or None)
        t0 = time.perf_counter()
        pnet_file, rnet_file = train_deepigeos(refs, out, config, resume=resume)
    except (ValueError, FileNotFoundError) as e:
        raise click.ClickException(str(e))
    click.echo(f"wrote {pnet_file} and {rnet_file} (DeepIGeoS, {len(refs)} cases, {time.perf_counter() - t0:.0f} s)")
