"""Loading and checking a protocol file: :func:`load_protocol` (schema: benchmark.protocol)
and the protocols shipped with simedit. Single values are checked in
:mod:`~benchmark.protocol.values`, the case selections in :mod:`~benchmark.protocol.cases`
(:func:`~benchmark.protocol.cases.held_out`)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from benchmark.backends import FORMS, parse_scheduler
from benchmark.effort import EffortModel
from benchmark.io import LAYOUTS, discover
from benchmark.names import unknown_name
from benchmark.realism.knobs import with_knobs
from benchmark.protocol.cases import analysis_cases, select_cases
from benchmark.protocol.schema import ANALYSES, DEFAULT_ANALYSIS_CASES, DEFAULT_KS, AnalysisSpec, Experiment, Protocol
from benchmark.protocol.values import (Problem, check_keys, is_int, is_number, key_path, kind, need_folder,
                                       need_mapping, need_repeats, need_string, show)
from benchmark.registry.methods import resolve_method
from benchmark.registry.plugins import PluginError
from benchmark.registry.users import MODES, check_user
from benchmark.session import CONVENTIONS, ON_TIMEOUT

_TOP_KEYS = ("name", "title", "data", "layout", "cases", "seed", "metrics", "initial", "time_limit_s", "on_timeout",
             "effort", "save_masks", "realism", "repeats", "scheduler", "methods", "experiments", "analyses")
_EXPERIMENT_KEYS = ("id", "label", "method", "user", "mode", "rounds", "target_dice", "time_limit_s", "on_timeout",
                    "realism", "repeats")
_METRIC_KEYS = ("hd95", "nsd", "conventions", "locality_mm")
_ANALYSIS_KEYS = {"sweep": ("methods", "cases", "k"), "robustness": ("methods", "cases"), "panels": ("methods", "cases")}
MAX_PROTOCOL_BYTES = 1_000_000
_NAME = re.compile(r"[A-Za-z0-9._-]+")
_ID = re.compile(r"[a-z0-9_-]+")


def shipped_protocol(name: str = "seed-paper") -> Path:
    """The path of a protocol file shipped with simedit (``benchmark/protocol/shipped/<name>.yaml``).

    Its relative paths (data, checkpoints) are meant to resolve against the folder that
    holds them: pass that folder as ``load_protocol(path, relative_to=...)``.
    """
    folder = resources.files("benchmark") / "protocol" / "shipped"
    shipped = sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))
    if name not in shipped:
        raise ValueError(unknown_name("shipped protocol", name, shipped))
    return Path(str(folder / f"{name}.yaml"))


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
        size = path.stat().st_size
        if size > MAX_PROTOCOL_BYTES:  # a protocol is a page of YAML: refuse what is surely not one, unparsed
            raise ValueError(f"{path}: {size / 1e6:.1f} MB is too big for a protocol file (at most "
                             f"{MAX_PROTOCOL_BYTES / 1e6:.0f} MB); is this the right file?")
        with open(path, encoding="utf-8") as f:
            raw = yaml.load(f, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader
    except OSError as error:
        raise ValueError(f"{path}: cannot read the protocol file ({error.strerror or error})") from error
    except yaml.YAMLError as error:
        raise ValueError(f"{path}: {_yaml_message(error)}") from error
    base = Path(relative_to) if relative_to is not None else path.parent
    try:
        return _parse(raw, path.resolve(), base.resolve())
    except Problem as problem:
        raise ValueError(f"{path}: {problem}") from None


def _yaml_message(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    problem = getattr(error, "problem", None) or str(error)
    return f"YAML syntax error: {where}{problem}; fix the file (a YAML linter shows the spot)"


def _parse(raw: Any, source: Path, base: Path) -> Protocol:
    top = need_mapping(raw, "", "the protocol (a mapping of name, data, methods, experiments, ...)")
    check_keys(top, _TOP_KEYS, ("name", "data", "methods", "experiments"), "")
    name = need_string(top["name"], "name")
    if not _NAME.fullmatch(name):
        raise Problem("name", f"{name!r} may use only letters, digits, '.', '_' and '-' (it names a folder)")
    title = need_string(top.get("title", name), "title")
    layout = top.get("layout")
    if layout is not None and layout not in LAYOUTS:
        raise Problem("layout", unknown_name("layout", layout, LAYOUTS))
    data = need_folder(top["data"], base, "data", "the folder of cases")
    try:
        all_cases = [ref.case_id for ref in discover(data, layout)]
    except ValueError as error:
        raise Problem("data", str(error)) from None
    seed = top.get("seed", 0)
    if not is_int(seed) or seed < 0:
        raise Problem("seed", f"expected an integer >= 0, got {show(seed)}")
    metrics = need_mapping(top.get("metrics", {}), "metrics",
                           "{hd95: true|false, nsd: MM, conventions: simedit|cvpr25}")
    check_keys(metrics, _METRIC_KEYS, (), "metrics")
    hd95 = metrics.get("hd95", True)
    if not isinstance(hd95, bool):
        raise Problem("metrics.hd95", f"expected true or false, got {show(hd95)}")
    nsd = metrics.get("nsd")
    if nsd is not None and not (is_number(nsd) and nsd >= 0):
        raise Problem("metrics.nsd", f"expected the NSD tolerance in mm (e.g. 2.0) or null, got {kind(nsd)}")
    conventions = metrics.get("conventions", "simedit")
    if conventions not in CONVENTIONS:
        raise Problem("metrics.conventions", unknown_name("conventions", conventions, CONVENTIONS))
    locality = metrics.get("locality_mm", 10.0)
    if not (is_number(locality) and math.isfinite(locality) and locality >= 0):
        raise Problem("metrics.locality_mm", f"expected the locality radius in mm (e.g. 10), got {kind(locality)}")
    effort = need_mapping(top.get("effort", {}), "effort", "{click_s: 2.4, slice_s: 2.0, ...} (seconds per edit)")
    try:
        effort_model = EffortModel.from_mapping(dict(effort))
    except ValueError as error:
        raise Problem("effort", str(error).removeprefix("effort: ")) from None
    save_masks = top.get("save_masks", False)
    if not isinstance(save_masks, bool):
        raise Problem("save_masks", f"expected true or false, got {show(save_masks)}")
    scheduler = top.get("scheduler")
    if scheduler is not None:
        try:
            parse_scheduler(scheduler)
        except ValueError:
            raise Problem("scheduler", f"expected {FORMS['tcp']}, {FORMS['local']} or null, "
                                       f"got {kind(scheduler)}") from None
    limits = _time_limit(top, "", None, "keep")
    initial = top.get("initial")
    if initial is not None:
        initial = need_folder(initial, base, "initial", "the folder of first masks <case_id>.nii.gz")
    methods = _methods(top["methods"], base)
    selection, cases = select_cases(top.get("cases", "held-out"), all_cases, methods, data)
    realism = need_mapping(top.get("realism", {}), "realism",
                           "{jitter_mm: 2, slip: 0.1, ...} (benchmark.realism knobs)")
    repeats = need_repeats(top.get("repeats", 1), "repeats")
    experiments = _experiments(top["experiments"], methods, limits, realism, repeats)
    analyses = _analyses(top.get("analyses", {}), methods, cases, experiments)
    return Protocol(name, title, source, data, layout, selection, cases, seed, hd95, initial, methods,
                    experiments, analyses, base, None if nsd is None else float(nsd), conventions, float(locality),
                    effort_model, save_masks, scheduler)


def _time_limit(entry: Mapping[str, Any], where: str, limit: float | None, on_timeout: str) -> tuple[float | None, str]:
    """``(time_limit_s, on_timeout)`` of ``entry``, each defaulting to the given one."""
    limit = entry.get("time_limit_s", limit)
    if limit is not None and not (is_number(limit) and limit > 0):
        raise Problem(key_path(where, "time_limit_s"),
                      f"expected seconds per prediction (> 0) or null, got {kind(limit)}")
    on_timeout = entry.get("on_timeout", on_timeout)
    if on_timeout not in ON_TIMEOUT:
        raise Problem(key_path(where, "on_timeout"), unknown_name("on_timeout", on_timeout, ON_TIMEOUT))
    return None if limit is None else float(limit), on_timeout


def _methods(value: Any, base: Path) -> dict[str, str]:
    methods = need_mapping(value, "methods", "a mapping of alias -> method spec, e.g. {G: editor=checkpoints/G.pt}")
    if not methods:
        raise Problem("methods", "name at least one method")
    resolved = {}
    for alias, spec in methods.items():
        where = key_path("methods", alias)
        if not isinstance(alias, str) or not alias:
            raise Problem(where, "a method alias must be a string")
        try:
            resolved[alias] = resolve_method(need_string(spec, where), base)[0]
        except PluginError as error:
            raise Problem(where, str(error)) from None
    return resolved


def _experiments(value: Any, methods: Mapping[str, str], limits: tuple[float | None, str],
                 realism: Mapping[str, Any], repeats: int) -> tuple[Experiment, ...]:
    if not isinstance(value, list) or not value:
        raise Problem("experiments", f"expected a non-empty list of experiments, got {kind(value)}")
    experiments: list[Experiment] = []
    for i, entry in enumerate(value):
        where = f"experiments[{i}]"
        entry = need_mapping(entry, where, "a mapping with id, method, user, rounds")
        check_keys(entry, _EXPERIMENT_KEYS, ("id", "method", "user", "rounds"), where)
        experiment = _experiment(entry, where, methods, limits, realism, repeats)
        for j, other in enumerate(experiments):
            for key in ("id", "label"):
                if getattr(other, key) == getattr(experiment, key):
                    raise Problem(f"{where}.{key}", f"{getattr(experiment, key)!r} is also experiments[{j}]'s "
                                                    f"{key}; every experiment needs its own")
        experiments.append(experiment)
    return tuple(experiments)


def _experiment(entry: Mapping[str, Any], where: str, methods: Mapping[str, str],
                limits: tuple[float | None, str], realism: Mapping[str, Any], repeats: int) -> Experiment:
    id_ = entry["id"]
    if not isinstance(id_, str) or not _ID.fullmatch(id_):
        raise Problem(f"{where}.id", f"{id_!r} must be a short slug of a-z, 0-9, '_' and '-' (it names a folder)")
    label = need_string(entry.get("label", id_), f"{where}.label")
    alias = entry["method"]
    if not isinstance(alias, str) or alias not in methods:
        raise Problem(f"{where}.method", unknown_name("method alias", alias, methods) + " (the keys of methods)")
    mode = entry.get("mode", "test")
    if mode not in MODES:
        raise Problem(f"{where}.mode", unknown_name("mode", mode, MODES))
    user = need_string(entry["user"], f"{where}.user")
    knobs = {**realism, **need_mapping(entry.get("realism", {}), f"{where}.realism", "{jitter_mm: 2, ...}")}
    try:
        user = with_knobs(user, knobs)
    except ValueError as error:
        raise Problem(f"{where}.realism" if "realism" in entry else "realism", str(error)) from None
    try:
        check_user(user, mode)
    except ValueError as error:
        raise Problem(f"{where}.user", str(error)) from None
    rounds = entry["rounds"]
    if not is_int(rounds) or rounds < 0:
        raise Problem(f"{where}.rounds", f"expected an integer >= 0 (editing rounds after the first prediction), "
                                         f"got {kind(rounds)}")
    target = entry.get("target_dice")
    if target is not None:
        if not is_number(target) or not 0.0 < target <= 1.0:
            raise Problem(f"{where}.target_dice", f"expected a Dice in (0, 1] or null, got {kind(target)}")
        target = float(target)
    return Experiment(id_, label, methods[alias], user, mode, rounds, target, *_time_limit(entry, where, *limits),
                      need_repeats(entry.get("repeats", repeats), f"{where}.repeats"))


def _analyses(value: Any, methods: Mapping[str, str], cases: tuple[str, ...],
              experiments: Sequence[Experiment]) -> tuple[AnalysisSpec, ...]:
    analyses = need_mapping(value, "analyses", f"a mapping of analysis name ({', '.join(ANALYSES)}) -> settings")
    specs = []
    for name, settings in analyses.items():
        where = key_path("analyses", name)
        if name not in ANALYSES:
            raise Problem(where, unknown_name("analysis", name, ANALYSES))
        settings = need_mapping(settings, where, "a mapping with methods (and cases)")
        check_keys(settings, _ANALYSIS_KEYS[name], ("methods",), where)
        aliases = settings["methods"]
        if not isinstance(aliases, list) or not aliases:
            raise Problem(f"{where}.methods", f"expected a non-empty list of method aliases, got {kind(aliases)}")
        for i, alias in enumerate(aliases):
            if not isinstance(alias, str) or alias not in methods:
                raise Problem(f"{where}.methods[{i}]", unknown_name("method alias", alias, methods))
        chosen, worst = analysis_cases(settings.get("cases", DEFAULT_ANALYSIS_CASES), cases, experiments,
                                       f"{where}.cases")
        k = None
        if name == "sweep":
            k = settings.get("k", list(DEFAULT_KS))
            if not isinstance(k, list) or not k or not all(is_number(v) for v in k):
                raise Problem(f"{where}.k", f"expected a non-empty list of numbers, got {kind(k)}")
            k = tuple(float(v) for v in k)
        specs.append(AnalysisSpec(name, tuple(dict.fromkeys(methods[a] for a in aliases)), chosen, k, worst))
    return tuple(specs)


