"""SHA-256 digests of the files a result depends on (checkpoints, model folders, plug-ins)."""

from __future__ import annotations

import hashlib
from pathlib import Path


def file_digest(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def folder_digest(path: str | Path) -> str:
    """Hex SHA-256 over every file below ``path``: its relative name and its digest, in
    sorted order, so a renamed, added, removed or changed file changes it."""
    root = Path(path)
    h = hashlib.sha256()
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        h.update(f"{file.relative_to(root).as_posix()}\0{file_digest(file)}\n".encode())
    return h.hexdigest()
