"""Protocol files: a paper's experiments and analyses as one YAML file, run by one command.

A protocol names the data, the methods (with their checkpoints), the experiments
(one method x one simulated user each, with the user's mode, the round budget and the
stopping rule), the seed, the metrics and the analyses. :func:`load_protocol` checks
all of it before any work; :func:`run_protocol` (``simedit run PROTOCOL.yaml``) runs it
into a results folder OUT, resuming where an earlier run of the same protocol stopped
and refusing a folder that holds another protocol's results::

    OUT/protocol.json          what was run (see :func:`protocol_record`)
    OUT/experiments/<id>/      one run folder per experiment (benchmark.runner)
    OUT/analyses/              the analyses' files (benchmark.analyses), and
                               completed.json: the analyses finished, with their settings

Schema (relative paths resolve against the protocol file's folder)::

    name: seed-paper-section3      # [A-Za-z0-9._-]+; default results folder results/<name>
    title: "..."                   # optional, default: name
    data: data                     # folder of cases (a benchmark.io layout)
    layout: null                   # optional: a benchmark.io.LAYOUTS name; null: detected
    cases: held-out                # optional, default held-out:
                                   #   all       every case of data
                                   #   held-out  every case in none of the network checkpoints'
                                   #             train/validation splits (all, without networks)
                                   #   [ids]     these cases
    seed: 0                        # optional, default 0: every session's and analysis' stream
    metrics: {hd95: false}         # optional, default {hd95: true}
    initial: null                  # optional: folder of first masks <case_id>.nii.gz for manual-paint
    methods:                       # alias -> method spec (benchmark.specs; `simedit methods` lists them)
      G: editor=checkpoints/G.pt   #   a file or folder argument resolves against the protocol's folder
      paint: manual-paint          #   external programs run there: cvpr25=python predict.py {inputs} {outputs}
      mine: mylab.editing:MyMethod=ckpt.pt   # a plug-in by import path (or its entry-point name)
    experiments:                   # in the order figures and tables show them
      - id: e                      # [a-z0-9_-]+, unique: the folder experiments/<id>
        label: "(e) G, multiple edits"   # optional, default: id; unique
        method: G                  # an alias of methods
        user: "multi:target_dice=0.95"   # a user spec (benchmark.specs; `simedit users`); "none" never edits
        mode: test                 # optional, default test: the user's test or train variant
        rounds: 5                  # editing rounds after the initial prediction (>= 0)
        target_dice: null          # optional: stop a session once its Dice reaches this
    analyses:                      # optional; each at most once
      sweep: {methods: [G], cases: 2, k: [-0.5, 0.0, 0.5]}   # k optional, default DEFAULT_KS
      robustness: {methods: [G], cases: 2}
      panels: {methods: [G], cases: [case ids]}
                                   # cases: the first N of the protocol's cases (sorted), ids
                                   # among them, or {worst: N, experiment: ID}: the N cases
                                   # with the lowest final Dice in that experiment (run
                                   # first), where the tools have most to fix; default 2

Every problem raises ValueError with a message that starts with the protocol file's
path and names the key path, e.g. ``seed.yaml: experiments[3].user: unknown user
'mutli'; did you mean 'multi'? ...``.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import difflib
import json
import math
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from benchmark.io import LAYOUTS, CaseRef, discover
from benchmark.names import unknown_name
from benchmark.registry import MODES, MethodOptions, PluginError, checkpoint_digests, resolve_method, resolve_user, \
    trained_cases
from benchmark.results import SESSIONS_FILE, read_sessions
from benchmark.runner import RunConfig, RunSummary, run
from benchmark.session import SessionConfig

PROTOCOL_FILE = "protocol.json"
EXPERIMENTS_DIR = "experiments"
ANALYSES_DIR = "analyses"
COMPLETED_FILE = "completed.json"  # in ANALYSES_DIR
ANALYSES = ("sweep", "robustness", "panels")
CASE_SELECTIONS = ("all", "held-out")
#: The adjustment values of the seed paper's Fig. 5: -0.5 to 0.5 in steps of 0.1.
DEFAULT_KS = tuple(round(0.1 * i, 1) for i in range(-5, 6))
DEFAULT_ANALYSIS_CASES = 2

_TOP_KEYS = ("name", "title", "data", "layout", "cases", "seed", "metrics", "initial", "methods", "experiments",
             "analyses")
_EXPERIMENT_KEYS = ("id", "label", "method", "user", "mode", "rounds", "target_dice")
_ANALYSIS_KEYS = {"sweep": ("methods", "cases", "k"), "robustness": ("methods", "cases"), "panels": ("methods", "cases")}
_NAME = re.compile(r"[A-Za-z0-9._-]+")
_ID = re.compile(r"[a-z0-9_-]+")
# protocol.json entries that do not change results: a re-run may change them.
_DESCRIPTIVE = ("title", "source", "methods", "started", "resumed")


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
    """

    id: str
    label: str
    method: str
    user: str
    mode: str
    rounds: int
    target_dice: float | None

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


def shipped_protocol(name: str = "seed-paper") -> Path:
    """The path of a protocol file shipped with simedit (``benchmark/protocols/<name>.yaml``).

    Its relative paths (data, checkpoints) are meant to resolve against the folder that
    holds them: pass that folder as ``load_protocol(path, relative_to=...)``.
    """
    folder = resources.files("benchmark") / "protocols"
    shipped = sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))
    if name not in shipped:
        raise ValueError(unknown_name("shipped protocol", name, shipped))
    return Path(str(folder / f"{name}.yaml"))


# ---------------------------------------------------------------- loading and checking


class _Problem(Exception):
    """A problem at a key path; load_protocol prefixes the file's path."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}" if where else message)


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping (plain YAML keeps the last)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, (str, int, float, bool)):
                continue  # an unhashable key: the base class refuses it
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def load_protocol(path: str | Path, relative_to: str | Path | None = None) -> Protocol:
    """Read and check a protocol file; nothing is run.

    Checks the keys (unknown ones get a did-you-mean), types and ranges, method and user
    names (did-you-mean), experiment ids and labels (unique), that the data folder and
    every checkpoint exist, and selects the cases (reading the checkpoints' splits for
    "held-out").

    Args:
        path: the protocol file (.yaml or .yml).
        relative_to: folder that relative paths in the file resolve against (default:
            the file's folder); e.g. a results folder holding data/ and checkpoints/ for
            a shipped protocol.

    Raises:
        ValueError: ``"<path>: <key path>: <what is wrong and what to do>"``.
    """
    path = Path(path)
    if path.suffix not in (".yaml", ".yml"):
        raise ValueError(f"{path}: a protocol file is YAML and ends in .yaml or .yml")
    try:
        with open(path, encoding="utf-8") as f:
            raw = yaml.load(f, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader
    except OSError as error:
        raise ValueError(f"{path}: cannot read the protocol file ({error.strerror or error})") from error
    except yaml.YAMLError as error:
        raise ValueError(f"{path}: {_yaml_message(error)}") from error
    base = Path(relative_to) if relative_to is not None else path.parent
    try:
        return _parse(raw, path.resolve(), base.resolve())
    except _Problem as problem:
        raise ValueError(f"{path}: {problem}") from None


def _yaml_message(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    problem = getattr(error, "problem", None) or str(error)
    return f"YAML syntax error: {where}{problem}; fix the file (a YAML linter shows the spot)"


def _parse(raw: Any, source: Path, base: Path) -> Protocol:
    top = _mapping(raw, "", "the protocol (a mapping of name, data, methods, experiments, ...)")
    _check_keys(top, _TOP_KEYS, ("name", "data", "methods", "experiments"), "")
    name = _string(top["name"], "name")
    if not _NAME.fullmatch(name):
        raise _Problem("name", f"{name!r} may use only letters, digits, '.', '_' and '-' (it names a folder)")
    title = _string(top.get("title", name), "title")
    layout = top.get("layout")
    if layout is not None and layout not in LAYOUTS:
        raise _Problem("layout", unknown_name("layout", layout, LAYOUTS))
    data = _folder(top["data"], base, "data", "the folder of cases")
    try:
        all_cases = [ref.case_id for ref in discover(data, layout)]
    except ValueError as error:
        raise _Problem("data", str(error)) from None
    seed = top.get("seed", 0)
    if not _is_int(seed) or seed < 0:
        raise _Problem("seed", f"expected an integer >= 0, got {seed!r}")
    metrics = _mapping(top.get("metrics", {}), "metrics", "{hd95: true|false}")
    _check_keys(metrics, ("hd95",), (), "metrics")
    hd95 = metrics.get("hd95", True)
    if not isinstance(hd95, bool):
        raise _Problem("metrics.hd95", f"expected true or false, got {hd95!r}")
    initial = top.get("initial")
    if initial is not None:
        initial = _folder(initial, base, "initial", "the folder of first masks <case_id>.nii.gz")
    methods = _methods(top["methods"], base)
    selection, cases = _cases(top.get("cases", "held-out"), all_cases, methods, data)
    experiments = _experiments(top["experiments"], methods)
    analyses = _analyses(top.get("analyses", {}), methods, cases, experiments)
    return Protocol(name, title, source, data, layout, selection, cases, seed, hd95, initial, methods,
                    experiments, analyses, base)


def _check_keys(mapping: Mapping[str, Any], allowed: Sequence[str], required: Sequence[str], where: str) -> None:
    for key in mapping:
        if key not in allowed:
            raise _Problem(_join(where, key), unknown_name("key", key, allowed))
    for key in required:
        if key not in mapping:
            raise _Problem(where, f"missing key {key!r}")


def _join(where: str, key: Any) -> str:
    return f"{where}.{key}" if where else str(key)


def _mapping(value: Any, where: str, expected: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _Problem(where, f"expected {expected}, got {_kind(value)}")
    return value


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Problem(where, f"expected a non-empty string, got {_kind(value)}")
    return value


def _kind(value: Any) -> str:
    return "nothing" if value is None else f"{type(value).__name__} {value!r}"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _path(value: Any, base: Path, where: str) -> Path:
    path = Path(_string(value, where)).expanduser()
    return path if path.is_absolute() else base / path


def _folder(value: Any, base: Path, where: str, what: str) -> Path:
    folder = _path(value, base, where)
    if not folder.is_dir():
        raise _Problem(where, f"{folder} is not a folder; give {what} (relative paths start at {base})")
    return folder


def _methods(value: Any, base: Path) -> dict[str, str]:
    methods = _mapping(value, "methods", "a mapping of alias -> method spec, e.g. {G: editor=checkpoints/G.pt}")
    if not methods:
        raise _Problem("methods", "name at least one method")
    resolved = {}
    for alias, spec in methods.items():
        where = _join("methods", alias)
        if not isinstance(alias, str) or not alias:
            raise _Problem(where, "a method alias must be a string")
        try:
            resolved[alias] = resolve_method(_string(spec, where), base)[0]
        except PluginError as error:
            raise _Problem(where, str(error)) from None
    return resolved


def held_out(case_ids: Sequence[str], specs: Sequence[str]) -> tuple[str, ...]:
    """The cases none of the methods ``specs`` name learned from: each method plug-in's
    ``trained_on`` (for the networks, their checkpoints' train and validation splits;
    for DeepIGeoS, R-Net's and P-Net's)."""
    used = set().union(*(trained_cases(spec) for spec in specs))
    return tuple(sorted(c for c in case_ids if c not in used))


def _cases(value: Any, all_cases: list[str], methods: Mapping[str, str], data: Path) -> tuple[str, tuple[str, ...]]:
    if isinstance(value, str):
        if value not in CASE_SELECTIONS:
            raise _Problem("cases", unknown_name("case selection", value, CASE_SELECTIONS) + ", or a list of case ids")
        if value == "all":
            return value, tuple(sorted(all_cases))
        try:
            cases = held_out(all_cases, list(methods.values()))
        except (OSError, ValueError) as error:
            raise _Problem("cases", f"held-out: reading the checkpoints' splits: {error}") from None
        if not cases:
            raise _Problem("cases", f"held-out leaves no case: all {len(all_cases)} cases of {data} are in a "
                                    "checkpoint's train or validation split; add unseen cases or list case ids")
        return value, cases
    if not isinstance(value, list) or not value:
        raise _Problem("cases", f"expected all, held-out or a non-empty list of case ids, got {_kind(value)}")
    return "list", _case_list(value, all_cases, "cases", f"in {data}")


def _case_list(value: list[Any], valid: Sequence[str], where: str, context: str) -> tuple[str, ...]:
    for i, case in enumerate(value):
        if case not in valid:  # also catches non-strings
            close = difflib.get_close_matches(str(case), list(valid), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise _Problem(f"{where}[{i}]", f"no case {case!r} {context}{hint}")
        if case in value[:i]:
            raise _Problem(f"{where}[{i}]", f"case {case!r} is listed twice")
    return tuple(sorted(value))


def _experiments(value: Any, methods: Mapping[str, str]) -> tuple[Experiment, ...]:
    if not isinstance(value, list) or not value:
        raise _Problem("experiments", f"expected a non-empty list of experiments, got {_kind(value)}")
    experiments: list[Experiment] = []
    for i, entry in enumerate(value):
        where = f"experiments[{i}]"
        entry = _mapping(entry, where, "a mapping with id, method, user, rounds")
        _check_keys(entry, _EXPERIMENT_KEYS, ("id", "method", "user", "rounds"), where)
        experiment = _experiment(entry, where, methods)
        for j, other in enumerate(experiments):
            for key in ("id", "label"):
                if getattr(other, key) == getattr(experiment, key):
                    raise _Problem(f"{where}.{key}", f"{getattr(experiment, key)!r} is also experiments[{j}]'s "
                                                     f"{key}; every experiment needs its own")
        experiments.append(experiment)
    return tuple(experiments)


def _experiment(entry: Mapping[str, Any], where: str, methods: Mapping[str, str]) -> Experiment:
    id_ = entry["id"]
    if not isinstance(id_, str) or not _ID.fullmatch(id_):
        raise _Problem(f"{where}.id", f"{id_!r} must be a short slug of a-z, 0-9, '_' and '-' (it names a folder)")
    label = _string(entry.get("label", id_), f"{where}.label")
    alias = entry["method"]
    if not isinstance(alias, str) or alias not in methods:
        raise _Problem(f"{where}.method", unknown_name("method alias", alias, methods) + " (the keys of methods)")
    mode = entry.get("mode", "test")
    if mode not in MODES:
        raise _Problem(f"{where}.mode", unknown_name("mode", mode, MODES))
    user = _string(entry["user"], f"{where}.user")
    try:
        resolve_user(user, mode)
    except ValueError as error:
        raise _Problem(f"{where}.user", str(error)) from None
    rounds = entry["rounds"]
    if not _is_int(rounds) or rounds < 0:
        raise _Problem(f"{where}.rounds", f"expected an integer >= 0 (editing rounds after the first prediction), "
                                          f"got {_kind(rounds)}")
    target = entry.get("target_dice")
    if target is not None:
        if not _is_number(target) or not 0.0 < target <= 1.0:
            raise _Problem(f"{where}.target_dice", f"expected a Dice in (0, 1] or null, got {_kind(target)}")
        target = float(target)
    return Experiment(id_, label, methods[alias], user, mode, rounds, target)


def _analyses(value: Any, methods: Mapping[str, str], cases: tuple[str, ...],
              experiments: Sequence[Experiment]) -> tuple[AnalysisSpec, ...]:
    analyses = _mapping(value, "analyses", f"a mapping of analysis name ({', '.join(ANALYSES)}) -> settings")
    specs = []
    for name, settings in analyses.items():
        where = _join("analyses", name)
        if name not in ANALYSES:
            raise _Problem(where, unknown_name("analysis", name, ANALYSES))
        settings = _mapping(settings, where, "a mapping with methods (and cases)")
        _check_keys(settings, _ANALYSIS_KEYS[name], ("methods",), where)
        aliases = settings["methods"]
        if not isinstance(aliases, list) or not aliases:
            raise _Problem(f"{where}.methods", f"expected a non-empty list of method aliases, got {_kind(aliases)}")
        for i, alias in enumerate(aliases):
            if not isinstance(alias, str) or alias not in methods:
                raise _Problem(f"{where}.methods[{i}]", unknown_name("method alias", alias, methods))
        chosen, worst = _analysis_cases(settings.get("cases", DEFAULT_ANALYSIS_CASES), cases, experiments,
                                        f"{where}.cases")
        k = None
        if name == "sweep":
            k = settings.get("k", list(DEFAULT_KS))
            if not isinstance(k, list) or not k or not all(_is_number(v) for v in k):
                raise _Problem(f"{where}.k", f"expected a non-empty list of numbers, got {_kind(k)}")
            k = tuple(float(v) for v in k)
        specs.append(AnalysisSpec(name, tuple(dict.fromkeys(methods[a] for a in aliases)), chosen, k, worst))
    return tuple(specs)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _analysis_cases(value: Any, cases: tuple[str, ...], experiments: Sequence[Experiment],
                    where: str) -> tuple[tuple[str, ...], tuple[int, str] | None]:
    if isinstance(value, Mapping):
        _check_keys(value, ("worst", "experiment"), ("worst", "experiment"), where)
        n, experiment = value["worst"], value["experiment"]
        if not _is_int(n) or not 1 <= n <= len(cases):
            raise _Problem(f"{where}.worst", f"expected a number of cases from 1 to {len(cases)}, got {n!r}")
        ids = [e.id for e in experiments]
        if experiment not in ids:
            raise _Problem(f"{where}.experiment", unknown_name("experiment id", experiment, ids))
        return (), (n, experiment)
    if _is_int(value):
        if not 1 <= value <= len(cases):
            raise _Problem(where, f"asks for {value} case(s); the protocol has {len(cases)}: give 1 to {len(cases)}")
        return cases[:value], None
    if not isinstance(value, list) or not value:
        raise _Problem(where, "expected a number of cases, a list of case ids or {worst: N, experiment: ID}, got "
                              f"{_kind(value)}")
    return _case_list(value, cases, where, "among the protocol's cases"), None


# ---------------------------------------------------------------- running


@dataclass(frozen=True)
class ExperimentOutcome:
    """How one experiment went: the runner's summary, or why it could not run."""

    experiment: Experiment
    folder: Path
    run: RunSummary | None
    error: str = ""


@dataclass(frozen=True)
class AnalysisOutcome:
    """How one analysis went.

    Attributes:
        status: "done" (run now), "skipped" (complete from an earlier run with the same
            settings) or "failed" (see error).
        path: what its run function returned (its main file); None when it raised.
    """

    name: str
    status: str
    path: Path | None
    error: str = ""


@dataclass(frozen=True)
class ProtocolSummary:
    """What :func:`run_protocol` did, experiment by experiment and analysis by analysis."""

    out: Path
    experiments: tuple[ExperimentOutcome, ...]
    analyses: tuple[AnalysisOutcome, ...]

    @property
    def errors(self) -> tuple[str, ...]:
        """One line per failed experiment, session and analysis."""
        lines = []
        for outcome in self.experiments:
            if outcome.error:
                lines.append(f"experiment {outcome.experiment.id}: {outcome.error}")
            elif outcome.run is not None:
                lines.extend(f"experiment {outcome.experiment.id}: {e}" for e in outcome.run.errors)
        lines.extend(f"analysis {a.name}: {a.error}" for a in self.analyses if a.status == "failed")
        return tuple(lines)


def protocol_record(protocol: Protocol, device: str = "cpu") -> dict[str, Any]:
    """The content of ``OUT/protocol.json``: the experiments as the report reads them
    (id, label, folder, method, user, mode, rounds, target_dice, in order), the analyses'
    names, and every setting that decides the results."""
    return {
        "name": protocol.name,
        "title": protocol.title,
        "source": str(protocol.source),
        "data": str(protocol.data),
        "layout": protocol.layout,
        "case_selection": protocol.case_selection,
        "cases": list(protocol.cases),
        "seed": protocol.seed,
        "hd95": protocol.hd95,
        "initial": str(protocol.initial) if protocol.initial else None,
        "device": device,
        "methods": dict(protocol.methods),
        "experiments": [
            {"id": e.id, "label": e.label, "folder": e.folder, "method": e.method, "user": e.user,
             "mode": e.mode, "rounds": e.rounds, "target_dice": e.target_dice}
            for e in protocol.experiments
        ],
        "analyses": [a.name for a in protocol.analyses],
        "analysis_settings": {a.name: a.settings() for a in protocol.analyses},
    }


def _results_part(record: Mapping[str, Any]) -> dict[str, Any]:
    """The entries of a protocol record that decide results (labels and titles do not)."""
    part = {k: v for k, v in record.items() if k not in _DESCRIPTIVE}
    part["experiments"] = [{k: v for k, v in e.items() if k != "label"} for e in record.get("experiments", [])]
    return part


def protocol_changes(protocol: Protocol, out: Path, device: str = "cpu") -> list[str]:
    """The settings that decide results in which ``out``'s protocol.json differs from
    ``protocol`` (sorted keys); empty when they agree or ``out`` holds no protocol yet."""
    path = Path(out) / PROTOCOL_FILE
    if not path.exists():
        return []
    before, after = _results_part(json.loads(path.read_text())), _results_part(protocol_record(protocol, device))
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


def write_protocol_record(protocol: Protocol, out: Path, device: str = "cpu") -> Path:
    """Write ``OUT/protocol.json``, refusing a folder that holds a different protocol's results.

    A re-run of the same protocol (labels, title and aliases may change) keeps the first
    start time and appends the time to ``resumed``.

    Raises:
        ValueError: the folder's protocol.json differs in something that decides results.
    """
    path = Path(out) / PROTOCOL_FILE
    now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    record = protocol_record(protocol, device)
    differ = protocol_changes(protocol, out, device)
    if differ:
        raise ValueError(
            f"{path}: this folder holds the results of a different protocol (differs in: {', '.join(differ)}); "
            "write to another --out folder or delete this one"
        )
    if path.exists():
        old = json.loads(path.read_text())
        record.update(started=old.get("started", now), resumed=[*old.get("resumed", []), now])
    else:
        record["started"] = now
    _write_json(path, record)
    return path


def _write_json(path: Path, content: Any) -> None:
    """Write atomically (a temporary file beside it, then renamed): a killed run leaves no half file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(content, indent=2))
    os.replace(tmp, path)


def run_config(protocol: Protocol, experiment: Experiment, out: Path, jobs: int = 1, device: str = "cpu",
               threads: int | None = None) -> RunConfig:
    """The runner's configuration of one experiment, writing to ``OUT/experiments/<id>``."""
    return RunConfig(
        data=protocol.data, out=Path(out) / experiment.folder, methods=(experiment.method,), users=(experiment.user,),
        user_mode=experiment.mode,
        session=SessionConfig(max_rounds=experiment.rounds, target_dice=experiment.target_dice, hd95=protocol.hd95),
        seed=protocol.seed, jobs=jobs, layout=protocol.layout,
        method_options=MethodOptions(initial=protocol.initial, device=device, threads=threads,
                                     workdir=protocol.workdir),
        cases=protocol.cases,
    )


def run_protocol(protocol: Protocol, out: Path, jobs: int = 1, device: str = "cpu",
                 progress: bool = True, threads: int | None = None) -> ProtocolSummary:
    """Run every experiment, then every analysis, of ``protocol`` into ``out``.

    Resumable: each experiment's runner skips the sessions finished in its folder, and
    an analysis recorded in ``OUT/analyses/completed.json`` with the same settings (and
    its file still there) is skipped. An experiment or analysis that fails is recorded
    in the summary and the others go on.

    Args:
        protocol: from :func:`load_protocol`.
        out: the results folder (created if missing).
        jobs: parallel worker processes for the sessions.
        device: "cpu" or "cuda" for network methods.
        progress: show progress bars and a line per step on stderr.
        threads: CPU threads each method may use (None: its library's default).

    Raises:
        ValueError: ``out`` holds the results of a different protocol; jobs < 1; CUDA
            asked for where torch sees none (before any work, rather than every network
            experiment failing on its own).
    """
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise ValueError("--device cuda asked for, but torch sees no CUDA GPU; use --device cpu")
    out = Path(out)
    write_protocol_record(protocol, out, device)
    say = _say if progress else (lambda _: None)
    experiments = []
    for i, experiment in enumerate(protocol.experiments, start=1):
        say(f"experiment {i}/{len(protocol.experiments)}: {experiment.label}")
        config = run_config(protocol, experiment, out, jobs, device, threads)
        try:
            outcome = ExperimentOutcome(experiment, config.out, run(config, progress=progress))
        except Exception as error:  # noqa: BLE001 - one broken experiment must not stop the others
            outcome = ExperimentOutcome(experiment, config.out, None, _message(error))
        experiments.append(outcome)
    analyses = []
    options = MethodOptions(initial=protocol.initial, device=device, threads=threads, workdir=protocol.workdir)
    for spec in protocol.analyses:
        say(f"analysis: {spec.name}")
        analyses.append(_analysis(protocol, spec, options, out, progress))
    return ProtocolSummary(out, tuple(experiments), tuple(analyses))


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _message(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}".replace("\n", " ")


def _analysis(protocol: Protocol, spec: AnalysisSpec, options: MethodOptions, out: Path,
              progress: bool) -> AnalysisOutcome:
    folder = out / ANALYSES_DIR
    record = folder / COMPLETED_FILE
    completed = json.loads(record.read_text()) if record.exists() else {}
    try:
        spec = spec.pick(out)
    except ValueError as error:
        return AnalysisOutcome(spec.name, "failed", None, str(error))
    settings = {**spec.settings(), "seed": protocol.seed, "device": options.device,
                "checkpoints": checkpoint_digests(spec.methods)}
    done = completed.get(spec.name)
    if done and done["settings"] == settings and (out / done["path"]).exists():
        return AnalysisOutcome(spec.name, "skipped", out / done["path"])
    try:
        refs = discover(protocol.data, protocol.layout, spec.cases)
        path, failures = _run_analysis(spec, refs, options, folder, protocol.seed, progress)
    except Exception as error:  # noqa: BLE001 - a failing analysis is reported and the rest completes
        return AnalysisOutcome(spec.name, "failed", None, _message(error))
    if failures:  # not recorded as complete: a re-run tries again
        more = f" (and {len(failures) - 3} more)" if len(failures) > 3 else ""
        return AnalysisOutcome(spec.name, "failed", path, f"{len(failures)} part(s) failed: "
                                                          f"{'; '.join(failures[:3])}{more}")
    where = path.resolve()
    stored = where.relative_to(out.resolve()) if where.is_relative_to(out.resolve()) else where
    now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    completed[spec.name] = {"settings": settings, "path": str(stored), "finished": now}
    _write_json(record, completed)
    return AnalysisOutcome(spec.name, "done", path)


def _run_analysis(spec: AnalysisSpec, refs: list[CaseRef], options: MethodOptions, folder: Path, seed: int,
                  progress: bool) -> tuple[Path, list[str]]:
    """Call the analysis' run function (benchmark.analyses), which records a case x method
    that fails in its status table and goes on; returns the path it gives and one line
    per failed part."""
    from benchmark.analyses import panels, robustness, sweep

    if spec.name == "sweep":
        path = sweep.run_sweep(refs, spec.methods, options, spec.k, folder, progress=progress)
        data = sweep.read_sweep(folder)
    elif spec.name == "robustness":
        path = robustness.run_robustness(refs, spec.methods, options, folder, seed=seed, progress=progress)
        data = robustness.read_robustness(folder)
    else:
        path = panels.run_panels(refs, spec.methods, options, folder, seed=seed, progress=progress)
        data = panels.read_panels(folder)
    failed = data.status[data.status["status"] == "failed"]
    lines = [f"{row.case} / {row.method}{' / ' + row.item if row.item else ''}: {row.reason}"
             for row in failed.itertuples()]
    return Path(path), lines
