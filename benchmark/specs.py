"""How the command line and protocol files spell a method or a user.

::

    method  NAME[[KEY=VALUE,...]][=ARG]   editor=G.pt   manual-paint[click_radius_mm=3]
                                          cvpr25[timeout_s=120]=python predict.py {inputs} {outputs}
    user    NAME[:KEY=VALUE,...]          multi:target_dice=0.95,max_edits_per_round=1

NAME is a registered name (an entry point of the group ``simedit.methods`` or
``simedit.users``; simedit's own methods and users are registered that way) or an import
path ``module:attribute``: ``mylab.editing:MyMethod=ckpt.pt``,
``mylab.users:Sloppy:jitter=2``. A method's options go in brackets because its ARG (a
checkpoint, a command line) may hold any character after the first ``=``; a user has no
ARG, so its options follow a colon. VALUEs are read as YAML scalars (``0.95`` float,
``2`` int, ``true``, ``null``, anything else a string) and may not hold ``,``.
Every spelling simedit accepted before import paths existed means what it meant.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

_IDENTIFIER_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_METHOD = re.compile(r"(?P<name>[^=\[\]]+)(?:\[(?P<options>[^\[\]]*)\])?(?:=(?P<arg>.*))?", re.DOTALL)


@dataclass(frozen=True)
class Spec:
    """A parsed method or user spec.

    Attributes:
        name: a registered name or an import path ``module:attribute``.
        options: keyword arguments for the plug-in's factory or constructor.
        arg: a method's text after ``=`` ("" when none); always "" for users.
    """

    name: str
    options: dict[str, Any] = field(default_factory=dict)
    arg: str = ""

    @property
    def is_import_path(self) -> bool:
        return ":" in self.name


def is_import_path(text: str) -> bool:
    """``module:attribute`` with dotted Python identifiers on both sides."""
    module, colon, attribute = text.partition(":")
    return bool(colon) and bool(_IDENTIFIER_PATH.fullmatch(module)) and bool(_IDENTIFIER_PATH.fullmatch(attribute))


def parse_options(text: str, spec: str, kind: str, form: str) -> dict[str, Any]:
    """``KEY=VALUE,...`` as a dict, values read as YAML scalars."""
    options: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, eq, value = item.partition("=")
        if not eq or not key.strip().isidentifier():
            raise ValueError(f"{kind} {spec!r}: expected {form}, got {item!r}")
        if key.strip() in options:
            raise ValueError(f"{kind} {spec!r}: option {key.strip()!r} is given twice")
        try:
            options[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError:
            options[key.strip()] = value
    return options


def parse_method_spec(spec: str) -> Spec:
    """Split ``NAME[[KEY=VALUE,...]][=ARG]``.

    >>> parse_method_spec("cvpr25[timeout_s=120]=python run.py {inputs} {outputs}")
    Spec(name='cvpr25', options={'timeout_s': 120}, arg='python run.py {inputs} {outputs}')
    >>> parse_method_spec("mylab.editing:MyMethod=ckpt.pt").name
    'mylab.editing:MyMethod'
    """
    match = _METHOD.fullmatch(spec.strip()) if isinstance(spec, str) else None
    if match is None:
        raise ValueError(f"method {spec!r}: expected NAME, NAME=ARG or NAME[KEY=VALUE,...]=ARG "
                         "(NAME a registered method or module:attribute)")
    name = match["name"].strip()
    _check_name(name, spec, "method")
    options = parse_options(match["options"] or "", spec, "method", "NAME[KEY=VALUE,...]")
    return Spec(name, options, match["arg"] or "")


def parse_user_spec(spec: str) -> Spec:
    """Split ``NAME[:KEY=VALUE,...]``, NAME a registered user or ``module:attribute``.

    >>> parse_user_spec("multi:target_dice=0.95,max_edits_per_round=2")
    Spec(name='multi', options={'target_dice': 0.95, 'max_edits_per_round': 2}, arg='')
    >>> parse_user_spec("mylab.users:Sloppy:jitter=2")
    Spec(name='mylab.users:Sloppy', options={'jitter': 2}, arg='')
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"user {spec!r}: expected NAME[:KEY=VALUE,...]")
    head, _, rest = spec.strip().partition(":")
    attribute, colon, after = rest.partition(":")
    if is_import_path(f"{head}:{attribute}"):
        name, rest = f"{head}:{attribute}", after
    else:
        name = head
    _check_name(name, spec, "user")
    return Spec(name, parse_options(rest, spec, "user", "NAME:KEY=VALUE[,KEY=VALUE...]"))


def _check_name(name: str, spec: str, kind: str) -> None:
    if ":" in name and not is_import_path(name):
        raise ValueError(f"{kind} {spec!r}: {name!r} is not an import path module:attribute "
                         "(dotted Python names on both sides)")
    if not name or any(c.isspace() for c in name):
        raise ValueError(f"{kind} {spec!r}: expected a name without spaces before the options")
