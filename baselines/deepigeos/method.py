"""DeepIGeoS without its CRF layers (Wang et al., TPAMI 2018) as an editing method.

Round 0 is P-Net's segmentation of the modalities. Every later round, the clicks and
stroke voxels of all rounds so far become seeds (positive edits foreground, negative
background; a voxel marked twice keeps its latest sign), their geodesic distance maps
over the image are computed, and R-Net segments again from the modalities, P-Net's
segmentation (of round 0, fixed) and the two maps. Adjustments are not understood: the
method declares the selection and brush tools only, so the session records adjustments
as unsupported. A round whose edits give no seeds keeps P-Net's segmentation.

Geodesic maps: distances over the named modalities (FLAIR by default, the modality
DeepIGeoS segmented brain tumours from), mapped to exp(-d / scale) so that each map is 1
at its seeds, falls towards 0 away from them and is exactly 0 everywhere when its seed
set is empty (distance +inf). DeepIGeoS feeds raw distances and leaves their scaling
unstated; the bounded form keeps the input range fixed whatever the image and spacing.
They are computed inside the brain's bounding box (the region the networks see, as
:func:`baselines.networks.inference.predict_logits` crops it); seeds outside it are ignored.

One checkpoint file names the method: R-Net's (``deepigeos=PATH.pt``). Its training
record names P-Net's file, which lies beside it (``PATH.pnet.pt`` as
``simedit train deepigeos`` writes it), with its SHA-256, and the geodesic settings.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from baselines.networks.checkpoint import CheckpointError, build_network, load_checkpoint
from baselines.deepigeos.seeds import Seeds
from baselines.geodesic.transform import geodesic_distance
from baselines.networks.inference import InferenceSettings, predict_logits
from baselines.training.patches import brain_box
from benchmark.digests import file_digest
from benchmark.case import CaseImage
from benchmark.edits import EditHistory
from benchmark.registry import MethodContext, method_factory

#: The method's name in result tables.
TABLE_NAME = "DeepIGeoS (no CRF)"
#: The edit tools whose voxels become seeds.
TOOLS = frozenset({"selection", "brush"})
#: R-Net's channels after the modalities.
RNET_EXTRA = ("pnet_segmentation", "foreground_geodesic", "background_geodesic")
#: ``training["kind"]`` of the two checkpoints.
PNET_KIND, RNET_KIND = "deepigeos-pnet", "deepigeos-rnet"


@dataclass(frozen=True)
class GeodesicSettings:
    """How seeds become R-Net's two geodesic channels (stored with R-Net).

    Attributes:
        modalities: the image channels whose intensity differences make up the path
            cost (their Euclidean norm).
        lamb: weight of the intensity term in [0, 1] (see baselines.geodesic.transform).
        iterations: raster-scan sweeps.
        scale: distance at which a map has fallen to 1/e.
    """

    modalities: tuple[str, ...] = ("flair",)
    lamb: float = 0.9
    iterations: int = 2
    scale: float = 5.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "modalities", tuple(self.modalities))
        if not self.modalities:
            raise ValueError("GeodesicSettings.modalities must name at least one modality")
        if not 0.0 <= self.lamb <= 1.0:
            raise ValueError(f"GeodesicSettings.lamb must lie in [0, 1], got {self.lamb}")
        if self.iterations < 1:
            raise ValueError(f"GeodesicSettings.iterations must be >= 1, got {self.iterations}")
        if not (math.isfinite(self.scale) and self.scale > 0):
            raise ValueError(f"GeodesicSettings.scale must be a positive number, got {self.scale}")

    def to_plain(self) -> dict[str, Any]:
        return {"modalities": list(self.modalities), "lamb": self.lamb, "iterations": self.iterations,
                "scale": self.scale}

    @classmethod
    def from_plain(cls, d: Mapping[str, Any]) -> "GeodesicSettings":
        return cls(tuple(d["modalities"]), float(d["lamb"]), int(d["iterations"]), float(d["scale"]))

    def channels(self, modalities: Sequence[str]) -> list[int]:
        """Indices of ``self.modalities`` among an image's ``modalities``."""
        missing = [m for m in self.modalities if m not in modalities]
        if missing:
            raise ValueError(f"geodesic maps need modalities {missing}, but the image has {list(modalities)}")
        return [list(modalities).index(m) for m in self.modalities]


def seeds_from_history(history: EditHistory, shape: tuple[int, int, int]) -> Seeds:
    """The seeds of every click and stroke so far (a voxel keeps its latest sign).

    Args:
        history: all rounds' edits; adjustments give no seeds.
        shape: (X, Y, Z) of the image.

    Returns:
        Seeds: bool [X, Y, Z] foreground (positive edits) and background (negative).
    """
    foreground = np.zeros(shape, bool)
    background = np.zeros(shape, bool)
    bounds = np.asarray(shape)
    for edit in history.edits:
        if edit.tool not in TOOLS:
            continue
        v = edit.voxels
        if (v < 0).any() or (v >= bounds).any():
            raise ValueError(f"{edit.tool} edit has voxels outside the volume {tuple(shape)}")
        index = tuple(v.T)
        (foreground if edit.positive else background)[index] = True
        (background if edit.positive else foreground)[index] = False
    return Seeds(foreground, background)


def geodesic_maps(image: np.ndarray, seeds: Seeds, spacing: Sequence[float], settings: GeodesicSettings,
                  channels: Sequence[int], device: str = "cpu") -> np.ndarray:
    """R-Net's foreground and background channels.

    Args:
        image: float32 [M, X, Y, Z], the modalities.
        seeds: foreground and background seeds, [X, Y, Z] each.
        spacing: voxel size in mm along X, Y, Z.
        settings: the geodesic settings.
        channels: indices into ``image`` of the modalities the path cost uses.
        device: where the transform runs ("cpu" or "cuda").

    Returns:
        float32 [2, X, Y, Z] in [0, 1]: exp(-distance / scale) to the foreground and to
        the background seeds; all 0 for an empty seed set.
    """
    intensity = torch.from_numpy(np.ascontiguousarray(image[list(channels)])).to(device)
    sets = torch.from_numpy(seeds.stacked()).to(device)
    distance = geodesic_distance(intensity, sets, spacing, settings.lamb, settings.iterations)
    return torch.exp(distance / -settings.scale).cpu().numpy()  # exp(-inf) = 0


class DeepIGeoS:
    """P-Net then R-Net on geodesic maps of the user's clicks and strokes.

    Args:
        pnet: the proposal network (modalities in), on ``settings.device``.
        rnet: the refinement network (modalities + ``RNET_EXTRA`` in).
        modalities: the image channels both take, in order.
        geodesic: how seeds become R-Net's maps.
        settings: device, window and precision of inference.
        name: the name in result tables.

    Attributes:
        last_forward_ms: network forward milliseconds of the last ``predict``: P-Net's
            when it returned P-Net's mask (P-Net runs once per image, and a reused mask
            reports the time it took, so timings do not depend on session order),
            R-Net's when it refined.
        last_geodesic_ms: milliseconds of the last call's geodesic transform (0 when
            there were no seeds).
    """

    tools = TOOLS

    def __init__(self, pnet: nn.Module, rnet: nn.Module, modalities: Sequence[str], geodesic: GeodesicSettings,
                 settings: InferenceSettings = InferenceSettings(), name: str = TABLE_NAME) -> None:
        self.pnet = pnet.eval()
        self.rnet = rnet.eval()
        self.modalities = tuple(modalities)
        self.geodesic = geodesic
        self.settings = settings
        self.name = name
        self._channels = geodesic.channels(self.modalities)
        self._proposal: tuple[np.ndarray, np.ndarray, float] | None = None  # (image array, P-Net mask, ms)
        self.last_forward_ms = float("nan")
        self.last_geodesic_ms = float("nan")

    @classmethod
    def from_checkpoint(cls, path: str | Path, settings: InferenceSettings = InferenceSettings()) -> "DeepIGeoS":
        """Load R-Net from ``path`` and P-Net from the file its training record names.

        Raises:
            CheckpointError: unreadable files, a checkpoint that is not DeepIGeoS's
                R-Net, a P-Net file that is missing or not the one R-Net was trained
                with, or networks whose modalities differ.
        """
        path = Path(path)
        rnet_ckpt = load_checkpoint(path)
        if rnet_ckpt.training.get("kind") != RNET_KIND:
            raise CheckpointError(
                f"{path}: not a DeepIGeoS R-Net checkpoint (its kind is {rnet_ckpt.training.get('kind')!r}); "
                "give the file `simedit train deepigeos --out` wrote, not the .pnet.pt beside it"
            )
        pnet_path = path.parent / rnet_ckpt.training["pnet_checkpoint"]
        if not pnet_path.is_file():
            raise CheckpointError(f"{path}: its P-Net {pnet_path} is missing; keep the two files together")
        if file_digest(pnet_path) != rnet_ckpt.training["pnet_sha256"]:
            raise CheckpointError(
                f"{path}: {pnet_path.name} is not the P-Net this R-Net was trained on (SHA-256 differs); "
                "retrain R-Net or restore that P-Net file"
            )
        pnet_ckpt = load_checkpoint(pnet_path)
        if pnet_ckpt.inputs.modalities != rnet_ckpt.inputs.modalities:
            raise CheckpointError(f"{path}: P-Net takes {pnet_ckpt.inputs.modalities} but R-Net "
                                  f"{rnet_ckpt.inputs.modalities}")
        device = settings.device
        geodesic = GeodesicSettings.from_plain(rnet_ckpt.training["geodesic"])
        return cls(build_network(pnet_ckpt).to(device), build_network(rnet_ckpt).to(device),
                   rnet_ckpt.inputs.modalities, geodesic, settings)

    def _image(self, image: CaseImage) -> np.ndarray:
        """float32 [M, X, Y, Z]: the networks' modalities, in their order."""
        try:
            return np.stack([image.channel(m) for m in self.modalities]).astype(np.float32, copy=False)
        except KeyError as err:
            raise ValueError(
                f"{self.name}: {err.args[0]}; the networks were trained on {list(self.modalities)}"
            ) from None

    def proposal(self, image: CaseImage) -> np.ndarray:
        """bool [X, Y, Z]: P-Net's segmentation, computed once per image array."""
        if self._proposal is None or self._proposal[0] is not image.image:
            logits, ms = predict_logits(self.pnet, self._image(image), None, self.settings)
            self._proposal = (image.image, logits > 0, ms)
        return self._proposal[1]

    def predict(self, image: CaseImage, history: EditHistory) -> np.ndarray:
        """bool [X, Y, Z]: P-Net's segmentation, refined by R-Net once there are seeds."""
        self.last_geodesic_ms = 0.0
        proposal = self.proposal(image)
        seeds = seeds_from_history(history, image.shape)
        if seeds.empty:
            self.last_forward_ms = self._proposal[2]
            return proposal.copy()
        modalities = self._image(image)
        t0 = time.perf_counter()
        box = brain_box(modalities, self.settings.margin)
        extra = np.zeros((len(RNET_EXTRA), *image.shape), np.float32)
        extra[0] = proposal
        boxed = Seeds(seeds.foreground[box], seeds.background[box])
        extra[(slice(1, 3), *box)] = geodesic_maps(modalities[(slice(None), *box)], boxed, image.spacing,
                                                   self.geodesic, self._channels, self.settings.device)
        self.last_geodesic_ms = (time.perf_counter() - t0) * 1e3
        logits, self.last_forward_ms = predict_logits(self.rnet, modalities, extra, self.settings)
        return logits > 0


__all__ = ["DeepIGeoS", "GeodesicSettings", "RNET_EXTRA", "TABLE_NAME", "TOOLS", "geodesic_maps",
           "seeds_from_history"]


def trained_cases(path: str | Path) -> set[str]:
    """The cases R-Net and the P-Net beside it learned from (train and validation splits)."""
    rnet = load_checkpoint(path)
    used = {case for ids in rnet.split.values() for case in ids}
    pnet = rnet.training.get("pnet_checkpoint")
    if pnet and (rnet.path.parent / pnet).is_file():
        used |= {case for ids in load_checkpoint(rnet.path.parent / pnet).split.values() for case in ids}
    return used


@method_factory(argument="file", tools=TOOLS, trained_on=trained_cases,
                usage="deepigeos=RNET.pt (from `simedit train deepigeos`; its .pnet.pt beside it)")
def make(context: MethodContext) -> DeepIGeoS:
    """DeepIGeoS without CRF (Wang et al. 2018): P-Net, then R-Net with geodesic maps of the edits."""
    return DeepIGeoS.from_checkpoint(context.arg, InferenceSettings(device=context.device))
