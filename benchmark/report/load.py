"""What a results folder holds, as experiments, and its tables with an ``experiment`` column.

Two kinds of folder are understood:

- a *protocol folder* (written by ``simedit run PROTOCOL.yaml``): ``protocol.json`` lists
  the experiments in order, each an ordinary run folder under ``experiments/<id>/``;
- a *plain run folder* (written by ``simedit run --data ...``): ``rounds.csv`` at the top;
  there each (method, user) pair is one experiment, labelled ``"<method> / <user>"``, in
  the order the run made them.

An experiment listed in ``protocol.json`` whose folder is missing or holds no finished
session is kept in :attr:`Results.experiments` with a ``problem`` saying so, and left out
of the tables, so the other experiments still report.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from benchmark.results import ROUNDS_FILE, RUN_FILE, SESSIONS_FILE, read_rounds, read_sessions

PROTOCOL_FILE = "protocol.json"
ANALYSES_DIR = "analyses"


@dataclass(frozen=True)
class Experiment:
    """One experiment of a results folder.

    Attributes:
        id: short slug ([a-z0-9_-]+), for ``--reference`` and file names.
        label: what figures and tables show.
        folder: its run folder (rounds.csv, sessions.csv, run.json).
        method, user: the method spec/name and user it ran ("" when not known).
        problem: why it has nothing to report (folder missing, no finished session),
            "" when it has.
    """

    id: str
    label: str
    folder: Path
    method: str = ""
    user: str = ""
    problem: str = ""


@dataclass(frozen=True)
class Results:
    """A results folder: its title and its experiments in order.

    Attributes:
        folder: the folder given.
        title: the protocol's title (or its name; the folder name for a plain run).
        source: the protocol file it was run from ("" for a plain run).
        experiments: every experiment, in protocol order, missing ones included.
        protocol: True for a protocol folder, False for a plain run folder.
    """

    folder: Path
    title: str
    source: str
    experiments: tuple[Experiment, ...]
    protocol: bool

    @property
    def present(self) -> tuple[Experiment, ...]:
        """The experiments that have results, in order."""
        return tuple(e for e in self.experiments if not e.problem)

    @property
    def analyses(self) -> Path:
        """Where the analyses (Figs. 4-6) are written: ``OUT/analyses``."""
        return self.folder / ANALYSES_DIR

    def find(self, name: str) -> Experiment:
        """The experiment whose label or id is ``name``.

        Raises:
            ValueError: no experiment has that label or id (the message lists them).
        """
        from benchmark.names import unknown_name

        for e in self.experiments:
            if name in (e.label, e.id):
                return e
        raise ValueError(unknown_name("experiment", name, [e.label for e in self.experiments]))


def describe(folder: Path | str) -> Results:
    """The experiments of a protocol folder or a plain run folder.

    Raises:
        ValueError: ``folder`` holds neither ``protocol.json`` nor ``rounds.csv``, or
            ``protocol.json`` is malformed.
    """
    folder = Path(folder)
    if (folder / PROTOCOL_FILE).is_file():
        return _describe_protocol(folder)
    if (folder / ROUNDS_FILE).is_file():
        return _describe_run(folder)
    raise ValueError(
        f"{folder}: neither {PROTOCOL_FILE} (a protocol folder from `simedit run PROTOCOL.yaml`) "
        f"nor {ROUNDS_FILE} (a run folder from `simedit run --data ...`) is there; give the folder "
        "that a run wrote"
    )


def load_rounds(folder: Path | str) -> pd.DataFrame:
    """Every experiment's ``rounds.csv`` in one tidy frame with an ``experiment`` column.

    Returns:
        The columns of ``benchmark.results.ROUND_COLUMNS`` plus ``experiment``, a pandas
        Categorical of the labels of the experiments with results, in protocol order.

    Raises:
        ValueError: the folder is not a results folder, or no experiment has results.
    """
    results = describe(folder)
    if not results.present:
        problems = "; ".join(f"{e.label}: {e.problem}" for e in results.experiments) or "no experiment listed"
        raise ValueError(f"{results.folder}: nothing to report ({problems}); run the experiments first")
    return _tagged(results, results.present, read_rounds)


def load_sessions(folder: Path | str) -> pd.DataFrame:
    """Every experiment's ``sessions.csv`` in one frame with an ``experiment`` column.

    Failed sessions are kept (``status`` "failed", with ``error``), also those of an
    experiment that has no finished session; ``experiment`` is a Categorical of every
    experiment's label in protocol order.
    """
    results = describe(folder)
    return _tagged(results, results.experiments, read_sessions)


def read_run_info(experiment: Experiment) -> dict[str, Any]:
    """The experiment's ``run.json`` (config, seed, versions, git commit); {} when absent."""
    path = experiment.folder / RUN_FILE
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON ({e}); it should be the run.json a run wrote") from e


def _tagged(results: Results, experiments: tuple[Experiment, ...], read) -> pd.DataFrame:
    labels = [e.label for e in experiments]
    if results.protocol:
        parts = [read(e.folder).assign(experiment=e.label) for e in experiments]
        frame = pd.concat(parts, ignore_index=True) if parts else read(results.folder).assign(experiment="")
    else:  # one run folder holds every (method, user) pair
        frame = read(results.folder)
        label = {(e.method, e.user): e.label for e in experiments}
        frame = frame.assign(experiment=[label.get(k, "") for k in zip(frame["method"], frame["user"])])
    frame["experiment"] = pd.Categorical(frame["experiment"], categories=labels, ordered=True)
    return with_user_units(frame.dropna(subset=["experiment"]).reset_index(drop=True))


def with_user_units(frame: pd.DataFrame) -> pd.DataFrame:
    """The report's unit of analysis is a case for one simulated person: rows of user
    seed s > 0 (repeats of a population) get ``case`` "<case> (user s)", so every table,
    curve and paired comparison treats them as units of their own and pairs experiments
    by case and user seed; ``case_id`` keeps the case itself. Seed 0 (every run without
    repeats) keeps its case id, so reports of such runs are as before."""
    frame = frame.copy()
    seeds = pd.to_numeric(frame.get("user_seed", pd.Series(0, index=frame.index)), errors="coerce").fillna(0)
    frame["user_seed"] = seeds.astype(int)
    frame["case_id"] = frame["case"]
    repeat = frame["user_seed"] > 0
    frame.loc[repeat, "case"] = frame.loc[repeat, "case"] + " (user " + frame.loc[repeat, "user_seed"].astype(str) + ")"
    return frame


def _describe_protocol(folder: Path) -> Results:
    path = folder / PROTOCOL_FILE
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
        entries = spec["experiments"]
        experiments = tuple(_protocol_experiment(folder, entry) for entry in entries)
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise ValueError(f"{path}: not a protocol record ({type(e).__name__}: {e}); it should be the "
                         "protocol.json that `simedit run PROTOCOL.yaml` wrote") from e
    labels = [e.label for e in experiments]
    if len(set(labels)) < len(labels):
        raise ValueError(f"{path}: two experiments share a label: {labels}")
    title = spec.get("title") or spec.get("name") or folder.name
    return Results(folder, str(title), str(spec.get("source", "")), experiments, protocol=True)


def _protocol_experiment(folder: Path, entry: dict[str, Any]) -> Experiment:
    run = folder / entry["folder"]
    if not run.is_dir():
        problem = f"its folder {run} is missing"
    elif not (run / ROUNDS_FILE).is_file() or read_rounds(run).empty:
        problem = f"no finished session in {run}"
    else:
        problem = ""
    return Experiment(id=str(entry["id"]), label=str(entry["label"]), folder=run, method=str(entry.get("method", "")),
                      user=str(entry.get("user", "")), problem=problem)


def _describe_run(folder: Path) -> Results:
    # sessions.csv lists each case's sessions together in the run's method x user order
    order = read_sessions(folder) if (folder / SESSIONS_FILE).is_file() else read_rounds(folder)
    pairs = list(dict.fromkeys(zip(order["method"], order["user"])))
    rounds = read_rounds(folder)
    finished = set(zip(rounds["method"], rounds["user"]))
    experiments = tuple(
        Experiment(id=_slug(f"{m}-{u}"), label=f"{m} / {u}", folder=folder, method=m, user=u,
                   problem="" if (m, u) in finished else "no finished session")
        for m, u in pairs)
    return Results(folder, folder.name, "", experiments, protocol=False)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9_-]+", "-", text.lower()).strip("-")
