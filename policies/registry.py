"""Simulated users by name, for configuration files and the command line."""

from __future__ import annotations

from typing import Any

from benchmark.names import unknown_name
from benchmark.policy import Policy

POLICY_NAMES = ("selection", "brush", "adjustment", "multi", "all-tools", "cvpr25", "ritm", "random")
MODES = ("test", "train")


def _unknown(what: str, value: str, valid: tuple[str, ...]) -> ValueError:
    return ValueError(unknown_name(what, value, valid))


def make_policy(name: str, mode: str = "test", **options: Any) -> Policy:
    """The simulated user called ``name``.

    Args:
        name: one of :data:`POLICY_NAMES`.
        mode: "test" or "train"; the paper's tools (selection, brush, adjustment) and
            the users that combine them (multi, all-tools) limit their edits in training. The
            reference users (cvpr25, ritm, random) have a single behaviour and ignore it.
        options: keyword arguments of the policy's constructor (e.g. ``min_size`` for
            selection, ``min_abs_k`` for adjustment).

    Raises:
        ValueError: unknown name or mode, with the closest valid one.
    """
    if name not in POLICY_NAMES:
        raise _unknown("policy", name, POLICY_NAMES)
    if mode not in MODES:
        raise _unknown("mode", mode, MODES)
    if name == "selection":
        from policies.selection import SelectionPolicy

        return SelectionPolicy(mode=mode, **options)
    if name == "brush":
        from policies.brush import BrushPolicy

        return BrushPolicy(mode=mode, **options)
    if name == "adjustment":
        from policies.adjustment import AdjustmentPolicy

        return AdjustmentPolicy(mode=mode, **options)
    if name == "multi":
        from policies.multi import MultiToolUser

        return MultiToolUser(mode=mode, **options)
    if name == "all-tools":
        from policies.all_tools import AllToolsUser

        return AllToolsUser(mode=mode, **options)
    from policies.reference_users import Cvpr25Click, RandomClick, RitmClick

    return {"cvpr25": Cvpr25Click, "ritm": RitmClick, "random": RandomClick}[name](**options)
