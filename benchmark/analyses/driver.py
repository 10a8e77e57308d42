"""The loop every analysis shares: each case loaded once, each method built once.

A case that fails to load, a method that cannot be built, or an analysis that raises
is recorded in the analysis' status table and the others go on; a part of an analysis
that needs a tool the method does not accept is recorded as skipped, with the reason.
Files are written atomically (:mod:`benchmark.atomic`: a partial file beside the target,
then renamed), so a reader never sees half a file.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmark.atomic import write_atomic
from benchmark.registry.methods import MethodOptions, make_method
from benchmark.case import Case
from benchmark.io import CaseRef
from benchmark.method import Method

#: Columns of every analysis' status table: one row per case x method (x item).
STATUS_COLUMNS = ("case", "method", "item", "status", "reason")


@dataclass(frozen=True)
class Outcome:
    """What an analysis made of one case x method.

    Attributes:
        rows: tidy result rows; a row may name a stored slice by its ``panel`` key, an
            index into ``slices`` (renumbered across the run by :func:`analyse_all`).
        slices: the 2D slices to store, in the analysis' own type.
        skipped: (item, reason) for each part left out, e.g. a tool the method lacks.
    """

    rows: tuple[dict[str, Any], ...] = ()
    slices: tuple[Any, ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()


@dataclass
class Collected:
    """Everything a run of one analysis made: rows, slices and status, in order."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    slices: list[Any] = field(default_factory=list)
    status: list[dict[str, str]] = field(default_factory=list)

    def add(self, case: str, method: str, outcome: Outcome) -> None:
        offset = len(self.slices)
        for row in outcome.rows:
            self.rows.append({**row, "panel": row["panel"] + offset} if "panel" in row else dict(row))
        self.slices.extend(outcome.slices)
        for item, reason in outcome.skipped:
            self.note(case, method, "skipped", reason, item)
        if outcome.rows or not outcome.skipped:
            self.note(case, method, "ok")

    def note(self, case: str, method: str, status: str, reason: str = "", item: str = "") -> None:
        self.status.append({"case": case, "method": method, "item": item, "status": status, "reason": reason})

    def status_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.status, columns=list(STATUS_COLUMNS))


Analyse = Callable[[Case, Method], Outcome]


def _message(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}".replace("\n", " ")


def analyse_all(refs: Sequence[CaseRef], methods: Sequence[str], options: MethodOptions,
                analyse: Analyse, desc: str, progress: bool = True) -> Collected:
    """Run ``analyse`` on every case x method.

    Args:
        refs: the cases (anything with ``case_id`` and ``load() -> Case``).
        methods: method specs for :func:`benchmark.registry.make_method`.
        options: settings shared by the methods.
        analyse: the analysis of one case with one method.
        desc: the progress bar's label.
        progress: show a tqdm progress bar.
    """
    from tqdm.auto import tqdm

    if not methods:
        raise ValueError(f"{desc}: give at least one method spec")
    built: dict[str, Method | BaseException] = {}
    for spec in methods:
        try:
            built[spec] = make_method(spec, options)
        except Exception as error:  # noqa: BLE001 - a broken method fails alone
            built[spec] = error
    collected = Collected()
    with tqdm(total=len(refs) * len(methods), desc=desc, unit="pair", disable=not progress) as bar:
        for ref in refs:
            try:
                case = ref.load()
                load_error = None
            except Exception as error:  # noqa: BLE001 - a broken case fails alone
                load_error = _message(error)
            for spec in methods:
                method = built[spec]
                name = spec if isinstance(method, BaseException) else method.name
                if load_error is not None:
                    collected.note(ref.case_id, name, "failed", load_error)
                elif isinstance(method, BaseException):
                    collected.note(ref.case_id, name, "failed", _message(method))
                else:
                    try:
                        collected.add(ref.case_id, name, analyse(case, method))
                    except Exception as error:  # noqa: BLE001 - a failing pair fails alone
                        collected.note(ref.case_id, name, "failed", _message(error))
                bar.update()
    return collected


def write_tables(out: Path, csvs: dict[str, pd.DataFrame], arrays: dict[str, dict[str, np.ndarray]]) -> None:
    """Write ``arrays`` (npz files, compressed) first, then ``csvs``: a reader that finds
    the CSVs finds the slices they refer to. Temporary files an older simedit left
    beside them (``.<name>.*.tmp``, from a write killed halfway) are removed."""
    out.mkdir(parents=True, exist_ok=True)
    for name in [*arrays, *csvs]:
        for stale in out.glob(f".{name}.*.tmp"):
            stale.unlink(missing_ok=True)
    for name, contents in arrays.items():
        write_atomic(out / name, lambda f, c=contents: np.savez_compressed(f, **c))
    for name, frame in csvs.items():
        write_atomic(out / name, lambda f, t=frame: f.write(t.to_csv(index=False, na_rep="nan").encode()))


@dataclass(frozen=True)
class AnalysisFiles:
    """The files of one analysis in its folder (OUT/analyses): ``<name>.csv`` (the result
    table, columns ``columns``; ``text`` columns stay strings), ``<name>_slices.npz``
    (the stored slices) and ``<name>_status.csv`` (columns :data:`STATUS_COLUMNS`)."""

    name: str
    columns: tuple[str, ...]
    text: tuple[str, ...] = ("case", "method")

    @property
    def table(self) -> str:
        return f"{self.name}.csv"

    @property
    def slices(self) -> str:
        return f"{self.name}_slices.npz"

    @property
    def status(self) -> str:
        return f"{self.name}_status.csv"

    def write(self, out: Path, done: Collected, slices: dict[str, np.ndarray]) -> Path:
        """Write what :func:`analyse_all` collected and its slices (as arrays) into ``out``;
        returns the path of the result table."""
        out = Path(out)
        table = pd.DataFrame(done.rows, columns=list(self.columns))
        write_tables(out, {self.status: done.status_frame(), self.table: table}, {self.slices: slices})
        return out / self.table

    def read(self, folder: Path) -> tuple[pd.DataFrame, pd.DataFrame] | None:
        """(result table, status table) from ``folder``; None when the analysis has not run."""
        folder = Path(folder)
        if not (folder / self.table).exists():
            return None
        return (read_table(folder / self.table, self.columns, text=self.text),
                read_table(folder / self.status, STATUS_COLUMNS, text=STATUS_COLUMNS))


def read_table(path: Path, columns: Sequence[str], text: Sequence[str] = ("case", "method")) -> pd.DataFrame:
    """A CSV written by :func:`write_tables`, checked for ``columns``; ``text`` columns
    stay strings (a case named "NA" is not a missing value)."""
    frame = pd.read_csv(path, keep_default_na=False, na_values=["nan"], dtype={c: str for c in text})
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: lacks columns {missing}; it was not written by this version "
                         "of simedit - run the analysis again")
    return frame
