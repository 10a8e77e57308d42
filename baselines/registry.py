"""Method names as the CLI and protocol files spell them, and how to build them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from benchmark.method import Method
from benchmark.names import unknown_name

METHOD_NAMES = ("manual-paint", "base", "editor", "deepigeos")


@dataclass(frozen=True)
class MethodOptions:
    """Settings shared by every method of a run.

    Attributes:
        initial: folder of first segmentations (``<case_id>.nii.gz``) for non-learned
            methods; None: a FLAIR-hyperintensity threshold.
        device: "cpu" or "cuda" for network methods.
    """

    initial: Path | None = None
    device: str = "cpu"


def _did_you_mean(name: str, choices: tuple[str, ...]) -> str:
    return unknown_name("method", name, choices)


def make_method(spec: str, options: MethodOptions = MethodOptions()) -> Method:
    """Build a method from its spec: ``NAME`` or ``NAME=CHECKPOINT`` for networks.

    The networks ``base`` (F) and ``editor`` (G) are named ``base:<checkpoint stem>`` and
    ``editor:<checkpoint stem>`` in result tables, so two checkpoints of one kind differ;
    ``deepigeos=PATH`` is "DeepIGeoS (no CRF)".
    """
    name, _, arg = spec.partition("=")
    if name not in METHOD_NAMES:
        raise ValueError(_did_you_mean(name, METHOD_NAMES))
    if name == "manual-paint":
        from baselines.initial import FlairThreshold, FolderMasks
        from baselines.manual_paint import ManualPaint

        if arg:
            raise ValueError(f"method {name!r} takes no checkpoint (got {spec!r}); use --initial DIR for its first masks")
        initial = FolderMasks(options.initial) if options.initial else FlairThreshold()
        return ManualPaint(initial=initial)
    if name in ("base", "editor"):
        from baselines.inference import InferenceSettings
        from baselines.network_method import NetworkMethod

        if not arg:
            raise ValueError(f"method {name!r} needs its checkpoint: {name}=PATH.pt (from `simedit train {name}`)")
        return NetworkMethod.from_checkpoint(name, arg, InferenceSettings(device=options.device))
    if name == "deepigeos":
        from baselines.deepigeos import DeepIGeoS
        from baselines.inference import InferenceSettings

        if not arg:
            raise ValueError("method 'deepigeos' needs its R-Net checkpoint: deepigeos=PATH.pt (from `simedit train deepigeos`)")
        return DeepIGeoS.from_checkpoint(arg, InferenceSettings(device=options.device))
    raise AssertionError(f"method {name!r} is listed but not built")  # pragma: no cover


def checkpoint_digests(specs: tuple[str, ...] | list[str]) -> dict[str, str]:
    """SHA-256 of the checkpoint file of every ``NAME=PATH`` spec whose file exists, so
    that results of a network retrained in place are not taken for the new one's."""
    from baselines.training_edits import file_digest

    return {spec: file_digest(path) for spec in specs for _, eq, path in [spec.partition("=")]
            if eq and Path(path).is_file()}
