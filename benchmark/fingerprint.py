"""A run's fingerprint: one digest of everything that made its results.

``run.json`` holds it and every row of ``rounds.csv`` carries its short form
(``run_sha``), so a reader can tell whether two tables were made by the same settings,
data, checkpoints and code, and which rows of a resumed run were made by which:

- the settings that decide results (the run's configuration without its paths, its
  parallelism and the output options), checkpoint SHA-256s included;
- the data: SHA-256 of every case file's bytes (images and labels of the run's cases),
  with their names relative to the data folder, so a copy elsewhere matches;
- the code: simedit's version, the git commit of its checkout and whether its tree had
  changes (``git status --porcelain``: modified or untracked files).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmark.digests import file_digest, json_digest

#: Hex digits of the run digest kept in the rows (``run_sha``).
RUN_DIGEST_CHARS = 16
#: Settings of a run's configuration that name places or speeds, not results.
_NOT_IDENTITY = ("out", "data", "jobs", "scheduler", "save_masks", "repeats")


def code_state() -> dict[str, Any]:
    """``{"simedit": version, "git_commit": sha or None, "git_dirty": bool or None}``
    of the simedit that runs (None where it is not a git checkout)."""
    try:
        version = metadata.version("simedit")
    except metadata.PackageNotFoundError:
        version = None
    here = Path(__file__).parent
    commit = _git(here, "rev-parse", "HEAD")
    status = _git(here, "status", "--porcelain") if commit else None
    return {"simedit": version, "git_commit": commit, "git_dirty": None if status is None else bool(status)}


def _git(where: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=where, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


@lru_cache(maxsize=4096)
def _cached_digest(path: str, size: int, mtime_ns: int) -> str:
    return file_digest(path)


def data_digest(files: Iterable[Path], root: Path) -> str:
    """Hex SHA-256 over the files' names relative to ``root`` and their bytes' SHA-256
    (each file hashed once per process while its size and mtime stay)."""
    lines = []
    for path in sorted(Path(p) for p in files):
        stat = path.stat()
        name = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name
        lines.append(f"{name}\0{_cached_digest(str(path), stat.st_size, stat.st_mtime_ns)}")
    return json_digest(lines)


def run_fingerprint(config: dict[str, Any], case_files: Iterable[Path], data_root: Path) -> dict[str, Any]:
    """The fingerprint of a run.

    Args:
        config: the run's configuration as ``RunConfig.to_json`` gives it (with the
            checkpoints' digests).
        case_files: the run's case files (images and labels) that exist.
        data_root: the data folder the names are taken relative to.

    Returns:
        ``{"run_sha": 16 hex digits, "digest": full hex, "data_sha": hex,
        "data_files": n, "code": code_state()}``.
    """
    files = list(case_files)
    settings = {k: v for k, v in config.items() if k not in _NOT_IDENTITY}
    settings["method_options"] = {k: v for k, v in settings.get("method_options", {}).items()
                                  if k not in ("threads", "workdir")}
    data = data_digest(files, Path(data_root))
    code = code_state()
    digest = json_digest({"settings": settings, "data": data, "code": code})
    return {"run_sha": digest[:RUN_DIGEST_CHARS], "digest": digest, "data_sha": data, "data_files": len(files),
            "code": code}
