"""Every round's prediction of a session, saved for visual audits (``--save-masks``).

One compressed ``.npz`` per session in ``OUT/masks/``, named by the session's key
(:func:`masks_path`), holding:

- ``pred``: uint8 [R + 1, X, Y, Z], round 0 first, 1 = tumour, canonical voxel order
  (RAS+, as every array in simedit; the case's file may differ, see ``orientation``);
- ``rounds``: int [R + 1]; ``pred_sha``: the rows' digests, str [R + 1];
- ``case``, ``method``, ``user``, ``user_seed``: the key, and ``spacing``: mm along X, Y, Z.

A file is written whole to a temporary name and renamed, before its session's row, so
a killed run leaves no half file and a finished session always has its masks.
"""

from __future__ import annotations

import re
import zlib
from pathlib import Path

import numpy as np

from benchmark.atomic import write_atomic
from benchmark.digests import mask_digest

MASKS_DIR = "masks"


def masks_path(out: Path | str, case: str, method: str, user: str, user_seed: int = 0) -> Path:
    """Where a session's masks go: ``OUT/masks/<case>/<method>__<user>[#<seed>]-<crc>.npz``,
    the names made file-safe and the CRC-32 of the exact key keeping them apart."""
    safe = [re.sub(r"[^A-Za-z0-9._-]+", "_", part).strip("._") or "_" for part in (case, method, user)]
    key = (case, method, user) + ((str(user_seed),) if user_seed else ())
    crc = zlib.crc32("\0".join(key).encode())
    seed = f"#{user_seed}" if user_seed else ""
    return Path(out) / MASKS_DIR / safe[0] / f"{safe[1]}__{safe[2]}{seed}-{crc:08x}.npz"


def write_masks(out: Path | str, case: str, method: str, user: str, user_seed: int, masks: np.ndarray,
                spacing: tuple[float, float, float]) -> Path:
    """Write a session's predictions (bool [R + 1, X, Y, Z]) atomically; returns the file."""
    masks = np.asarray(masks, bool)
    if masks.ndim != 4:
        raise ValueError(f"masks must be bool [R + 1, X, Y, Z], got shape {masks.shape}")
    path = masks_path(out, case, method, user, user_seed)
    write_atomic(path, lambda f: np.savez_compressed(
        f, pred=masks.astype(np.uint8), rounds=np.arange(len(masks)), pred_sha=np.array([mask_digest(m) for m in masks]),
        case=case, method=method, user=user, user_seed=int(user_seed), spacing=np.asarray(spacing, np.float64)))
    return path


def read_masks(out: Path | str, case: str, method: str, user: str, user_seed: int = 0) -> np.ndarray | None:
    """A session's saved predictions, bool [R + 1, X, Y, Z]; None when none were saved."""
    path = masks_path(out, case, method, user, user_seed)
    if not path.exists():
        return None
    with np.load(path) as f:
        return f["pred"].astype(bool)
