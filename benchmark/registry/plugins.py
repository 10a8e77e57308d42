"""The plug-in lookup every method and user goes through: a name (an entry point of the
group ``simedit.methods`` or ``simedit.users``) or an import path ``module:attribute``
leads to a :class:`Plugin`, which loads its factory; the factory's options are checked
against its signature and it is called with every error turned into a
:class:`PluginError` naming the plug-in (see :mod:`benchmark.registry` for the contract).
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from typing import Any

from benchmark.chain import chain_stages
from benchmark.digests import file_digest
from benchmark.names import unknown_name
from benchmark.specs import parse_method_spec, parse_user_spec

GROUPS = {"method": "simedit.methods", "user": "simedit.users"}
_OWN = "simedit"


class PluginError(ValueError):
    """A method or user that cannot be found, built or used; the message names it."""


@dataclass(frozen=True)
class Plugin:
    """Where a name leads: ``target`` (module:attribute) and the package that registers it.

    Attributes:
        kind: "method" or "user".
        name: as specs spell it.
        distribution, version: the package whose entry point it is; None for an import path.
    """

    kind: str
    name: str
    target: str
    distribution: str | None = None
    version: str | None = None

    @property
    def label(self) -> str:
        """How errors name it: ``method 'mynet' (mylab.simedit:make from mylab 0.1)``."""
        where = f" ({self.target} from {self.distribution} {self.version})" if self.distribution not in (None, _OWN) else ""
        return f"{self.kind} {self.name!r}{where}"

    @property
    def origin(self) -> str:
        return f"{self.distribution} {self.version}" if self.distribution else "import path"

    def load(self) -> Any:
        """The object the target names (imports its module)."""
        module_name, _, attribute = self.target.partition(":")
        if self.distribution is None and os.getcwd() not in sys.path:
            sys.path.append(os.getcwd())  # after installed packages: a local file shadows none of them
        try:
            obj: Any = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name and (module_name == error.name or module_name.startswith(error.name + ".")):
                fix = (f"reinstall {self.distribution}, whose entry point names it" if self.distribution else
                       "check the spelling; it must be importable from the current folder or PYTHONPATH")
                raise PluginError(f"{self.label}: no module named {error.name!r}; {fix}") from None
            raise PluginError(f"{self.label}: importing {module_name} failed: {error}; install what it needs") from None
        except Exception as error:  # noqa: BLE001 - whatever the plug-in's module raises
            raise PluginError(f"{self.label}: importing {module_name} raised {type(error).__name__}: {error}") from None
        for part in attribute.split("."):
            if not hasattr(obj, part):
                names = [n for n in dir(obj) if not n.startswith("_")]
                close = difflib.get_close_matches(part, names, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                where = getattr(obj, "__file__", None) or getattr(obj, "__name__", "")
                raise PluginError(f"{self.label}: {type(obj).__name__} {where} has no attribute {part!r}{hint}")
            obj = getattr(obj, part)
        return obj

    def provenance(self) -> dict[str, Any]:
        """The package and version that provide it, or for an import path its file and SHA-256."""
        if self.distribution is not None:
            return {"target": self.target, "distribution": self.distribution, "version": self.version}
        module = sys.modules.get(self.target.partition(":")[0]) or importlib.import_module(self.target.partition(":")[0])
        file = getattr(module, "__file__", None)
        return {"target": self.target, "file": file, "sha256": file_digest(file) if file else None}


@lru_cache(maxsize=None)
def registered(kind: str) -> dict[str, tuple[Plugin, ...]]:
    """Every entry point of ``kind``'s group, by name: simedit's own first, then the
    others, each by name. A name two packages register maps to both."""
    found: dict[str, list[Plugin]] = {}
    for ep in metadata.entry_points(group=GROUPS[kind]):
        dist = getattr(ep, "dist", None)
        plugin = Plugin(kind, ep.name, ep.value, dist.name if dist else "unknown", dist.version if dist else "?")
        if all(p.target != plugin.target for p in found.get(ep.name, [])):
            found.setdefault(ep.name, []).append(plugin)
    order = sorted(found, key=lambda n: (found[n][0].distribution != _OWN, n))
    return {name: tuple(sorted(found[name], key=lambda p: (p.distribution or "", p.target))) for name in order}


def find(kind: str, name: str) -> Plugin:
    """The plug-in ``name`` (a registered name or ``module:attribute``) leads to.

    Raises:
        PluginError: unknown name (with the closest one), or a name two packages register.
    """
    if ":" in name:
        return Plugin(kind, name, name)
    plugins = registered(kind).get(name)
    if not plugins:
        names = list(registered(kind))
        hint = (f" (simedit's own {kind}s are registered when simedit is installed: pip install -e .)" if not names
                else "; an entry point just added to a pyproject.toml is known once its package is installed again")
        raise PluginError(unknown_name(kind, name, names) + f"; or give an import path module:attribute{hint}")
    if len(plugins) > 1:
        who = ", ".join(f"{p.target} from {p.distribution} {p.version}" for p in plugins)
        raise PluginError(f"{kind} {name!r} is registered more than once ({who}); uninstall one, or name it by its "
                          "import path module:attribute")
    return plugins[0]


def parameters(factory: Any, skip: int) -> list[inspect.Parameter] | None:
    """The factory's parameters after the first ``skip``; None when it has no readable signature."""
    try:
        params = list(inspect.signature(factory).parameters.values())
    except (TypeError, ValueError):
        return None  # no readable signature: let the call decide
    return params[skip:]


def check_options(plugin: Plugin, factory: Any, options: dict[str, Any], skip: int,
                  also: Iterable[str] = ()) -> None:
    """Every option is a parameter of the factory; ``also``: other valid names (a user's
    realism knobs), offered in the did-you-mean too."""
    params = parameters(factory, skip)
    if params is None or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return
    allowed = [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "mode"]
    allowed += [name for name in also if name not in allowed]
    for key in options:
        if key not in allowed:
            raise PluginError(unknown_name(f"option of {plugin.label}:", key, allowed or ["(none)"]))


def call_factory(plugin: Plugin, factory: Any, *args: Any, **kwargs: Any) -> Any:
    """``factory(*args, **kwargs)``; whatever it raises, or a factory that is not callable,
    becomes a PluginError naming the plug-in."""
    if not callable(factory):
        raise PluginError(f"{plugin.label}: {plugin.target} is a {type(factory).__name__}, not a factory or class "
                          "to call")
    try:
        return factory(*args, **kwargs)
    except PluginError:
        raise
    except Exception as error:  # noqa: BLE001 - whatever a plug-in's constructor raises
        given = {k: v for k, v in kwargs.items() if k != "mode"}
        hint = ""
        if isinstance(error, TypeError) and given:  # most often an option of the wrong type, e.g. a word for a number
            hint = f" (options given: {', '.join(f'{k}={v!r}' for k, v in given.items())}; check their types)"
        raise PluginError(f"{plugin.label}: {type(error).__name__}: {error}{hint}".replace("\n", " ")) from error


def plugin_provenance(methods: Iterable[str], users: Iterable[str]) -> dict[str, dict[str, Any]]:
    """For ``run.json``: each method's and user's package and version, or import path and file hash."""
    return {"methods": {s: find("method", parse_method_spec(s).name).provenance() for s in methods},
            "users": {s: find("user", parse_user_spec(s).name).provenance() for u in users for s in chain_stages(u)}}
