"""Which cases a protocol runs on: ``cases:`` (all, held-out from the methods'
checkpoints, or a list) and each analysis' ``cases:`` (a number, a list, or the worst of
an experiment)."""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from benchmark.names import unknown_name
from benchmark.protocol.schema import CASE_SELECTIONS, Experiment
from benchmark.protocol.values import Problem, check_keys, is_int, kind, show
from benchmark.registry.methods import trained_cases


def held_out(case_ids: Sequence[str], specs: Sequence[str]) -> tuple[str, ...]:
    """The cases none of the methods ``specs`` name learned from: each method plug-in's
    ``trained_on`` (for the networks, their checkpoints' train and validation splits;
    for DeepIGeoS, R-Net's and P-Net's)."""
    used = set().union(*(trained_cases(spec) for spec in specs))
    return tuple(sorted(c for c in case_ids if c not in used))


def select_cases(value: Any, all_cases: list[str], methods: Mapping[str, str],
                 data: Path) -> tuple[str, tuple[str, ...]]:
    if isinstance(value, str):
        if value not in CASE_SELECTIONS:
            raise Problem("cases", unknown_name("case selection", value, CASE_SELECTIONS) + ", or a list of case ids")
        if value == "all":
            return value, tuple(sorted(all_cases))
        try:
            cases = held_out(all_cases, list(methods.values()))
        except (OSError, ValueError) as error:
            raise Problem("cases", f"held-out: reading the checkpoints' splits: {error}") from None
        if not cases:
            raise Problem("cases", f"held-out leaves no case: all {len(all_cases)} cases of {data} are in a "
                                   "checkpoint's train or validation split; add unseen cases or list case ids")
        return value, cases
    if not isinstance(value, list) or not value:
        raise Problem("cases", f"expected all, held-out or a non-empty list of case ids, got {kind(value)}")
    return "list", case_list(value, all_cases, "cases", f"in {data}")


def case_list(value: list[Any], valid: Sequence[str], where: str, context: str) -> tuple[str, ...]:
    for i, case in enumerate(value):
        if not isinstance(case, str):  # not str(case): an aliased list can be huge
            raise Problem(f"{where}[{i}]", f"expected a case id (a string), got {kind(case)}")
        if case not in valid:
            close = difflib.get_close_matches(case, list(valid), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise Problem(f"{where}[{i}]", f"no case {show(case)} {context}{hint}")
        if case in value[:i]:
            raise Problem(f"{where}[{i}]", f"case {case!r} is listed twice")
    return tuple(sorted(value))


def analysis_cases(value: Any, cases: tuple[str, ...], experiments: Sequence[Experiment],
                   where: str) -> tuple[tuple[str, ...], tuple[int, str] | None]:
    if isinstance(value, Mapping):
        check_keys(value, ("worst", "experiment"), ("worst", "experiment"), where)
        n, experiment = value["worst"], value["experiment"]
        if not is_int(n) or not 1 <= n <= len(cases):
            raise Problem(f"{where}.worst", f"expected a number of cases from 1 to {len(cases)}, got {show(n)}")
        ids = [e.id for e in experiments]
        if experiment not in ids:
            raise Problem(f"{where}.experiment", unknown_name("experiment id", experiment, ids))
        return (), (n, experiment)
    if is_int(value):
        if not 1 <= value <= len(cases):
            raise Problem(where, f"asks for {value} case(s); the protocol has {len(cases)}: give 1 to {len(cases)}")
        return cases[:value], None
    if not isinstance(value, list) or not value:
        raise Problem(where, "expected a number of cases, a list of case ids or {worst: N, experiment: ID}, got "
                             f"{kind(value)}")
    return case_list(value, cases, where, "among the protocol's cases"), None

