"""SHA-256 digests of what a result depends on (checkpoints, model folders, plug-ins,
data, settings) and of the predictions themselves."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np


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


#: Hex digits of :func:`mask_digest` kept in ``rounds.csv`` (64 bits: two different
#: predictions share a digest with probability 2^-64).
MASK_DIGEST_CHARS = 16


def mask_digest(mask: np.ndarray) -> str:
    """Short hex SHA-256 of a bool mask: its shape and its voxels packed to bits in C
    order, so equal masks (of equal shape) and only they have equal digests.

    Args:
        mask: bool [X, Y, Z].
    """
    mask = np.asarray(mask)
    if mask.dtype != bool:
        raise ValueError(f"mask_digest needs a bool mask, got {mask.dtype}")
    h = hashlib.sha256(repr(tuple(mask.shape)).encode())
    h.update(np.packbits(np.ascontiguousarray(mask), axis=None).tobytes())
    return h.hexdigest()[:MASK_DIGEST_CHARS]


def json_digest(value: Any) -> str:
    """Hex SHA-256 of a JSON value, keys sorted: equal settings, equal digest."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()
