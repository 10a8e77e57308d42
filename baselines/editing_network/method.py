"""The paper's networks as editing methods: F ("base", ignores edits) and G ("editor").

G gets the edits of every round so far, encoded as the paper's three channels
(:func:`benchmark.edits.encode` of the accumulated history, K on the brain and clipped to
the +-0.5 that the training users type: a test-time user facing a prediction twice too
large types K = -1, far outside what G has seen, and G answered such values with an
empty mask); it never sees its previous prediction. F takes the modalities only and
declares no tools, so the session records every edit made for it as unsupported.

``predict`` returns ``logits > 0``; :attr:`NetworkMethod.last_forward_ms` holds the
milliseconds of the network's forward pass(es) in that call (synchronised on CUDA),
everything else (encoding, cropping, copying) excluded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from torch import nn

from baselines.networks.checkpoint import CheckpointError, InputSpec, build_network, load_checkpoint
from baselines.networks.inference import InferenceSettings, predict_logits
from baselines.training.patches import brain_mask
from benchmark.case import CaseImage
from benchmark.edits import CHANNELS, PAPER_TOOLS, EditHistory, encode
from benchmark.registry import MethodContext, method_factory
from policies.adjustment import K_LIMIT

#: Method kind -> number of edit channels its checkpoint must have.
KINDS = {"base": 0, "editor": len(CHANNELS)}


class NetworkMethod:
    """A trained backbone used as a Method.

    Args:
        model: the network, on ``settings.device``.
        inputs: its input channels (from the checkpoint).
        name: the name in result tables.
        settings: device, window and precision of inference.
    """

    def __init__(self, model: nn.Module, inputs: InputSpec, name: str, settings: InferenceSettings) -> None:
        if inputs.edit_channels not in (0, len(CHANNELS)):
            raise ValueError(
                f"{name}: a network with {inputs.edit_channels} edit channels cannot be used; "
                f"expected 0 (base) or {len(CHANNELS)} (editor)"
            )
        self.model = model.eval()
        self.inputs = inputs
        self.name = name
        self.settings = settings
        self.tools = frozenset(PAPER_TOOLS) if inputs.edit_channels else frozenset()
        self.last_forward_ms = float("nan")

    @classmethod
    def from_checkpoint(
        cls, kind: str, path: str | Path, settings: InferenceSettings = InferenceSettings()
    ) -> "NetworkMethod":
        """Load ``path`` as method ``kind`` ("base" or "editor"), named ``kind:<file stem>``.

        Raises:
            ValueError: unknown kind.
            CheckpointError: unreadable file, or a network of the other kind (an editor
                checkpoint given as base, or the reverse).
        """
        if kind not in KINDS:
            raise ValueError(f"network method kind must be one of {tuple(KINDS)}, got {kind!r}")
        ckpt = load_checkpoint(path)
        if ckpt.inputs.edit_channels != KINDS[kind]:
            fits = [k for k, n in KINDS.items() if n == ckpt.inputs.edit_channels]
            hint = f"; use {fits[0]}={path}" if fits else ""
            raise CheckpointError(
                f"{path}: has {ckpt.inputs.describe()}, but method {kind!r} needs {KINDS[kind]} edit channels{hint}"
            )
        model = build_network(ckpt).to(settings.device)
        return cls(model, ckpt.inputs, f"{kind}:{Path(path).stem}", settings)

    def _modalities(self, image: CaseImage) -> np.ndarray:
        """float32 [M, X, Y, Z] in the checkpoint's modality order."""
        wanted = self.inputs.modalities
        if tuple(image.modalities) == wanted:
            return image.image
        missing = [m for m in wanted if m not in image.modalities]
        if missing:
            raise ValueError(
                f"{self.name}: case {image.case_id!r} lacks modalities {missing} the network was trained on "
                f"(it has {list(image.modalities)})"
            )
        return np.stack([image.channel(m) for m in wanted])

    def logits(self, image: CaseImage, history: EditHistory) -> np.ndarray:
        """float32 [X, Y, Z] logits; sets :attr:`last_forward_ms`."""
        modalities = self._modalities(image)
        edits = (encode(history, image.shape, brain_mask(modalities), k_limit=K_LIMIT["train"])
                 if self.inputs.edit_channels else None)
        logits, self.last_forward_ms = predict_logits(self.model, modalities, edits, self.settings)
        return logits

    def predict(self, image: CaseImage, history: EditHistory) -> np.ndarray:
        """bool [X, Y, Z]: the whole tumour given the image and (for G) all edits so far."""
        return self.logits(image, history) > 0




def checkpoint_cases(path: str | Path) -> set[str]:
    """The case ids of a checkpoint's train and validation split."""
    return {case for ids in load_checkpoint(path).split.values() for case in ids}


@method_factory(argument="file", tools=(), trained_on=checkpoint_cases,
                usage="base=CHECKPOINT.pt (from `simedit train base`)")
def make_base(context: MethodContext) -> NetworkMethod:
    """The paper's base network F: the modalities alone, edits ignored."""
    return NetworkMethod.from_checkpoint("base", context.arg, InferenceSettings(device=context.device))


@method_factory(argument="file", tools=PAPER_TOOLS, trained_on=checkpoint_cases,
                usage="editor=CHECKPOINT.pt (from `simedit train editor`)")
def make_editor(context: MethodContext) -> NetworkMethod:
    """The paper's editing network G: the modalities plus the three edit channels."""
    return NetworkMethod.from_checkpoint("editor", context.arg, InferenceSettings(device=context.device))
