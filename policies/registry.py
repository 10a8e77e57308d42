"""Simulated users by name, for configuration files and the command line."""

from __future__ import annotations

import inspect
from typing import Any

import yaml

from benchmark.names import unknown_name
from benchmark.policy import Policy

POLICY_NAMES = ("selection", "brush", "adjustment", "multi", "all-tools", "cvpr25", "ritm", "random", "none")
MODES = ("test", "train")


def _unknown(what: str, value: str, valid: tuple[str, ...]) -> ValueError:
    return ValueError(unknown_name(what, value, valid))


def parse_user_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """Split a user spec ``NAME[:KEY=VALUE,...]`` into the name and constructor options.

    Values are read as YAML scalars (``0.95`` float, ``2`` int, ``true``, ``null``).

    >>> parse_user_spec("multi:target_dice=0.95,max_edits_per_round=2")
    ('multi', {'target_dice': 0.95, 'max_edits_per_round': 2})
    """
    name, _, rest = spec.partition(":")
    options: dict[str, Any] = {}
    for item in filter(None, rest.split(",")):
        key, eq, value = item.partition("=")
        if not eq or not key.strip().isidentifier():
            raise ValueError(f"user {spec!r}: expected NAME:KEY=VALUE[,KEY=VALUE...], got {item!r}")
        options[key.strip()] = yaml.safe_load(value)
    return name, options


def make_policy(spec: str, mode: str = "test", **options: Any) -> Policy:
    """The simulated user described by ``spec``.

    Args:
        spec: one of :data:`POLICY_NAMES`, optionally with constructor options:
            ``multi:target_dice=0.95`` (see :func:`parse_user_spec`).
        mode: "test" or "train"; the paper's tools (selection, brush, adjustment) and
            the users that combine them (multi, all-tools) limit their edits in training. The
            reference users (cvpr25, ritm, random) and ``none`` (never edits) have a
            single behaviour and ignore it.
        options: more keyword arguments of the policy's constructor (e.g. ``min_size``
            for selection, ``min_abs_k`` for adjustment).

    Raises:
        ValueError: unknown name, mode or option, with the closest valid one.
    """
    name, spec_options = parse_user_spec(spec)
    options = {**spec_options, **options}
    if name not in POLICY_NAMES:
        raise _unknown("user", name, POLICY_NAMES)
    if mode not in MODES:
        raise _unknown("mode", mode, MODES)
    cls = _policy_class(name)
    allowed = [p for p in inspect.signature(cls).parameters if p != "mode"]
    for key in options:
        if key not in allowed:
            raise _unknown(f"option of user {name!r}:", key, allowed)
    if name in ("cvpr25", "ritm", "random", "none"):
        return cls(**options)
    return cls(mode=mode, **options)


def _policy_class(name: str) -> type:
    if name == "selection":
        from policies.selection import SelectionPolicy

        return SelectionPolicy
    if name == "brush":
        from policies.brush import BrushPolicy

        return BrushPolicy
    if name == "adjustment":
        from policies.adjustment import AdjustmentPolicy

        return AdjustmentPolicy
    if name == "multi":
        from policies.multi import MultiToolUser

        return MultiToolUser
    if name == "all-tools":
        from policies.all_tools import AllToolsUser

        return AllToolsUser
    if name == "none":
        from policies.none import NoEdits

        return NoEdits
    from policies.reference_users import Cvpr25Click, RandomClick, RitmClick

    return {"cvpr25": Cvpr25Click, "ritm": RitmClick, "random": RandomClick}[name]
