"""The results of a run: tidy, append-only tables in one folder.

A results folder holds:

- ``rounds.csv``: one row per (case, method, user, round), columns :data:`ROUND_COLUMNS`.
  Round 0 is the method's prediction before any edit.
- ``sessions.csv``: one row per attempted session, columns :data:`SESSION_COLUMNS`;
  ``status`` is ``ok`` or ``failed`` (with the error). A re-run appends again, and the
  readers keep the last row per key.
- ``edits.jsonl``: one JSON object per round with edits, for figures and audits.
- ``run.json``: the run's configuration, seed, package versions and git commit.

Rows of a session are written together, rounds first and its session row last, each
file flushed and fsynced, so a killed run keeps every finished session and a re-run
into the same folder skips them.
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from benchmark.atomic import write_text_atomic

ROUNDS_FILE = "rounds.csv"
SESSIONS_FILE = "sessions.csv"
EDITS_FILE = "edits.jsonl"
RUN_FILE = "run.json"

SessionKey = tuple[str, str, str, int]  # (case, method, user, user_seed)


@dataclass(frozen=True)
class RoundRecord:
    """One row of ``rounds.csv``.

    Attributes:
        dice: Dice of this round's prediction against the label (both empty: 1).
        hd95: 95th-percentile Hausdorff distance in mm (NaN when undefined or skipped).
        n_edits: edits made so far (cumulative, this round's included).
        tools: this round's edit tools, ``;``-joined in the order made ("" in round 0).
        unsupported: tools of this round's edits the method does not accept, ``;``-joined.
        user_ms: time the simulated user took to propose this round's edits.
        model_ms: time the method took to predict this round (``predict`` as a whole).
        forward_ms: of that, the network's forward passes alone, for methods that
            report it (attribute ``last_forward_ms``); NaN otherwise.
        volume_ml: predicted volume in millilitres.
        nsd: normalised surface Dice at the protocol's tolerance (``metrics: {nsd: MM}``),
            by the protocol's conventions; NaN when not asked for.
        timed_out: 1 when the call passed the time limit (or the method said so) and its
            prediction was replaced as ``on_timeout`` says, else 0.
        fixed, broken: voxels wrong in the previous round's prediction and right in this
            one, and right before and wrong now (NaN in round 0); ``broken`` > 0 is the
            harm a round did. fixed_ml, broken_ml: the same in millilitres.
        fp_ml, fn_ml: autoPET's false-positive volume (predicted components touching no
            tumour) and false-negative volume (tumour components the prediction misses).
        far_share, reach_mm: of the voxels that changed this round, the share farther
            than the locality radius from every voxel of this round's edits, and the
            95th percentile of their distance to them (NaN in round 0, when nothing
            changed, or when the edits have no voxels: adjustments).
        effort_s: seconds a person would have spent on the session's edits so far, by
            the run's effort model (:mod:`benchmark.effort`; 0 in round 0).
        pred_sha: short SHA-256 of this round's predicted mask
            (:func:`benchmark.digests.mask_digest`), what ``simedit replay`` checks.
        run_sha: the digest of everything that made the run this row was written in
            (settings, data, checkpoints, simedit's version and tree; ``run.json``).
        user_seed: which simulated person of a population made the session (0..R-1 for
            ``repeats: R``; 0 without repeats). A session is (case, method, user, user_seed).
    """

    case: str
    method: str
    user: str
    round: int
    dice: float
    hd95: float
    n_edits: int
    tools: str
    unsupported: str
    user_ms: float
    model_ms: float
    forward_ms: float
    volume_ml: float
    nsd: float = float("nan")
    timed_out: int = 0
    fixed: float = float("nan")
    broken: float = float("nan")
    fixed_ml: float = float("nan")
    broken_ml: float = float("nan")
    fp_ml: float = float("nan")
    fn_ml: float = float("nan")
    far_share: float = float("nan")
    reach_mm: float = float("nan")
    effort_s: float = float("nan")
    pred_sha: str = ""
    run_sha: str = ""
    user_seed: int = 0


@dataclass(frozen=True)
class SessionRecord:
    """One row of ``sessions.csv``.

    Attributes:
        status: "ok" or "failed".
        stop_reason: "target" (Dice target reached), "user" (the user had nothing more
            to fix), "budget" (round budget spent), or "" when failed.
        rounds: rounds with edits that were run (0 when only the initial prediction).
        error: ``Type: message`` of a failure, "" otherwise.
        user_seed: as in :class:`RoundRecord`.
    """

    case: str
    method: str
    user: str
    status: str
    stop_reason: str
    rounds: int
    final_dice: float
    n_edits: int
    wall_s: float
    error: str = ""
    user_seed: int = 0

    @property
    def key(self) -> SessionKey:
        return (self.case, self.method, self.user, self.user_seed)


ROUND_COLUMNS = tuple(f.name for f in fields(RoundRecord))
SESSION_COLUMNS = tuple(f.name for f in fields(SessionRecord))
_KEY = ["case", "method", "user", "user_seed"]
_TEXT = {"case": str, "method": str, "user": str, "tools": str, "unsupported": str, "pred_sha": str, "run_sha": str,
         "status": str, "stop_reason": str, "error": str}


class ResultsWriter:
    """Appends sessions to a results folder; knows which sessions are finished."""

    def __init__(self, out_dir: Path | str) -> None:
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        for name, columns, record in ((ROUNDS_FILE, ROUND_COLUMNS, RoundRecord),
                                      (SESSIONS_FILE, SESSION_COLUMNS, SessionRecord)):
            path = self.out_dir / name
            if not path.exists() or not _complete_lines(path.read_text(encoding="utf-8")):
                write_text_atomic(path, _csv_lines([columns]))  # new, or a header cut short by a kill
            else:
                _check_header(path, columns, record)
        self._drop_unfinished()

    def _drop_unfinished(self) -> None:
        """Make the files hold finished sessions only, before anything is appended.

        A run killed inside a session's write leaves its rounds and edits without their
        session row (the session runs again and would write them twice), or a line cut
        short (the next append would be glued onto it). Rows and edits of sessions that
        have no session row of status ok, and lines cut short, are dropped, each file
        rewritten atomically and only when it has something to drop.
        """
        _rewrite(self.out_dir / SESSIONS_FILE, _complete_lines)
        done = {(c, m, u, str(int(s))) for c, m, u, s in self.finished()}
        self._keep(lambda key: key in done, sessions=False)

    def drop_sessions(self, keys: set[SessionKey]) -> None:
        """Remove every row and edit of these sessions (to run them again), atomically per file."""
        gone = {(c, m, u, str(int(s))) for c, m, u, s in keys}
        if gone:
            self._keep(lambda key: key not in gone, sessions=True)

    def _keep(self, keep: Any, sessions: bool) -> None:
        tables = [(ROUNDS_FILE, ROUND_COLUMNS)] + ([(SESSIONS_FILE, SESSION_COLUMNS)] if sessions else [])
        for name, columns in tables:
            _rewrite(self.out_dir / name, lambda text, columns=columns: _kept_rows(text, columns, keep))
        _rewrite(self.out_dir / EDITS_FILE, lambda text: _kept_edits(text, keep))

    def finished(self) -> set[SessionKey]:
        """Sessions whose last attempt finished with status ok."""
        sessions = read_sessions(self.out_dir)
        ok = sessions[sessions["status"] == "ok"]
        return set(zip(ok["case"], ok["method"], ok["user"], ok["user_seed"].astype(int)))

    def write(self, session: SessionRecord, rounds: Iterable[RoundRecord] = (),
              edits: Iterable[dict[str, Any]] = ()) -> None:
        """Append one session: its rounds, its edits, then its session row."""
        rows = [[getattr(r, c) for c in ROUND_COLUMNS] for r in rounds]
        if rows:
            _append(self.out_dir / ROUNDS_FILE, _csv_lines(rows))
        lines = "".join(json.dumps(e, separators=(",", ":")) + "\n" for e in edits)
        if lines:
            _append(self.out_dir / EDITS_FILE, lines)
        _append(self.out_dir / SESSIONS_FILE, _csv_lines([[getattr(session, c) for c in SESSION_COLUMNS]]))


def _complete_lines(text: str) -> str:
    """``text`` without a last line cut short (one not ended by a newline)."""
    return text[: text.rfind("\n") + 1]


def _kept_rows(text: str, columns: tuple[str, ...], keep: Any) -> str:
    """The header and the rows whose session key ``keep`` accepts, of a table's complete lines."""
    lines = _complete_lines(text).splitlines(keepends=True)
    where = [columns.index(c) for c in _KEY]

    def kept(line: str) -> bool:
        row = next(csv.reader([line]), [])
        if len(row) != len(columns):
            return False
        case, method, user, seed = (row[i] for i in where)
        return keep((case, method, user, _seed_text(seed)))

    return "".join(lines[:1] + [line for line in lines[1:] if kept(line)])


def _kept_edits(text: str, keep: Any) -> str:
    """The complete JSON lines of ``edits.jsonl`` whose session key ``keep`` accepts."""
    out = []
    for line in _complete_lines(text).splitlines(keepends=True):
        try:
            entry = json.loads(line)
            key = (entry["case"], entry["method"], entry["user"], _seed_text(entry.get("user_seed", 0)))
        except (json.JSONDecodeError, KeyError, TypeError):
            continue
        if keep(key):
            out.append(line)
    return "".join(out)


def _seed_text(seed: Any) -> str:
    try:
        return str(int(float(seed)))
    except (TypeError, ValueError):
        return str(seed)


def _rewrite(path: Path, keep: Any) -> None:
    """Replace ``path`` by ``keep(its text)`` atomically when that differs."""
    if not path.exists():
        return
    text = path.read_text(encoding="utf-8")
    kept = keep(text)
    if kept != text:
        write_text_atomic(path, kept)


def _csv_lines(rows: Iterable[Iterable[Any]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def _append(path: Path, text: str) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def _added_defaults(header: tuple[str, ...], columns: tuple[str, ...], record: type) -> list[Any] | None:
    """The default values of the columns an older simedit's table lacks (its header a
    prefix of ``columns``, every added column with a default); None when it is not one."""
    defaults = {f.name: f.default for f in fields(record)}
    added = columns[len(header):]
    if tuple(header) != columns[:len(header)] or not all(defaults[c] is not MISSING for c in added):
        return None
    return [defaults[c] for c in added]


def _check_header(path: Path, columns: tuple[str, ...], record: type) -> None:
    """The file has ``columns``; a file of an older simedit whose columns are a prefix of
    them is rewritten with the added columns at their defaults (NaN NSD, not timed out),
    atomically, so its finished sessions stay finished."""
    with open(path, encoding="utf-8") as f:
        header = tuple(f.readline().strip().split(","))
    if header == columns:
        return
    fill = _added_defaults(header, columns, record)
    if fill is None:
        raise ValueError(
            f"{path}: columns {list(header)} do not match this version of simedit {list(columns)}; "
            "write the run into a new folder"
        )
    rows = list(csv.reader(io.StringIO(_complete_lines(path.read_text(encoding="utf-8")))))[1:]
    write_text_atomic(path, _csv_lines([columns]) + _csv_lines(r + fill for r in rows if len(r) == len(header)))


def _read(path: Path, columns: tuple[str, ...], key: list[str], record: type) -> pd.DataFrame:
    """The table at ``path``; one of an older simedit (its columns a prefix of ``columns``)
    reads with the added columns at their defaults, as the writer would upgrade it."""
    if not path.exists():
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    text = path.read_text(encoding="utf-8")
    if not text.endswith("\n"):  # the last line was cut short by a killed run
        text = text[: text.rfind("\n") + 1]
    rows = list(csv.reader(io.StringIO(text)))
    header = tuple(rows[0]) if rows else columns
    fill = _added_defaults(header, columns, record) or []
    width = len(columns) - len(fill)
    lines = [r + fill for r in rows[1:] if len(r) == width]
    df = pd.DataFrame(lines, columns=list(columns))
    for c in columns:
        if c not in _TEXT:
            df[c] = pd.to_numeric(df[c], errors="coerce")
    return df.drop_duplicates(subset=key, keep="last").reset_index(drop=True)


def read_rounds(out_dir: Path | str) -> pd.DataFrame:
    """``rounds.csv`` as a DataFrame, one row per (case, method, user, user_seed, round)."""
    return _read(Path(out_dir) / ROUNDS_FILE, ROUND_COLUMNS, _KEY + ["round"], RoundRecord)


def read_sessions(out_dir: Path | str) -> pd.DataFrame:
    """``sessions.csv`` as a DataFrame, the last attempt of each session."""
    return _read(Path(out_dir) / SESSIONS_FILE, SESSION_COLUMNS, _KEY, SessionRecord)


def read_edits(out_dir: Path | str) -> list[dict[str, Any]]:
    """``edits.jsonl`` as a list of {case, method, user, round, edits: [...]}, with
    ``user_seed`` (written only where it is not 0; 0 filled in here)."""
    path = Path(out_dir) / EDITS_FILE
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:  # a line cut short by a killed run
            continue
        entry.setdefault("user_seed", 0)
        out.append(entry)
    return out

