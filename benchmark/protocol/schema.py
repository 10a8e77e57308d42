"""A protocol's data: the checked file (:class:`Protocol`), its experiments and analyses,
and the names of the files and folders a run writes (schema: benchmark.protocol)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmark.effort import EffortModel
from benchmark.results import SESSIONS_FILE, read_sessions

PROTOCOL_FILE = "protocol.json"
EXPERIMENTS_DIR = "experiments"
ANALYSES_DIR = "analyses"
COMPLETED_FILE = "completed.json"  # in ANALYSES_DIR
ANALYSES = ("sweep", "robustness", "panels")
CASE_SELECTIONS = ("all", "held-out")
#: The adjustment values of the seed paper's Fig. 5: -0.5 to 0.5 in steps of 0.1.
DEFAULT_KS = tuple(round(0.1 * i, 1) for i in range(-5, 6))
DEFAULT_ANALYSIS_CASES = 2


@dataclass(frozen=True)
class Experiment:
    """One method with one simulated user on every case of the protocol.

    Attributes:
        id: short slug; the results go to ``OUT/experiments/<id>``.
        label: what figures and tables call it.
        method: the method spec, checkpoint path absolute (``editor=/abs/G.pt``).
        user: the user spec (``multi:target_dice=0.95``; ``none`` never edits).
        mode: "test" or "train" variant of the user.
        rounds: editing rounds after the initial prediction.
        target_dice: stop a session once its Dice reaches this; None: only the budget
            and the user end it.
        time_limit_s: wall-clock limit of one prediction (None: none).
        on_timeout: "keep" (the previous prediction stands) or "empty" (an empty mask,
            the challenge's score for a missing output) for a call past the limit.
        repeats: sessions per case, user seeds 0..repeats-1 (a population of users).
    """

    id: str
    label: str
    method: str
    user: str
    mode: str
    rounds: int
    target_dice: float | None
    time_limit_s: float | None = None
    on_timeout: str = "keep"
    repeats: int = 1

    @property
    def folder(self) -> str:
        """The run folder, relative to the protocol's results folder."""
        return f"{EXPERIMENTS_DIR}/{self.id}"


@dataclass(frozen=True)
class AnalysisSpec:
    """One of the figure analyses (``ANALYSES``) and what it runs on.

    Attributes:
        name: "sweep" (Fig. 5), "robustness" (Fig. 6) or "panels" (Fig. 4).
        methods: method specs, checkpoint paths absolute.
        cases: case ids; empty when ``worst`` picks them.
        k: the adjustment values of the sweep; None for the other analyses.
        worst: (N, experiment id): the cases are the N with the lowest final Dice in that
            experiment's results, chosen when the analysis runs (:meth:`pick`).
    """

    name: str
    methods: tuple[str, ...]
    cases: tuple[str, ...]
    k: tuple[float, ...] | None = None
    worst: tuple[int, str] | None = None

    def settings(self) -> dict[str, Any]:
        """Plain values that decide the analysis' results (with the seed and device)."""
        out: dict[str, Any] = {"methods": list(self.methods), "cases": list(self.cases)}
        if self.worst is not None:
            out["worst"] = {"cases": self.worst[0], "experiment": self.worst[1]}
        if self.k is not None:
            out["k"] = list(self.k)
        return out

    def pick(self, out: Path) -> "AnalysisSpec":
        """The spec with its cases chosen: the ``worst`` ones from the experiment's
        finished sessions in the results folder ``out`` (ties: by case id)."""
        if self.worst is None:
            return self
        n, experiment = self.worst
        folder = Path(out) / EXPERIMENTS_DIR / experiment
        sessions = read_sessions(folder) if (folder / SESSIONS_FILE).exists() else None
        if sessions is None or not (sessions["status"] == "ok").any():
            raise ValueError(f"{self.name}: picks the worst cases of experiment {experiment!r}, which has no finished "
                             f"session in {folder}")
        ok = sessions[sessions["status"] == "ok"].sort_values(["final_dice", "case"])
        return dataclasses.replace(self, cases=tuple(sorted(ok["case"].head(n))))


@dataclass(frozen=True)
class Protocol:
    """A loaded, checked protocol file (see the module docstring for the schema).

    Attributes:
        source: the protocol file, absolute.
        data: the data folder, absolute.
        case_selection: "all", "held-out" or "list", as the file chose them.
        cases: the case ids every experiment runs on, sorted.
        hd95: compute HD95 per round.
        methods: alias -> method spec (file and folder arguments absolute).
        workdir: the folder relative paths resolved against; external programs run there.
        nsd_mm: NSD tolerance in mm computed per round (None: no NSD).
        conventions: "simedit" or "cvpr25" (the challenge's NSD and its report table).
        locality_mm: the locality radius of the edit-quality columns (``far_share``).
        effort: seconds per edit behind ``effort_s`` (:mod:`benchmark.effort`).
        save_masks: write every round's prediction to each experiment's ``masks/``.
        scheduler: the dask.distributed scheduler every experiment's sessions run on
            (``tcp://HOST:PORT`` or ``local:N``, :mod:`benchmark.backends`); None: ``jobs``.
            Not part of the results' identity (protocol.json leaves it out).
    """

    name: str
    title: str
    source: Path
    data: Path
    layout: str | None
    case_selection: str
    cases: tuple[str, ...]
    seed: int
    hd95: bool
    initial: Path | None
    methods: Mapping[str, str]
    experiments: tuple[Experiment, ...]
    analyses: tuple[AnalysisSpec, ...]
    workdir: Path = Path(".")
    nsd_mm: float | None = None
    conventions: str = "simedit"
    locality_mm: float = 10.0
    effort: EffortModel = dataclasses.field(default_factory=EffortModel)
    save_masks: bool = False
    scheduler: str | None = None
