"""Files written whole or not at all: a run killed mid-write leaves the old file or the new.

The new content goes to ``.<name>.partial`` beside the target, is fsynced and renamed over
it. The partial file's name is fixed, so a write killed halfway leaves at most one stale
partial file per target, which the next write of that target replaces.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO


def partial_path(path: Path | str) -> Path:
    """Where :func:`write_atomic` writes ``path``'s new content before renaming it."""
    path = Path(path)
    return path.with_name(f".{path.name}.partial")


def write_atomic(path: Path | str, write: Callable[[BinaryIO], Any]) -> None:
    """Call ``write`` on :func:`partial_path` (opened "wb"), fsync it, rename it over ``path``;
    an exception removes the partial file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = partial_path(path)
    try:
        with open(partial, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def write_text_atomic(path: Path | str, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (:func:`write_atomic`)."""
    write_atomic(path, lambda f: f.write(text.encode("utf-8")))


def write_json(path: Path | str, content: Any) -> None:
    """``content`` as indented JSON, written atomically."""
    write_text_atomic(path, json.dumps(content, indent=2))
