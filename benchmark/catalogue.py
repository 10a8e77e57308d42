"""What ``simedit methods`` and ``simedit users`` list: every registered plug-in, where it
comes from, what it takes and one line of what it does.

A plug-in that cannot be imported is listed with the reason instead of breaking the list.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

from benchmark.registry.plugins import Plugin, PluginError, find, registered
from benchmark.specs import parse_method_spec, parse_user_spec


@dataclass(frozen=True)
class Entry:
    """One plug-in as listed.

    Attributes:
        usage: how a spec spells it (``editor=CHECKPOINT.pt ...``).
        tools: the edit tools a method takes ("" for users; "?" when its argument decides).
        options: its keyword options with defaults, ``key=default`` comma-joined.
        summary: the first line of its docstring.
        problem: why it cannot be loaded ("" when it can).
    """

    kind: str
    name: str
    origin: str
    target: str
    usage: str
    tools: str
    options: str
    summary: str
    problem: str = ""


def _summary(obj: Any) -> str:
    """The docstring's first paragraph, on one line."""
    doc = (inspect.getdoc(obj) or "").strip()
    return " ".join(doc.split("\n\n")[0].split())


def _options(obj: Any, skip: int) -> str:
    try:
        params = list(inspect.signature(obj).parameters.values())[skip:]
    except (TypeError, ValueError):
        return ""
    shown = [p for p in params if p.name != "mode" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    return ", ".join(p.name if p.default is p.empty else f"{p.name}={p.default!r}" for p in shown)


def entry(plugin: Plugin) -> Entry:
    """Describe one plug-in (imports it)."""
    try:
        obj = plugin.load()
    except PluginError as error:
        return Entry(plugin.kind, plugin.name, plugin.origin, plugin.target, plugin.name, "", "", "", str(error))
    if plugin.kind == "user":
        usage = f"{plugin.name}[:KEY=VALUE,...]" if _options(obj, 0) else plugin.name
        return Entry("user", plugin.name, plugin.origin, plugin.target, usage, "", _options(obj, 0), _summary(obj))
    argument = getattr(obj, "argument", "any")
    usage = getattr(obj, "usage", None) or (plugin.name if argument == "none" else f"{plugin.name}=ARG")
    tools = getattr(obj, "tools", None)
    shown = "?" if tools is None else (",".join(sorted(tools)) or "(none)")
    return Entry("method", plugin.name, plugin.origin, plugin.target, usage, shown, _options(obj, 1), _summary(obj))


def catalogue(kind: str, names: tuple[str, ...] = ()) -> list[Entry]:
    """Every registered plug-in of ``kind``, or those ``names`` give (registered names,
    import paths or whole specs)."""
    if not names:
        return [entry(p) for plugins in registered(kind).values() for p in plugins]
    parse = parse_method_spec if kind == "method" else parse_user_spec
    return [entry(find(kind, parse(name).name)) for name in names]
