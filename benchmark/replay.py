"""``simedit replay``: re-run a results folder's sessions from its edits alone and check
every round's prediction against the table.

A round's prediction depends only on the method, the image and the edits the method was
given, and ``edits.jsonl`` holds every edit. Replay rebuilds each method from
``run.json``, feeds it each session's edits round by round (no simulated user, no ground
truth), and compares the digest of every prediction with the row's ``pred_sha``. It
names the first round that differs; a checkpoint whose bytes are not those the run
used (``run.json`` keeps their SHA-256) fails the replay too, even where the predictions
happen to agree. A folder copied to another machine is checkable there: ``--data``,
``--checkpoints`` and ``--workdir`` say where its data and checkpoints are now.

A round that timed out in the run is not called again: its prediction was replaced
(``on_timeout``), and the replacement's digest is checked.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import numpy as np

from benchmark.digests import mask_digest
from benchmark.edits import EditHistory, edit_from_json
from benchmark.io import discover, load_image
from benchmark.masks import read_masks
from benchmark.protocol.schema import EXPERIMENTS_DIR
from benchmark.registry.methods import MethodOptions, checkpoint_digests, make_method
from benchmark.results import RUN_FILE, SessionKey, read_edits, read_rounds, read_sessions
from benchmark.session import as_mask
from benchmark.specs import parse_method_spec


@dataclass(frozen=True)
class Difference:
    """A session whose replay departed from the table, at its first differing round."""

    case: str
    method: str
    user: str
    user_seed: int
    round: int
    detail: str

    def __str__(self) -> str:
        seed = f" (user seed {self.user_seed})" if self.user_seed else ""
        return f"{self.case} / {self.method} / {self.user}{seed}, round {self.round}: {self.detail}"


@dataclass(frozen=True)
class ReplayResult:
    """What a replay of one run folder found.

    Attributes:
        sessions, rounds: how many sessions and rounds were replayed.
        differences: the first differing round of each session that differs.
        problems: what made the folder not replayable as a whole (no digests, a
            checkpoint changed, a method that cannot be built), one line each.
    """

    folder: Path
    sessions: int = 0
    rounds: int = 0
    differences: tuple[Difference, ...] = ()
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.differences and not self.problems


def run_folders(path: Path | str) -> list[Path]:
    """The run folders below ``path``: itself (it holds run.json) or a protocol's
    ``experiments/*`` folders.

    Raises:
        ValueError: no run folder there.
    """
    path = Path(path)
    if (path / RUN_FILE).exists():
        return [path]
    found = sorted(p.parent for p in (path / EXPERIMENTS_DIR).glob(f"*/{RUN_FILE}"))
    if not found:
        raise ValueError(f"{path}: no {RUN_FILE} here or in {EXPERIMENTS_DIR}/*/; give a results folder of "
                         "`simedit run` (a run or a protocol's)")
    return found


def relocate(spec: str, checkpoints: Path | None) -> str:
    """``spec`` with its file or folder argument taken from ``checkpoints`` by name where
    that folder has it (a results folder moved to another machine)."""
    arg = parse_method_spec(spec).arg
    if checkpoints is None or not arg or not (Path(checkpoints) / Path(arg).name).exists():
        return spec
    return spec[: len(spec) - len(arg)] + str(Path(checkpoints) / Path(arg).name)


def replay_run(folder: Path | str, *, data: Path | None = None, workdir: Path | None = None,
               checkpoints: Path | None = None, cases: tuple[str, ...] = (), methods: tuple[str, ...] = (),
               users: tuple[str, ...] = (), device: str | None = None) -> ReplayResult:
    """Replay the finished sessions of one run folder (those that match the filters).

    Args:
        folder: a run folder (run.json, rounds.csv, sessions.csv, edits.jsonl).
        data: where the run's data are now (default: the folder run.json names).
        workdir: the folder relative checkpoint paths resolve against now (default: the run's).
        checkpoints: a folder to take checkpoints from by file name (where it has
            them) instead of the recorded paths; their SHA-256 is checked as any other's.
        cases, methods, users: replay only these (table names; empty: all).
        device: "cpu" or "cuda" (default: the run's).
    """
    folder = Path(folder)
    run = json.loads((folder / RUN_FILE).read_text())
    config = run["config"]
    options = config.get("method_options", {})
    workdir = workdir or (Path(options["workdir"]) if options.get("workdir") else None)
    method_options = MethodOptions(initial=Path(options["initial"]) if options.get("initial") else None,
                                   device=device or options.get("device", "cpu"), threads=options.get("threads"),
                                   workdir=workdir)
    on_timeout = config.get("session", {}).get("on_timeout", "keep")
    rounds = read_rounds(folder)
    if len(rounds) and (rounds["pred_sha"] == "").any():
        return ReplayResult(folder, problems=(f"{folder}: rows without pred_sha were written by a simedit older than "
                                              "replay; they cannot be checked (re-run the sessions into a new "
                                              "folder)",))
    sessions = read_sessions(folder)
    done = sessions[sessions["status"] == "ok"]
    keep = [(c, m, u, int(s)) for c, m, u, s in zip(done["case"], done["method"], done["user"], done["user_seed"])
            if (not cases or c in cases) and (not methods or m in methods) and (not users or u in users)]
    specs = {spec: relocate(spec, checkpoints) for spec in config["methods"]}
    problems = _changed_checkpoints(config.get("checkpoints", {}), specs, workdir)
    built: dict[str, Any] = {}
    for spec in config["methods"]:
        try:
            method = make_method(specs[spec], method_options)
        except Exception as error:  # noqa: BLE001 - reported, the other methods replay
            problems.append(f"method {spec!r} cannot be built here: {type(error).__name__}: {error}")
            continue
        built[method.name] = method
    edits = defaultdict(dict)
    for entry in read_edits(folder):
        edits[(entry["case"], entry["method"], entry["user"], entry["user_seed"])][entry["round"]] = entry["edits"]
    refs = {ref.case_id: ref for ref in discover(Path(data or config["data"]), config.get("layout"),
                                                 sorted({k[0] for k in keep}) or None)} if keep else {}
    differences, n_sessions, n_rounds = [], 0, 0
    for case_id in sorted({k[0] for k in keep}):
        try:
            image = load_image(refs[case_id])
        except Exception as error:  # noqa: BLE001 - a case that cannot be read fails alone
            problems.append(f"case {case_id!r} cannot be read: {type(error).__name__}: {error}")
            continue
        for key in sorted(k for k in keep if k[0] == case_id):
            if key[1] not in built:
                continue
            table = rounds[(rounds["case"] == key[0]) & (rounds["method"] == key[1]) & (rounds["user"] == key[2])
                           & (rounds["user_seed"] == key[3])]
            difference, checked = _replay_session(key, built[key[1]], image, table.sort_values("round"),
                                                  edits.get(key, {}), on_timeout, folder)
            n_sessions, n_rounds = n_sessions + 1, n_rounds + checked
            if difference is not None:
                differences.append(difference)
    return ReplayResult(folder, n_sessions, n_rounds, tuple(differences), tuple(problems))


def _changed_checkpoints(recorded: dict[str, str], specs: dict[str, str], workdir: Path | None) -> list[str]:
    """A line per checkpoint whose bytes are not those run.json recorded (or that is gone)."""
    now = checkpoint_digests(list(specs.values()), workdir)
    lines = []
    for spec, digest in recorded.items():
        found = now.get(specs.get(spec, spec))
        if found != digest:
            what = f"SHA-256 {found[:12]}" if found else "missing (give --checkpoints DIR)"
            lines.append(f"checkpoint of {spec!r} is not the one the run used ({what}, run.json: {digest[:12]}); "
                         "its predictions are another method's")
    return lines


def _replay_session(key: SessionKey, method, image, table, edits: dict[int, list[dict[str, Any]]],
                    on_timeout: str, folder: Path) -> tuple[Difference | None, int]:
    """Replay one session; the first differing round (or None) and the rounds checked."""
    shape = image.shape
    supported = EditHistory()
    previous: np.ndarray | None = None
    for checked, row in enumerate(table.itertuples()):
        r = int(row.round)
        if r > 0:
            if r not in edits:
                return Difference(*key, r, "edits.jsonl has no edits for this round"), checked
            round_edits = [edit_from_json(e) for e in edits[r]]
            tools = ";".join(e.tool for e in round_edits)
            if tools != row.tools:
                return Difference(*key, r, f"edits.jsonl has tools {tools!r}, the table {row.tools!r}"), checked
            supported = supported.add(e for e in round_edits if e.tool in method.tools)
        if int(row.timed_out):
            pred = previous if on_timeout == "keep" and previous is not None else np.zeros(shape, bool)
        else:
            try:
                pred = as_mask(method.predict(image, supported), shape, f"method {method.name!r}")
            except Exception as error:  # noqa: BLE001 - the session differs: the run's method answered
                return Difference(*key, r, f"the method raised {type(error).__name__}: {error}"), checked + 1
        digest = mask_digest(pred)
        if digest != row.pred_sha:
            return Difference(*key, r, f"prediction {digest}, the table {row.pred_sha}"
                              + _saved_difference(folder, key, r, pred)), checked + 1
        previous = pred
    return None, len(table)


def _saved_difference(folder: Path, key: SessionKey, r: int, pred: np.ndarray) -> str:
    saved = read_masks(folder, *key)
    if saved is None or r >= len(saved) or saved[r].shape != pred.shape:
        return ""
    return f" ({int(np.count_nonzero(saved[r] != pred))} voxels differ from the saved mask)"


@click.command("replay")
@click.argument("results", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--case", "cases", multiple=True, help="Replay only these cases.")
@click.option("--method", "methods", multiple=True, help="Replay only these methods (their table names).")
@click.option("--user", "users", multiple=True, help="Replay only these users (as the table spells them).")
@click.option("--data", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Where the run's data are now (default: the folder run.json names).")
@click.option("--workdir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Where relative checkpoint paths resolve now (default: the run's).")
@click.option("--checkpoints", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Take checkpoints from this folder by file name (where it has them), not from the recorded "
                   "paths: for a results folder moved to another machine.")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default=None, help="Default: the run's.")
def replay_command(results, cases, methods, users, data, workdir, checkpoints, device) -> None:
    """Re-run the sessions of RESULTS (a run or protocol folder) from edits.jsonl alone
    and check every round's prediction digest; exits 1 naming the first round that
    differs, or a checkpoint that changed."""
    try:
        folders = run_folders(results)
    except ValueError as error:
        raise click.ClickException(str(error))
    failed = False
    for folder in folders:
        try:
            result = replay_run(folder, data=data, workdir=workdir, checkpoints=checkpoints, cases=cases,
                                methods=methods, users=users, device=device)
        except (ValueError, OSError) as error:
            click.echo(f"{folder}: cannot replay: {error}", err=True)
            failed = True
            continue
        verdict = ("ok" if result.ok else "DIFFERS" if result.differences
                   else "FAILS: every prediction agrees, but not everything the run used is here as it was")
        click.echo(f"{folder}: {result.sessions} sessions, {result.rounds} rounds replayed: {verdict}")
        for line in result.problems:
            click.echo(f"  {line}", err=True)
        for difference in result.differences:
            click.echo(f"  first difference: {difference}", err=True)
        failed |= not result.ok
    if failed:
        raise SystemExit(1)
