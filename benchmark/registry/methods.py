"""The method side of the registry: what a method factory is given and how it is
described, building and checking methods from specs, and what their arguments name
(checkpoint digests, the cases a checkpoint learned from)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmark.digests import file_digest, folder_digest
from benchmark.edits import TOOLS
from benchmark.method import Method
from benchmark.names import unknown_name
from benchmark.registry.plugins import Plugin, PluginError, call_factory, check_options, find
from benchmark.specs import Spec, parse_method_spec

#: What a method's spec may carry after ``=``: nothing, an existing file or folder
#: (resolved against the working folder, its digest recorded with the results), a
#: command line, or any text (default; optional).
ARGUMENTS = ("none", "file", "folder", "command", "any")


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
    check_options(plugin, factory, parsed.options, skip=1)
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
    return check_method(call_factory(plugin, factory, context, **parsed.options), plugin.label)


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
