"""Helpful errors for option strings (method, user, layout, backbone, mode names)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def unknown_name(what: str, value: object, valid: Iterable[str]) -> str:
    """The message for an unknown ``what`` called ``value``, suggesting the closest valid name.

    >>> unknown_name("user", "rtim", ["ritm", "random"])
    "unknown user 'rtim'; did you mean 'ritm'? choose one of: ritm, random"
    """
    valid = list(valid)
    close = difflib.get_close_matches(str(value), valid, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown {what} {value!r}; {hint}choose one of: {', '.join(valid)}"
