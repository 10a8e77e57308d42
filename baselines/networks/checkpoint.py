"""One file per trained network: weights plus everything needed to rebuild and trust it.

A checkpoint is ``torch.save`` of a plain dict (loadable with ``weights_only=True``)::

    format          "simedit-checkpoint"
    version         FORMAT_VERSION
    backbone        a key of baselines.networks.BACKBONES
    config          the backbone's constructor arguments
    inputs          {"modalities": [...], "edit_channels": int, "normalisation": str}
    training        the training settings (plain values)
    split           {"train": [case ids], "validation": [case ids]}
    epoch           int, epochs completed
    weights         the model's state_dict
    optimizer       the optimiser's state_dict, or None
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from baselines.networks import BACKBONES, backbone_error, make_backbone

FORMAT = "simedit-checkpoint"
FORMAT_VERSION = 1
SPLIT_KEYS = ("train", "validation")
_PLAIN = (str, int, float, bool, type(None))
_MISSING = "<absent>"


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read, or that does not fit the network given."""


@dataclass(frozen=True)
class InputSpec:
    """What a network's input channels are, in order.

    Attributes:
        modalities: image channel names, e.g. ("flair", "t1", "t1ce", "t2").
        edit_channels: edit channels after the modalities (3 for the editor G, from
            benchmark.edits.encode; 0 for the base network F).
        normalisation: how each modality was normalised before training, in words
            (e.g. "z-score over brain voxels (nonzero), per modality").
    """

    modalities: tuple[str, ...]
    edit_channels: int
    normalisation: str

    def __post_init__(self):
        if not self.modalities or not all(isinstance(m, str) and m for m in self.modalities):
            raise ValueError(f"InputSpec.modalities must be non-empty names, got {self.modalities!r}")
        if not isinstance(self.edit_channels, int) or self.edit_channels < 0:
            raise ValueError(f"InputSpec.edit_channels must be a non-negative int, got {self.edit_channels!r}")
        if not isinstance(self.normalisation, str) or not self.normalisation:
            raise ValueError("InputSpec.normalisation must describe the input normalisation in words")

    @property
    def channels(self) -> int:
        return len(self.modalities) + self.edit_channels

    def describe(self) -> str:
        """E.g. "7 input channels (4 modalities + 3 edit channels)"."""
        return (
            f"{self.channels} input channels ({len(self.modalities)} modalities + {self.edit_channels} edit channels)"
        )


@dataclass(frozen=True)
class Checkpoint:
    """A loaded checkpoint file (see the module docstring for the stored fields).

    Attributes:
        path: the file it came from, for messages.
        weights: the network's state_dict (CPU or ``map_location`` tensors).
        optimizer: the optimiser's state_dict, or None when not saved.
    """

    path: Path
    version: int
    backbone: str
    config: Mapping[str, Any]
    inputs: InputSpec
    training: Mapping[str, Any]
    split: Mapping[str, tuple[str, ...]]
    epoch: int
    weights: Mapping[str, torch.Tensor]
    optimizer: Mapping[str, Any] | None


def _check_plain(value: Any, where: str) -> None:
    """Raise unless value is built from dicts with str keys, lists, tuples and scalars."""
    if isinstance(value, _PLAIN):
        return
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _check_plain(v, f"{where}[{i}]")
        return
    if isinstance(value, Mapping):
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"{where}: keys must be str, got {k!r}")
            _check_plain(v, f"{where}[{k!r}]")
        return
    raise TypeError(
        f"{where} is a {type(value).__name__}; checkpoints hold only str/int/float/bool/None, "
        "lists and dicts (convert paths with str(), arrays with .tolist())"
    )


def _check_split(split: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    if set(split) != set(SPLIT_KEYS):
        raise ValueError(f"split must have exactly the keys {SPLIT_KEYS}, got {sorted(split)}")
    out = {}
    for key in SPLIT_KEYS:
        ids = list(split[key])
        if not all(isinstance(i, str) for i in ids):
            raise TypeError(f"split[{key!r}] must list case ids as str")
        if len(set(ids)) != len(ids):
            raise ValueError(f"split[{key!r}] lists a case id twice")
        out[key] = ids
    shared = set(out["train"]) & set(out["validation"])
    if shared:
        raise ValueError(f"split: cases in both train and validation: {sorted(shared)[:5]}")
    return out


def save_checkpoint(
    path: str | os.PathLike,
    model: nn.Module,
    *,
    backbone: str,
    config: Mapping[str, Any],
    inputs: InputSpec,
    training: Mapping[str, Any],
    split: Mapping[str, Sequence[str]],
    epoch: int,
    optimizer: torch.optim.Optimizer | None = None,
) -> Path:
    """Write ``model`` and its provenance to ``path`` (atomically: a crash leaves no half file).

    Args:
        path: destination file, conventionally ``*.pt``; its folder must exist.
        model: the network; must be ``BACKBONES[backbone](**config)``.
        backbone: its name in BACKBONES.
        config: the constructor arguments it was built with (defaults may be left
            out); checked against ``model.config``, which is what gets stored, in
            full, so a later change of a default cannot alter the rebuilt network.
        inputs: what its input channels are; ``inputs.channels`` must equal
            ``config["in_channels"]``.
        training: training settings (plain values: str/int/float/bool/None, lists, dicts).
        split: {"train": case ids, "validation": case ids}, disjoint.
        epoch: epochs completed, >= 0.
        optimizer: saved with its state when given, for resuming.

    Returns:
        The path written.
    """
    path = Path(path)
    if backbone not in BACKBONES:
        raise ValueError(backbone_error(backbone))
    if not isinstance(model, BACKBONES[backbone]):
        raise TypeError(
            f"{path.name}: backbone {backbone!r} is {BACKBONES[backbone].__name__}, "
            f"but the model is a {type(model).__name__}"
        )
    given = dict(config)
    config = model.config
    differing = sorted(k for k in given if given[k] != config.get(k, _MISSING))
    if differing:
        detail = ", ".join(f"{k}: given {given[k]!r}, model {config.get(k, _MISSING)!r}" for k in differing)
        raise ValueError(f"{path.name}: config does not match the model ({detail})")
    if inputs.channels != config["in_channels"]:
        raise ValueError(
            f"{path.name}: inputs describe {inputs.describe()} but the network takes {config['in_channels']}"
        )
    _check_plain(dict(training), "training")
    if not isinstance(epoch, int) or epoch < 0:
        raise ValueError(f"epoch must be a non-negative int, got {epoch!r}")
    payload = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "backbone": backbone,
        "config": config,
        "inputs": {
            "modalities": list(inputs.modalities),
            "edit_channels": inputs.edit_channels,
            "normalisation": inputs.normalisation,
        },
        "training": dict(training),
        "split": _check_split(split),
        "epoch": epoch,
        "weights": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
    }
    if not path.parent.is_dir():
        raise FileNotFoundError(f"{path}: folder {path.parent} does not exist; create it first")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _require(raw: Mapping[str, Any], key: str, kind: type | tuple[type, ...], path: Path) -> Any:
    if key not in raw:
        raise CheckpointError(f"{path}: checkpoint lacks {key!r}; the file is damaged or was not written by save_checkpoint")
    value = raw[key]
    if not isinstance(value, kind):
        raise CheckpointError(f"{path}: {key!r} is a {type(value).__name__}, expected {kind}; the file is damaged")
    return value


def _load_failure(err: Exception) -> str:
    """The useful line of a torch.load error (weights-only refusals bury it in advice)."""
    text = str(err)
    marker = "WeightsUnpickler error:"
    if marker in text:
        detail = text.split(marker, 1)[1].strip()
        return detail.split(". ", 1)[0].splitlines()[0].strip()
    return f"{type(err).__name__}: {text.splitlines()[0]}" if text else type(err).__name__


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> Checkpoint:
    """Read a file written by :func:`save_checkpoint`.

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: truncated or corrupt file, a torch file that is not a simedit
            checkpoint (e.g. a bare state_dict), one holding arbitrary Python objects
            (refused unread, for safety), a newer format version, or an unknown backbone.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint file")
    try:
        raw = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises RuntimeError, EOFError, UnpicklingError, ... for bad files
        reason = _load_failure(err)
        if reason.startswith("Unsupported global"):
            raise CheckpointError(
                f"{path}: holds Python objects beyond plain data and tensors ({reason}), so it is not a "
                "simedit checkpoint; it was refused unread, for safety"
            ) from err
        raise CheckpointError(
            f"{path}: not a readable torch checkpoint (truncated or corrupt? copy or save it again): {reason}"
        ) from err
    if not isinstance(raw, Mapping) or raw.get("format") != FORMAT:
        kind = "a dict without the simedit format marker" if isinstance(raw, Mapping) else f"a {type(raw).__name__}"
        raise CheckpointError(
            f"{path}: a torch file but not a simedit checkpoint (it holds {kind}); "
            "write checkpoints with baselines.networks.checkpoint.save_checkpoint"
        )
    version = _require(raw, "version", int, path)
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format version {version} is newer than this code reads ({FORMAT_VERSION}); update simedit"
        )
    backbone = _require(raw, "backbone", str, path)
    if backbone not in BACKBONES:
        raise CheckpointError(f"{path}: {backbone_error(backbone)}")
    inputs_raw = _require(raw, "inputs", Mapping, path)
    try:
        inputs = InputSpec(
            modalities=tuple(inputs_raw["modalities"]),
            edit_channels=inputs_raw["edit_channels"],
            normalisation=inputs_raw["normalisation"],
        )
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"{path}: bad 'inputs' entry: {err}") from err
    split_raw = _require(raw, "split", Mapping, path)
    return Checkpoint(
        path=path,
        version=version,
        backbone=backbone,
        config=dict(_require(raw, "config", Mapping, path)),
        inputs=inputs,
        training=dict(_require(raw, "training", Mapping, path)),
        split={k: tuple(v) for k, v in split_raw.items()},
        epoch=_require(raw, "epoch", int, path),
        weights=_require(raw, "weights", Mapping, path),
        optimizer=_require(raw, "optimizer", (Mapping, type(None)), path),
    )


def load_into(model: nn.Module, ckpt: Checkpoint) -> nn.Module:
    """Copy ``ckpt``'s weights into ``model``, refusing a network that does not match.

    Raises:
        CheckpointError: naming the file and the first mismatch: input channels,
            backbone class, constructor config, or parameter names/shapes.
    """
    name = ckpt.path.name
    model_in = getattr(model, "in_channels", None)
    if model_in is not None and model_in != ckpt.inputs.channels:
        raise CheckpointError(f"{name}: checkpoint has {ckpt.inputs.describe()} but the network takes {model_in}")
    expected = BACKBONES[ckpt.backbone]
    if not isinstance(model, expected):
        raise CheckpointError(
            f"{name}: checkpoint holds backbone {ckpt.backbone!r} ({expected.__name__}) "
            f"but the network is a {type(model).__name__}"
        )
    ours = model.config
    differing = sorted(k for k in set(ours) | set(ckpt.config) if ours.get(k, _MISSING) != ckpt.config.get(k, _MISSING))
    if differing:
        detail = ", ".join(f"{k}: checkpoint {ckpt.config.get(k, _MISSING)!r}, network {ours.get(k, _MISSING)!r}" for k in differing)
        raise CheckpointError(f"{name}: checkpoint config differs from the network's ({detail}); use build_network(ckpt)")
    try:
        model.load_state_dict(ckpt.weights, strict=True)
    except RuntimeError as err:
        raise CheckpointError(f"{name}: weights do not fit the network: {err}") from err
    return model


def build_network(ckpt: Checkpoint) -> nn.Module:
    """The checkpoint's network with its weights, in eval mode (call .train() to resume training)."""
    try:
        model = make_backbone(ckpt.backbone, **ckpt.config)
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"{ckpt.path.name}: cannot build {ckpt.backbone!r} from config {dict(ckpt.config)}: {err}") from err
    return load_into(model, ckpt).eval()
