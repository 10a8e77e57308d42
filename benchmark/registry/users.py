"""The user side of the registry: simulated users built from specs, with their mode,
realism knobs (:mod:`benchmark.realism`) and chained stages (:mod:`benchmark.chain`),
and checked against the Policy protocol."""

from __future__ import annotations

import inspect
import zlib
from typing import Any

import numpy as np

from benchmark.chain import ChainedUser, chain_stages
from benchmark.names import unknown_name
from benchmark.policy import Policy
from benchmark.realism import KNOBS, Population, RealisticUser, population, split_options
from benchmark.realism.knobs import SLIP_SHORTHAND
from benchmark.registry.plugins import Plugin, PluginError, call_factory, check_options, find, parameters
from benchmark.specs import parse_user_spec

MODES = ("test", "train")


def resolve_user(spec: str, mode: str = "test", **options: Any) -> tuple[Plugin, Any, dict[str, Any], Population]:
    """Check a user spec without building the user: the plug-in exists, the mode and
    the option names are right, the realism knobs (:mod:`benchmark.realism`) are valid.
    Returns the plug-in, its class or factory, the keyword arguments it is to be called
    with (``mode`` among them if it takes one) and the knobs (a knob the factory takes
    itself stays among its arguments)."""
    parsed = parse_user_spec(spec)
    if mode not in MODES:
        raise PluginError(unknown_name("mode", mode, MODES))
    plugin = find("user", parsed.name)
    factory = plugin.load()
    params = parameters(factory, 0) or []
    options, knobs = split_options({**parsed.options, **options}, {p.name for p in params})
    knobs = population(knobs, f"user {spec!r}")
    check_options(plugin, factory, options, skip=0, also=(*KNOBS, SLIP_SHORTHAND))
    if any(p.name == "mode" or p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        options["mode"] = mode
    return plugin, factory, options, knobs


def check_user(spec: str, mode: str = "test") -> None:
    """Check a user spec, or each stage of a chained one (``A then B``, see
    :mod:`benchmark.chain`), without building anything; PluginError/ValueError if wrong."""
    for stage in chain_stages(spec):
        resolve_user(stage, mode)


def make_user(spec: str, mode: str = "test", *, user_seed: int = 0, **options: Any) -> Policy:
    """Build the simulated user a spec names, in ``mode``; ``options`` add to the spec's.

    A chained spec (``A then B``) builds each stage; ``options`` then go to every stage.
    Realism knobs among the options wrap the user in a
    :class:`~benchmark.realism.RealisticUser`; knobs given as ranges are drawn for
    ``user_seed`` (one person of a population; the same seed, the same person).

    Raises:
        PluginError: unknown name, mode or option (with the closest valid one), a
            constructor that raises, or an object that is not a Policy.
        ValueError: a realism knob out of its range.
    """
    stages = chain_stages(spec)
    if len(stages) > 1:
        return ChainedUser(spec, [make_user(stage, mode, user_seed=user_seed, **options) for stage in stages])
    plugin, factory, kwargs, knobs = resolve_user(spec, mode, **options)
    user = check_policy(call_factory(plugin, factory, **kwargs), plugin.label)
    if not knobs.active:
        return user
    words = [int(user_seed), zlib.crc32(spec.encode())]
    return RealisticUser(spec, user, knobs.draw(np.random.default_rng(np.random.SeedSequence(words))))


def check_policy(obj: Any, label: str) -> Policy:
    """``obj`` if it has what :class:`~benchmark.policy.Policy` asks for, else PluginError."""
    missing = [a for a in ("name", "propose") if not hasattr(obj, a)]
    if missing:
        raise PluginError(f"{label}: built a {type(obj).__name__} without {', '.join(missing)}; a user needs "
                          "name (str) and propose(state, rng) (benchmark.policy.Policy)")
    if not isinstance(obj.name, str) or not obj.name.strip() or not callable(obj.propose):
        raise PluginError(f"{label}: needs a non-empty string name and a callable propose(state, rng)")
    return obj
