"""Methods and users by name: one mechanism for simedit's own and everyone else's.

A spec (:mod:`benchmark.specs`) names a *plug-in*: an entry point of the group
``simedit.methods`` or ``simedit.users`` (simedit's own pyproject.toml registers the
built-ins there; an installed package registers its own the same way), or an import path
``module:attribute`` (the module importable from the current folder or ``PYTHONPATH``).

The contract, all of it:

- A **method plug-in** is a callable ``factory(context: MethodContext, **options) ->
  Method`` (a function, or a class whose ``__init__`` takes the context first). Options
  are its keyword parameters, written ``NAME[KEY=VALUE,...]`` in a spec. It may carry
  attributes the registry reads without calling it (:func:`method_factory` sets them):
  ``argument`` (what may follow ``=``: :data:`ARGUMENTS`), ``usage`` (how to spell the
  spec), ``tools`` (for ``simedit methods``), ``trained_on`` (``arg -> case ids`` its
  checkpoint learned from, for ``cases: held-out``).
- A **user plug-in** is a class (or factory) called with the spec's options as keyword
  arguments, and ``mode="test"|"train"`` if it has a ``mode`` parameter; it returns a
  :class:`~benchmark.policy.Policy`.

What comes back is checked against the Protocol (``name``, ``tools``, ``predict``;
``name``, ``propose``), and every problem raises :class:`PluginError` (a ValueError),
one line naming the plug-in and what to fix.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import os
import sys
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.digests import file_digest, folder_digest
from benchmark.chain import ChainedUser, chain_stages
from benchmark.edits import TOOLS
from benchmark.method import Method
from benchmark.names import unknown_name
from benchmark.policy import Policy
from benchmark.realism import KNOBS, Population, RealisticUser, population, split_options
from benchmark.realism.knobs import SLIP_SHORTHAND
from benchmark.specs import Spec, parse_method_spec, parse_user_spec

GROUPS = {"method": "simedit.methods", "user": "simedit.users"}
MODES = ("test", "train")
#: What a method's spec may carry after ``=``: nothing, an existing file or folder
#: (resolved against the working folder, its digest recorded with the results), a
#: command line, or any text (default; optional).
ARGUMENTS = ("none", "file", "folder", "command", "any")
_OWN = "simedit"


class PluginError(ValueError):
    """A method or user that cannot be found, built or used; the message names it."""


@dataclass(frozen=True)
class MethodOptions:
    """Settings a run gives every method it builds.

    Attributes:
        initial: folder of first segmentations ``<case_id>.nii.gz`` (``--initial``).
        device: "cpu" or "cuda".
        threads: CPU threads a method may use (None: its library's default).
        workdir: the folder relative paths and external programs start from (a
            protocol's folder); None: the current folder.
    """

    initial: Path | None = None
    device: str = "cpu"
    threads: int | None = None
    workdir: Path | None = None


@dataclass(frozen=True)
class MethodContext:
    """What a method factory is given (besides its options).

    Attributes:
        name: the method's name as the spec spells it (``editor``, ``mylab.net:make``).
        arg: the text after ``=`` ("" when none); for ``argument = "file"`` or
            ``"folder"`` factories, the absolute path of an existing file or folder.
        device, initial, threads: as in :class:`MethodOptions`.
        workdir: absolute; where relative paths start and external programs run.
    """

    name: str
    arg: str = ""
    device: str = "cpu"
    initial: Path | None = None
    threads: int | None = None
    workdir: Path = Path(".")


def method_factory(*, argument: str = "any", usage: str | None = None, tools: Iterable[str] | None = None,
                   trained_on: Callable[[str], Iterable[str]] | None = None) -> Callable[[Any], Any]:
    """Describe a method factory for the registry (sets the attributes it reads).

    >>> @method_factory(argument="file", usage="mynet=WEIGHTS.pt", tools={"selection"})
    ... def make(context, *, threshold=0.5): ...
    """
    if argument not in ARGUMENTS:
        raise ValueError(unknown_name("argument kind", argument, ARGUMENTS))

    def describe(factory: Any) -> Any:
        factory.argument, factory.usage = argument, usage
        factory.tools = None if tools is None else frozenset(tools)
        factory.trained_on = trained_on
        return factory

    return describe


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


def _parameters(factory: Any, skip: int) -> list[inspect.Parameter] | None:
    try:
        params = list(inspect.signature(factory).parameters.values())
    except (TypeError, ValueError):
        return None  # no readable signature: let the call decide
    return params[skip:]


def _check_options(plugin: Plugin, factory: Any, options: dict[str, Any], skip: int,
                   also: Iterable[str] = ()) -> None:
    """Every option is a parameter of the factory; ``also``: other valid names (a user's
    realism knobs), offered in the did-you-mean too."""
    params = _parameters(factory, skip)
    if params is None or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return
    allowed = [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "mode"]
    allowed += [name for name in also if name not in allowed]
    for key in options:
        if key not in allowed:
            raise PluginError(unknown_name(f"option of {plugin.label}:", key, allowed or ["(none)"]))


def _call(plugin: Plugin, factory: Any, *args: Any, **kwargs: Any) -> Any:
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


def _argument(plugin: Plugin, factory: Any, spec: Spec, workdir: Path) -> str:
    kind = getattr(factory, "argument", "any")
    if kind not in ARGUMENTS:
        raise PluginError(f"{plugin.label}: its factory's argument = {kind!r}; use one of {', '.join(ARGUMENTS)}")
    usage = getattr(factory, "usage", None)
    arg = spec.arg.strip()
    if kind == "none":
        if arg:
            hint = f"; write {usage}" if usage else f"; write just {plugin.name}"
            raise PluginError(f"{plugin.label} takes no argument after '=' (got {arg!r}){hint}")
        return ""
    if kind in ("file", "folder", "command") and not arg:
        raise PluginError(f"{plugin.label} needs a {kind} after '=': {usage or f'{plugin.name}=...'}")
    if kind in ("file", "folder"):
        path = _absolute(arg, workdir)
        if not (path.is_file() if kind == "file" else path.is_dir()):
            raise PluginError(f"{plugin.label}: {path} is not a {kind} (relative paths start at {workdir}); "
                              f"write {usage or f'{plugin.name}=PATH'}")
        return str(path.resolve())
    return spec.arg


def _absolute(arg: str, workdir: Path | None) -> Path:
    """A path argument, relative ones resolved against ``workdir`` (None: the current folder)."""
    path = Path(arg.strip()).expanduser()
    return path if path.is_absolute() else Path(workdir or Path.cwd()) / path


def _resolve(spec: str, workdir: Path) -> tuple[Spec, str, Plugin, Any]:
    """(parsed spec, checked argument, plug-in, factory) of a method spec."""
    parsed = parse_method_spec(spec)
    plugin = find("method", parsed.name)
    factory = plugin.load()
    arg = _argument(plugin, factory, parsed, workdir)
    _check_options(plugin, factory, parsed.options, skip=1)
    return parsed, arg, plugin, factory


def resolve_method(spec: str, workdir: Path | None = None) -> tuple[str, Plugin, Any]:
    """Check a method spec without building the method: the plug-in exists, its argument
    and option names are right. Returns the spec with a file or folder argument made
    absolute, the plug-in and its factory."""
    parsed, arg, plugin, factory = _resolve(spec, Path(workdir or Path.cwd()).resolve())
    if arg == parsed.arg:
        return spec, plugin, factory
    head = spec.strip()[: len(spec.strip()) - len(parsed.arg)]  # NAME[OPTIONS]=
    return f"{head}{arg}", plugin, factory


def make_method(spec: str, options: MethodOptions = MethodOptions()) -> Method:
    """Build the method a spec names (see :mod:`benchmark.specs`) and check it."""
    workdir = Path(options.workdir or Path.cwd()).resolve()
    parsed, arg, plugin, factory = _resolve(spec, workdir)
    context = MethodContext(parsed.name, arg, options.device, options.initial, options.threads, workdir)
    return check_method(_call(plugin, factory, context, **parsed.options), plugin.label)


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
    params = _parameters(factory, 0) or []
    options, knobs = split_options({**parsed.options, **options}, {p.name for p in params})
    knobs = population(knobs, f"user {spec!r}")
    _check_options(plugin, factory, options, skip=0, also=(*KNOBS, SLIP_SHORTHAND))
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
    user = check_policy(_call(plugin, factory, **kwargs), plugin.label)
    if not knobs.active:
        return user
    words = [int(user_seed), zlib.crc32(spec.encode())]
    return RealisticUser(spec, user, knobs.draw(np.random.default_rng(np.random.SeedSequence(words))))


def check_method(obj: Any, label: str) -> Method:
    """``obj`` if it has what :class:`~benchmark.method.Method` asks for, else PluginError."""
    missing = [a for a in ("name", "tools", "predict") if not hasattr(obj, a)]
    if missing:
        raise PluginError(f"{label}: built a {type(obj).__name__} without {', '.join(missing)}; a method needs "
                          "name (str), tools (a set of edit tools) and predict(image, history) (benchmark.method.Method)")
    if not isinstance(obj.name, str) or not obj.name.strip():
        raise PluginError(f"{label}: its name must be a non-empty string (the name in result tables), got {obj.name!r}")
    if not callable(obj.predict):
        raise PluginError(f"{label}: predict must be a method predict(image, history), got {type(obj.predict).__name__}")
    tools = obj.tools
    if isinstance(tools, str) or not isinstance(tools, Iterable) or set(tools) - set(TOOLS):
        raise PluginError(f"{label}: tools must be a set of edit tools among {', '.join(TOOLS)}, got {tools!r}")
    return obj


def check_policy(obj: Any, label: str) -> Policy:
    """``obj`` if it has what :class:`~benchmark.policy.Policy` asks for, else PluginError."""
    missing = [a for a in ("name", "propose") if not hasattr(obj, a)]
    if missing:
        raise PluginError(f"{label}: built a {type(obj).__name__} without {', '.join(missing)}; a user needs "
                          "name (str) and propose(state, rng) (benchmark.policy.Policy)")
    if not isinstance(obj.name, str) or not obj.name.strip() or not callable(obj.propose):
        raise PluginError(f"{label}: needs a non-empty string name and a callable propose(state, rng)")
    return obj


def trained_cases(spec: str) -> set[str]:
    """The case ids a method's checkpoint learned from (its factory's ``trained_on``)."""
    parsed = parse_method_spec(spec)
    trained_on = getattr(find("method", parsed.name).load(), "trained_on", None)
    return set(trained_on(parsed.arg)) if trained_on else set()


def checkpoint_digests(specs: Iterable[str], workdir: Path | None = None) -> dict[str, str]:
    """SHA-256 of what each method's argument names, when it is a file or folder: results
    of a network retrained in place are not taken for the new one's."""
    digests = {}
    for spec in specs:
        parsed = parse_method_spec(spec)
        kind = getattr(find("method", parsed.name).load(), "argument", "any")
        path = _absolute(parsed.arg, workdir)
        if parsed.arg and kind in ("file", "any") and path.is_file():
            digests[spec] = file_digest(path)
        elif parsed.arg and kind == "folder" and path.is_dir():
            digests[spec] = folder_digest(path)
    return digests


def plugin_provenance(methods: Iterable[str], users: Iterable[str]) -> dict[str, dict[str, Any]]:
    """For ``run.json``: each method's and user's package and version, or import path and file hash."""
    return {"methods": {s: find("method", parse_method_spec(s).name).provenance() for s in methods},
            "users": {s: find("user", parse_user_spec(s).name).provenance() for u in users for s in chain_stages(u)}}
