"""Commands and checks shared by the external-method tests."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import numpy as np

import baselines.external
from benchmark.edits import Click, EditHistory

PROGRAMS = Path(__file__).parent / "programs"
REFERENCE = Path(baselines.external.__file__).parent


def command(script: Path, *args: object) -> str:
    """``python SCRIPT ARGS...`` quoted for a spec (placeholders survive quoting)."""
    return shlex.join([sys.executable, str(script), *map(str, args)])


def misbehaving(mode: str, extra: Path | None = None) -> str:
    """The command of programs/misbehave.py in ``mode``."""
    return command(PROGRAMS / "misbehave.py", mode, "{inputs}", "{outputs}", *([extra] if extra else []))


def reference(exchange: str) -> str:
    """The command of the reference program of ``exchange`` ("process" or "cvpr25")."""
    return command(REFERENCE / f"paint_clicks_{exchange}.py", "{inputs}", "{outputs}")


def clicks(*rounds: list[tuple[tuple[int, int, int], bool]]) -> EditHistory:
    """A history of click rounds: each round a list of (voxel, positive)."""
    history = EditHistory()
    for r in rounds:
        history = history.add(Click(v, p) for v, p in r)
    return history


def voxel_ball(shape, centre, radius=5) -> np.ndarray:
    """bool [X, Y, Z]: voxels within ``radius`` voxels of ``centre``."""
    grids = np.ogrid[tuple(slice(0, n) for n in shape)]
    return sum((g - c) ** 2 for g, c in zip(grids, centre)) <= radius**2


def alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie waiting for its parent does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")
