"""Single values of a protocol file checked one at a time: each check returns the value
or raises :class:`Problem` at its key path (``experiments[3].rounds``), which
:func:`~benchmark.protocol.load.load_protocol` prefixes with the file's path."""

from __future__ import annotations

import math
import reprlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from benchmark.names import unknown_name


class _Bounded(reprlib.Repr):
    """A value shown in a message: bounded, as YAML aliases can make it huge or hold itself."""

    def repr_dict(self, x: dict, level: int) -> str:  # in the file's order, not sorted
        if not x:
            return "{}"
        if level <= 0:
            return "{...}"
        items = [f"{self.repr1(k, level - 1)}: {self.repr1(v, level - 1)}" for k, v in list(x.items())[: self.maxdict]]
        return "{" + ", ".join(items) + (", ..." if len(x) > self.maxdict else "") + "}"


_REPR = _Bounded()
_REPR.maxlevel, _REPR.maxlist, _REPR.maxtuple, _REPR.maxdict, _REPR.maxstring, _REPR.maxother = 2, 5, 5, 5, 200, 200


class Problem(Exception):
    """A problem at a key path; load_protocol prefixes the file's path."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}" if where else message)


def check_keys(mapping: Mapping[str, Any], allowed: Sequence[str], required: Sequence[str], where: str) -> None:
    for key in mapping:
        if key not in allowed:
            raise Problem(key_path(where, key), unknown_name("key", key, allowed))
    for key in required:
        if key not in mapping:
            raise Problem(where, f"missing key {key!r}")


def key_path(where: str, key: Any) -> str:
    return f"{where}.{key}" if where else str(key)


def need_mapping(value: Any, where: str, expected: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise Problem(where, f"expected {expected}, got {kind(value)}")
    return value


def need_string(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Problem(where, f"expected a non-empty string, got {kind(value)}")
    return value


def kind(value: Any) -> str:
    return "nothing" if value is None else f"{type(value).__name__} {show(value)}"


def show(value: Any) -> str:
    return _REPR.repr(value) if isinstance(value, (list, tuple, dict, set)) else repr(value)


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def resolved_path(value: Any, base: Path, where: str) -> Path:
    path = Path(need_string(value, where)).expanduser()
    return path if path.is_absolute() else base / path


def need_folder(value: Any, base: Path, where: str, what: str) -> Path:
    folder = resolved_path(value, base, where)
    if not folder.is_dir():
        raise Problem(where, f"{folder} is not a folder; give {what} (relative paths start at {base})")
    return folder


def need_repeats(value: Any, where: str) -> int:
    if not is_int(value) or value < 1:
        raise Problem(where, f"expected the sessions per case and user, an integer >= 1, got {kind(value)}")
    return int(value)

