"""How strongly the editing network G answers each tool: ``simedit diagnose editor``.

Four measurements on held-out cases, each a pure function of the cases and networks:

- :func:`tool_response`: one round of each test-time user (selection, brush,
  adjustment, multi) on G's unedited prediction: the mean Dice gain, the share of cases
  the edit improved, and the voxels G flipped within ``near_mm`` of the edit's voxels and
  beyond (an adjustment has no place, so all its flips count as far).
- :func:`k_response`: G's volume at each K relative to its unedited volume, for the
  cases G over-segments and those it under-segments (the typed K that would fix a volume
  error is ``1 - V_pred / V_gt``: -0.5 asks for 0.67x, +0.5 for 2x).
- :func:`training_edits`: the edits G's training loop draws, as it draws them (counts
  per tool, signs and sizes of K, the errors the edits came from).

Together they say whether G ignores an edit, answers it locally, or answers it in one
direction only; the closing notes of issue 15 quote them before and after a change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
import dataclasses
import json
import zlib
from dataclasses import dataclass
from pathlib import Path

import click
import numpy as np

from benchmark.case import Case
from benchmark.edit_quality import edit_voxels, locality
from benchmark.edits import Adjustment, EditHistory
from benchmark.method import Method
from benchmark.metrics import dice
from benchmark.policy import RoundState
from benchmark.registry import make_user

#: The test-time users measured one round each (specs for :func:`benchmark.registry.make_user`).
USERS = ("selection", "brush", "adjustment", "multi")
KS = (-0.5, -0.3, -0.1, 0.0, 0.1, 0.3, 0.5)


@dataclass(frozen=True)
class ToolRow:
    """One user's round on one case."""

    case: str
    user: str
    edits: int
    dice_before: float
    dice_after: float
    flips_near: int
    flips_far: int


@dataclass(frozen=True)
class KRow:
    """G's volume at one K on one case; ``over``: G's unedited mask is larger than the truth."""

    case: str
    k: float
    over: bool
    volume_ratio: float
    dice: float


def _flips(before: np.ndarray, after: np.ndarray, edits: list, spacing: Sequence[float],
           near_mm: float) -> tuple[int, int]:
    """Voxels flipped within ``near_mm`` of the edits' voxels and beyond, from
    :func:`benchmark.edit_quality.locality` (an edit without voxels: every flip is far)."""
    changed = int(np.count_nonzero(before != after))
    if changed == 0:
        return 0, 0
    share_far, _ = locality(before, after, edit_voxels(edits, before.shape), tuple(spacing), near_mm)
    far = changed if np.isnan(share_far) else int(round(share_far * changed))
    return changed - far, far


def tool_response(cases: Iterable[Case], editor: Method, users: Sequence[str] = USERS, near_mm: float = 5.0,
                  seed: int = 0) -> list[ToolRow]:
    """One round of each user in ``users`` on ``editor``'s unedited prediction of each case.

    Args:
        cases: held-out cases (their labels drive the users and the scores).
        editor: the editing method (G).
        users: test-time user specs.
        near_mm: a flipped voxel within this distance of an edit voxel counts as near.
        seed: the users' random streams (one per case and user, independent of order).
    """
    rows = []
    for case in cases:
        image = case.without_label()
        before = np.asarray(editor.predict(image, EditHistory()), bool)
        for user in users:
            rng = np.random.default_rng([seed, zlib.crc32(f"{case.case_id}/{user}".encode())])
            edits = list(make_user(user, "test").propose(RoundState(case.label, before, EditHistory(), 1, case.spacing),
                                                         rng))
            after = before if not edits else np.asarray(editor.predict(image, EditHistory().add(edits)), bool)
            rows.append(ToolRow(case.case_id, user, len(edits), dice(before, case.label), dice(after, case.label),
                                *_flips(before, after, edits, case.spacing, near_mm)))
    return rows


def k_response(cases: Iterable[Case], editor: Method, ks: Sequence[float] = KS) -> list[KRow]:
    """``editor``'s volume at each K of ``ks`` over its unedited volume, per case."""
    rows = []
    for case in cases:
        image = case.without_label()
        base = np.asarray(editor.predict(image, EditHistory()), bool)
        v0 = max(int(np.count_nonzero(base)), 1)
        over = bool(np.count_nonzero(base) > np.count_nonzero(case.label))
        for k in ks:
            p = base if k == 0 else np.asarray(editor.predict(image, EditHistory().add([Adjustment(float(k))])), bool)
            rows.append(KRow(case.case_id, float(k), over, np.count_nonzero(p) / v0, dice(p, case.label)))
    return rows


@dataclass(frozen=True)
class SessionGain:
    """Mean Dice over the cases before any edit (b), after the first round (d) and at the
    end (e) of a session of ``user`` with its budget, and its mean edits per case.

    ``just_reached``: the (e) of an editor whose every session ends exactly at the user's
    target (the mean of max(unedited Dice, target)): a user who stops at the target caps
    what editing adds, so (e) - (b) reads against just_reached - (b); an edit that
    overshoots the target can still end above it.
    """

    unedited: float
    one_round: float
    final: float
    edits: float
    just_reached: float = float("nan")


def session_gain(cases: Sequence[Case], editor: Method, user: str = "multi:target_dice=0.9", rounds: int = 5,
                 seed: int = 0) -> SessionGain:
    """The seed-paper protocol's (b), (d) and (e) in one pass: sessions of ``user`` (stopping
    at its target) with ``rounds`` rounds, the session streams of a run with ``seed``."""
    from benchmark.runner import session_rng
    from benchmark.session import SessionConfig, run_session

    config = SessionConfig(max_rounds=rounds, target_dice=None, hd95=False)
    runs = [run_session(c, editor, make_user(user), config, session_rng(seed, c.case_id, editor.name, user),
                        user_name=user) for c in cases]
    target = getattr(make_user(user), "target_dice", None)
    first = [r.rounds[0].dice for r in runs]
    return SessionGain(float(np.mean(first)), float(np.mean([r.rounds[min(1, len(r.rounds) - 1)].dice for r in runs])),
                       float(np.mean([r.final_dice for r in runs])), float(np.mean([r.n_edits for r in runs])),
                       float(np.mean(np.maximum(first, target))) if target is not None else float("nan"))


def training_edits(samples: Callable[[np.random.Generator], tuple[EditHistory, np.ndarray, np.ndarray]], n: int,
                   seed: int = 0) -> dict[str, float]:
    """What ``n`` training samples held.

    Args:
        samples: draws one training sample as the loop does: (its edits, the prediction
            they were simulated from, the target), masks bool [X, Y, Z].
        n: samples to draw.

    Returns:
        Shares of samples with each tool and with none, the typed K's share below zero
        and its quartiles (over the samples with an adjustment), and the median relative
        false-positive and false-negative volume of the predictions the edits came from.
    """
    rng = np.random.default_rng(seed)
    tools: dict[str, int] = {"selection": 0, "brush": 0, "adjustment": 0, "none": 0}
    ks, fp, fn = [], [], []
    for _ in range(n):
        history, prediction, target = samples(rng)
        present = {e.tool for e in history.edits}
        for tool in present & set(tools):
            tools[tool] += 1
        tools["none"] += not present
        if "adjustment" in present:
            ks.append(history.k_total)
        volume = max(int(np.count_nonzero(target)), 1)
        fp.append(np.count_nonzero(prediction & ~target) / volume)
        fn.append(np.count_nonzero(~prediction & target) / volume)
    out = {f"share_{tool}": count / n for tool, count in tools.items()}
    k = np.asarray(ks, float)
    out.update(k_samples=float(len(k)), share_k_negative=float(np.mean(k < 0)) if len(k) else float("nan"))
    for q in (25, 50, 75):
        out[f"k_q{q}"] = float(np.percentile(k, q)) if len(k) else float("nan")
    out.update(median_fp_share=float(np.median(fp)), median_fn_share=float(np.median(fn)))
    return out


def summarise_tools(rows: Sequence[ToolRow]) -> list[dict[str, float | str]]:
    """Per user: cases, cases with an edit, mean Dice gain (points), share improved, mean flips near and far."""
    out = []
    for user in dict.fromkeys(r.user for r in rows):
        mine = [r for r in rows if r.user == user]
        gain = np.array([r.dice_after - r.dice_before for r in mine])
        out.append({"user": user, "cases": len(mine), "edited": sum(r.edits > 0 for r in mine),
                    "gain_points": 100 * float(gain.mean()), "improved": float(np.mean(gain > 0)),
                    "flips_near": float(np.mean([r.flips_near for r in mine])),
                    "flips_far": float(np.mean([r.flips_far for r in mine]))})
    return out


def summarise_k(rows: Sequence[KRow]) -> list[dict[str, float | str]]:
    """Per K: mean volume ratio over all cases, over the over- and the under-segmented ones, and mean Dice."""
    out = []
    for k in sorted({r.k for r in rows}):
        at = [r for r in rows if r.k == k]
        groups: Mapping[str, list[KRow]] = {"all": at, "over": [r for r in at if r.over],
                                            "under": [r for r in at if not r.over]}
        row: dict[str, float | str] = {"k": k, "wanted": 1 / (1 - k) if k < 1 else float("inf")}
        for name, group in groups.items():
            row[f"ratio_{name}"] = float(np.mean([r.volume_ratio for r in group])) if group else float("nan")
        row["cases_over"] = float(len(groups["over"]))
        row["dice"] = float(np.mean([r.dice for r in at]))
        out.append(row)
    return out


def training_sampler(editor_checkpoint: str | Path, data: str | Path, progress: bool = False
                     ) -> Callable[[np.random.Generator], tuple[EditHistory, np.ndarray, np.ndarray]]:
    """Draws training samples as G's training loop drew them: its checkpoint's settings,
    training split and F (the ``base_checkpoint`` it recorded), on the cases in ``data``."""
    from baselines.editing_network.training import TrainConfig, load_training_cases
    from baselines.editing_network.training_edits import PredictionCache, draw_sample
    from baselines.editing_network.method import NetworkMethod
    from baselines.networks.checkpoint import load_checkpoint
    from benchmark.digests import file_digest
    from benchmark.io import discover

    ckpt = load_checkpoint(editor_checkpoint)
    if ckpt.training.get("kind") != "editor" or "base_checkpoint" not in ckpt.training:
        raise ValueError(f"{editor_checkpoint}: not an editor checkpoint from `simedit train editor`")
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    config = TrainConfig(**{k: v for k, v in ckpt.training["config"].items() if k in known})
    base_path = Path(ckpt.training["base_checkpoint"])
    if not base_path.is_file():
        raise ValueError(f"{editor_checkpoint}: its F, {base_path}, is not there; train edits need it")
    by_id = {r.case_id: r for r in discover(data)}
    missing = [c for c in ckpt.split["train"] if c not in by_id]
    if missing:
        raise ValueError(f"{data}: lacks {len(missing)} of G's training cases (e.g. {missing[0]}); give its data folder")
    base = NetworkMethod.from_checkpoint("base", base_path)
    cache = PredictionCache(base_path.with_suffix(".predictions"), file_digest(base_path))
    cases = load_training_cases([by_id[c] for c in ckpt.split["train"]], base, cache, np.random.default_rng(config.seed),
                                config.policy_options(), progress, config.target_shifts_mm)

    def draw(rng: np.random.Generator) -> tuple[EditHistory, np.ndarray, np.ndarray]:
        case = cases[int(rng.integers(len(cases)))]
        history, target = draw_sample(case.label, case.pool, rng, config.tool_p, config.shift_only_with_k)
        return history, case.prediction, target

    return draw


def _table(rows: Sequence[Mapping[str, float | str]]) -> str:
    head = list(rows[0])
    cell = lambda v: f"{v:.3f}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = [" ".join(f"{h:>12s}" for h in head)]
    lines += [" ".join(f"{cell(r[h]):>12s}" for h in head) for r in rows]
    return "\n".join(lines)


@click.command("diagnose")
@click.argument("editor", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--data", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="The cases; those in none of G's splits are measured.")
@click.option("--near-mm", default=5.0, show_default=True, type=click.FloatRange(min=0),
              help="A flipped voxel this close to an edit voxel counts as near.")
@click.option("--samples", default=500, show_default=True, type=click.IntRange(min=1),
              help="Training samples drawn for their edit statistics.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), help="Also write the numbers here.")
@click.option("--device", default="cpu", show_default=True, type=click.Choice(["cpu", "cuda"]))
def diagnose_command(editor: Path, data: Path, near_mm: float, samples: int, json_out: Path | None, device: str) -> None:
    """How strongly the editing network EDITOR (a G checkpoint) answers each tool, on held-out cases."""
    from baselines.editing_network.method import checkpoint_cases
    from benchmark.io import discover
    from benchmark.registry import MethodOptions, make_method

    try:
        seen = checkpoint_cases(editor)
        refs = [r for r in discover(data) if r.case_id not in seen]
        if not refs:
            raise ValueError(f"{data}: every case is in {editor.name}'s training or validation split; nothing held out")
        method = make_method(f"editor={editor}", MethodOptions(device=device))
        cases = [r.load() for r in refs]
        gain = session_gain(cases, method)
        tools = summarise_tools(tool_response(cases, method, near_mm=near_mm))
        ks = summarise_k(k_response(cases, method))
        train = training_edits(training_sampler(editor, data), samples)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"{editor}: {len(cases)} held-out cases of {data}\n\nSessions of multi:target_dice=0.9, 5 rounds "
               f"(the seed-paper protocol's b, d, e): Dice {gain.unedited:.3f} unedited, {gain.one_round:.3f} after one "
               f"round, {gain.final:.3f} at the end, {gain.edits:.2f} edits per case (every session ending just at "
               f"the target: {gain.just_reached:.3f})\n\nOne round of each user (gain in Dice points; "
               f"flips within {near_mm:g} mm of the edit's voxels and beyond):\n{_table(tools)}\n\n"
               f"Volume at K over the unedited volume (wanted: the ratio that K asks for):\n{_table(ks)}\n\n"
               f"{samples} training samples as the loop draws them:\n{_table([train])}")
    if json_out is not None:
        json_out.write_text(json.dumps({"editor": str(editor), "cases": [c.case_id for c in cases],
                                        "sessions": dataclasses.asdict(gain), "tools": tools,
                                        "k": ks, "training": train}, indent=1))
