"""The main job on the embedded data: the seed paper's Section 3, end to end, in minutes.

```
OUT/data/             phantoms (``simedit synth``), kept for the next run with the same settings
OUT/checkpoints/      F.pt, G.pt (+ F.predictions/), D.pt + D.pnet.pt: trained on the first
                      ``train_cases`` phantoms; reused when they match the settings
OUT/protocol.json     the shipped protocol (benchmark/protocol/shipped/seed-paper.yaml) run on the
OUT/experiments/      other phantoms (held out: in none of the checkpoints' splits)
OUT/analyses/
OUT/report/           `simedit report OUT`: figures, tables, index.md / index.html
OUT/demo-table.md     the README's demo table, from this run's files (printed at the end)
OUT/<protocol>/       another shipped protocol (``--protocol cvpr25-challenge``): its
                      protocol.json, experiments/, analyses/ and report/, on the same
                      phantoms and checkpoints
```

Every step is resumable: phantoms are written once, a checkpoint that matches its
settings is reused (one that stopped part-way is trained on from where it stopped), the
protocol skips finished sessions and analyses, and the report is rebuilt from the files.
When a network is (re)trained or the shipped protocol has changed, the results and report
made before are removed first (a run would refuse to mix them anyway: it records its
checkpoints' SHA-256 and its protocol).

Presets: ``cpu`` (96x96x64 phantoms, the CPU training presets adjusted as
:meth:`DemoConfig.networks` says, within the 15-minute budget on 2 cores) and ``paper``
(BraTS-size 240x240x155 phantoms and the paper's training settings, for a GPU: hours).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from baselines.networks.checkpoint import Checkpoint, load_checkpoint
from baselines.deepigeos.training import DeepIGeoSConfig, pnet_path, train_deepigeos
from baselines.editing_network.training import TrainConfig, train
from benchmark.demo_table import TABLE_FILE, demo_table
from benchmark.digests import file_digest
from benchmark.fingerprint import code_state
from benchmark.io import CaseRef, discover
from benchmark.protocol import (ANALYSES_DIR, EXPERIMENTS_DIR, PROTOCOL_FILE, ProtocolSummary, load_protocol,
                                protocol_changes, run_protocol, shipped_protocol)
from benchmark.phantoms.synth import synthesize

PRESETS = ("cpu", "paper")
CHECKPOINTS = "checkpoints"
REPORT_DIR = "report"
SYNTH_MARKER = "synth.json"
#: In a protocol's results folder: the SHA-256 of the checkpoints its results were made with.
DEMO_FILE = "demo.json"
DEFAULT_PROTOCOL = "seed-paper"


@dataclass(frozen=True)
class DemoConfig:
    """What the demo makes and where.

    Attributes:
        out: the demo's folder (data, checkpoints, results and report inside).
        preset: "cpu" or "paper" (see the module docstring).
        cases: phantoms in all; the first ``train_cases`` (sorted ids) train the networks,
            the rest are the held-out test set.
        train_cases: phantoms the networks learn from (a fifth of them validate).
        shape: phantom size X, Y, Z; None: the preset's.
        seed: phantoms, training and the simulated users.
        jobs: parallel worker processes for the phantoms and the sessions.
        device: "cpu" or "cuda" for training and inference.
        protocol: the shipped protocol to run (``benchmark/protocol/shipped/<name>.yaml``).
    """

    out: Path = Path("results/demo")
    preset: str = "cpu"
    cases: int = 32
    train_cases: int = 16
    shape: tuple[int, int, int] | None = None
    seed: int = 0
    jobs: int = 2
    device: str = "cpu"
    protocol: str = DEFAULT_PROTOCOL

    def __post_init__(self) -> None:
        if self.preset not in PRESETS:
            raise ValueError(f"preset must be one of {PRESETS}, got {self.preset!r}")
        if not 2 <= self.train_cases < self.cases:
            raise ValueError(f"train_cases must be at least 2 and leave held-out cases: got {self.train_cases} "
                             f"of {self.cases} cases")
        if self.device not in ("cpu", "cuda"):
            raise ValueError(f"device must be 'cpu' or 'cuda', got {self.device!r}")
        shipped_protocol(self.protocol)  # an unknown name fails here, before any work

    @property
    def results(self) -> Path:
        """Where the protocol's results and report go: OUT itself for the seed paper's,
        OUT/<name> for another shipped protocol."""
        return self.out if self.protocol == DEFAULT_PROTOCOL else self.out / self.protocol

    @property
    def phantom_shape(self) -> tuple[int, int, int]:
        if self.shape is not None:
            return tuple(self.shape)  # type: ignore[return-value]
        return (96, 96, 64) if self.preset == "cpu" else (240, 240, 155)

    def networks(self) -> tuple[TrainConfig, TrainConfig, DeepIGeoSConfig]:
        """The training settings of F, G and DeepIGeoS.

        ``cpu``: the CPU presets of F and G (:meth:`TrainConfig.cpu`: about 4.5 and 3.5
        minutes on 2 idle cores) and DeepIGeoS for 8 + 8 epochs on 48^3 patches (about
        2.5 minutes; its CPU preset's 15 + 15 epochs on 64x64x48 patches take 10).
        """
        common = dict(seed=self.seed, device=self.device)
        if self.preset == "paper":
            return (TrainConfig.paper("base", **common), TrainConfig.paper("editor", **common),
                    DeepIGeoSConfig.paper(**common))
        return (TrainConfig.cpu("base", **common), TrainConfig.cpu("editor", **common),
                DeepIGeoSConfig.cpu(pnet_epochs=8, rnet_epochs=8, patch=(48, 48, 48), **common))


@dataclass(frozen=True)
class DemoSummary:
    out: Path
    protocol: ProtocolSummary
    report: Path
    seconds: dict[str, float]
    #: The README's demo table, from this run's files (:mod:`benchmark.demo_table`).
    table: str = ""


def phantoms(config: DemoConfig, echo: Callable[[str], None] = print) -> list[CaseRef]:
    """Synthesise ``OUT/data`` unless it already holds the same phantoms."""
    data = config.out / "data"
    marker = data / SYNTH_MARKER
    settings = {"cases": config.cases, "shape": list(config.phantom_shape), "seed": config.seed, "layout": "brats2018"}
    if marker.exists() and json.loads(marker.read_text()) != settings:
        raise ValueError(f"{data} holds phantoms made with other settings ({marker.read_text().strip()}); delete it "
                         "or choose another --out")
    if marker.exists():
        echo(f"phantoms: reusing {config.cases} cases in {data}")
    else:  # first run, or an interrupted one: (re)write every case
        synthesize(data, config.cases, config.phantom_shape, config.seed, "brats2018", config.jobs, progress=True)
        marker.write_text(json.dumps(settings))
    return discover(data)


def _matches(ckpt: Checkpoint, config: dict[str, Any], cases: list[str], extra: dict[str, Any] | None = None) -> bool:
    """Does a checkpoint come from these settings and cases (its epoch count aside)?"""
    saved = {k: v for k, v in ckpt.training.get("config", {}).items() if k not in ("epochs", "pnet_epochs", "rnet_epochs")}
    wanted = {k: v for k, v in config.items() if k not in ("epochs", "pnet_epochs", "rnet_epochs")}
    split = sorted(ckpt.split["train"]) + sorted(ckpt.split["validation"])
    return (saved == wanted and sorted(split) == sorted(cases)
            and all(ckpt.training.get(k) == v for k, v in (extra or {}).items()))


def _reusable(path: Path, config: dict[str, Any], cases: list[str], epochs: int,
              extra: dict[str, Any] | None = None) -> str:
    """"done", "resume" (same settings, fewer epochs) or "train" (absent or other settings)."""
    if not path.exists():
        return "train"
    try:
        ckpt = load_checkpoint(path)
    except ValueError:
        return "train"
    if not _matches(ckpt, config, cases, extra):
        return "train"
    return "done" if ckpt.epoch >= epochs else "resume"


def networks(config: DemoConfig, refs: list[CaseRef], echo: Callable[[str], None] = print) -> tuple[dict[str, Path], bool]:
    """Train F, G and DeepIGeoS on the first ``train_cases`` phantoms, or reuse them.

    Returns:
        The checkpoint paths, and whether any network was (re)trained.
    """
    folder = config.out / CHECKPOINTS
    folder.mkdir(parents=True, exist_ok=True)
    train_refs = sorted(refs, key=lambda r: r.case_id)[: config.train_cases]
    ids = [r.case_id for r in train_refs]
    f_config, g_config, d_config = config.networks()
    paths = {"F": folder / "F.pt", "G": folder / "G.pt", "D": folder / "D.pt"}

    trained = False
    state = _reusable(paths["F"], f_config.to_plain(), ids, f_config.epochs)
    if state != "done":
        trained = True
        echo(f"training F ({state}): {len(ids)} phantoms, {f_config.epochs} epochs")
        train("base", train_refs, paths["F"], f_config, resume=paths["F"] if state == "resume" else None)
    else:
        echo(f"F: reusing {paths['F']}")

    base = {"base_sha256": file_digest(paths["F"])}
    state = _reusable(paths["G"], g_config.to_plain(), ids, g_config.epochs, base)
    if state != "done":
        trained = True
        echo(f"training G ({state}): edits simulated from F's predictions, {g_config.epochs} epochs")
        train("editor", train_refs, paths["G"], g_config, base_checkpoint=paths["F"],
              resume=paths["G"] if state == "resume" else None)
    else:
        echo(f"G: reusing {paths['G']}")

    pnet = pnet_path(paths["D"])
    states = (_reusable(pnet, d_config.to_plain(), ids, d_config.pnet_epochs),
              _reusable(paths["D"], d_config.to_plain(), ids, d_config.rnet_epochs))
    if states != ("done", "done"):
        trained = True
        resume = "train" not in states
        if not resume:
            for stale in (pnet, paths["D"]):
                stale.unlink(missing_ok=True)
        echo(f"training DeepIGeoS ({'resume' if resume else 'train'}): P-Net {d_config.pnet_epochs} epochs, "
             f"R-Net {d_config.rnet_epochs} epochs")
        train_deepigeos(train_refs, paths["D"], d_config, resume=resume)
    else:
        echo(f"DeepIGeoS: reusing {paths['D']}")
    return paths, trained


def clear_results(out: Path, why: str, echo: Callable[[str], None] = print) -> None:
    """Remove the protocol's results and report from ``out`` (they came from networks
    that were just retrained, or from an older shipped protocol); the phantoms and
    checkpoints stay."""
    for name in (PROTOCOL_FILE, EXPERIMENTS_DIR, ANALYSES_DIR, REPORT_DIR, DEMO_FILE, TABLE_FILE):
        path = out / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
        else:
            continue
        echo(f"removed {path}: {why}")


def _stale(results: Path, digests: dict[str, str]) -> bool:
    """Were the results in ``results`` made with other checkpoints than ``digests``?"""
    marker = results / DEMO_FILE
    return marker.exists() and json.loads(marker.read_text()).get("checkpoints") != digests


def run_demo(config: DemoConfig, echo: Callable[[str], None] = print) -> DemoSummary:
    """Phantoms, networks, the shipped protocol and its report, into ``config.out``
    (the protocol's results into :attr:`DemoConfig.results`)."""
    from benchmark.report.build import build_report

    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    refs = phantoms(config, echo)
    seconds["phantoms"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    paths, trained = networks(config, refs, echo)
    digests = {name: file_digest(path) for name, path in sorted(paths.items())}
    seconds["training"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    results = config.results
    protocol = load_protocol(shipped_protocol(config.protocol), relative_to=config.out)
    changed = protocol_changes(protocol, results, config.device)
    if trained or changed or _stale(results, digests):
        why = f"made with another version of the shipped protocol (differs in: {', '.join(changed)})" if changed \
            else "made with other networks than these"
        clear_results(results, why, echo)
    results.mkdir(parents=True, exist_ok=True)
    (results / DEMO_FILE).write_text(json.dumps({"checkpoints": digests}, indent=2))
    echo(f"protocol {protocol.name}: {len(protocol.experiments)} experiments on {len(protocol.cases)} held-out "
         f"phantoms")
    summary = run_protocol(protocol, results, jobs=config.jobs, device=config.device)
    seconds["protocol"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    report = build_report(results, results / REPORT_DIR)
    seconds["report"] = time.perf_counter() - t0
    table = demo_table(results, results / REPORT_DIR, seconds, code_state())
    (results / TABLE_FILE).write_text(table)
    return DemoSummary(config.out, summary, report, seconds, table)
