"""``simedit bench external``: what running an editing method as an external program costs per round.

One rule three ways, side by side in one run: clicks painted as balls of 5 mm (fill
for positive, erase for negative) onto an empty first mask,

- in process: ``ManualPaint`` with an empty first mask (:mod:`baselines.manual_paint.method`);
- ``process=``: the same rule as a program (:mod:`baselines.external.paint_clicks_process`:
  a Python start, numpy and nibabel imports, NIfTI files in and out);
- ``cvpr25=``: the same rule as a challenge submission
  (:mod:`baselines.external.paint_clicks_cvpr25`: npz files in and out).

Each drives a session of ``rounds`` rounds of RITM clicks on one generated case (noise
with a bright ball tumour, 1 mm voxels). The time per round is the session's
``model_ms`` (the whole predict call: files, program, reading back) of rounds 1..N, the
median over rounds and ``repeats`` (interleaved, so all see the same machine state);
``program`` is the program's own wall time (``forward_ms``). The three give the same
masks (checked: same Dice every round, same final mask).
"""

from __future__ import annotations

import shlex
import statistics
import sys
from pathlib import Path
from typing import Any

import click
import numpy as np


def bench_case(shape: tuple[int, int, int], seed: int = 0):
    """A case of ``shape``: four noise channels, FLAIR bright on a ball tumour of radius min(shape) / 4."""
    from benchmark.case import Case

    rng = np.random.default_rng(seed)
    grids = np.ogrid[tuple(slice(0, n) for n in shape)]
    label = sum((g - n / 2) ** 2 for g, n in zip(grids, shape)) <= (min(shape) / 4) ** 2
    image = rng.normal(0, 0.3, (4, *shape)).astype(np.float32)
    image[0][label] += 3.0
    return Case(case_id="bench", image=image, label=label)


def bench_external(shape: tuple[int, int, int] = (96, 96, 64), rounds: int = 5, repeats: int = 3,
                   seed: int = 0) -> dict[str, Any]:
    """Time the rule in process, via ``process=`` and via ``cvpr25=`` (see module docstring).

    Returns:
        ``shape``, ``rounds``, ``repeats``, ``rows`` (per way: ``label``, ``name``,
        ``round_ms`` and ``program_ms`` medians, NaN program time in process),
        ``same`` (all three gave the same Dice every round and the same final mask),
        ``dice`` (the final Dice).
    """
    from baselines.manual_paint.method import ManualPaint
    from benchmark.registry import make_method, make_user
    from benchmark.session import SessionConfig, run_session

    if rounds < 1 or repeats < 1:
        raise ValueError(f"rounds and repeats must be >= 1, got {rounds} and {repeats}")
    case = bench_case(tuple(shape), seed)
    here = Path(__file__).parent

    def command(script: str) -> str:
        return shlex.join([sys.executable, str(here / script), "{inputs}", "{outputs}"])

    ways = [("in process (manual-paint)", ManualPaint(initial=lambda image: np.zeros(image.shape, bool))),
            ("process= (NIfTI exchange)", make_method(f"process={command('paint_clicks_process.py')}")),
            ("cvpr25= (npz exchange)", make_method(f"cvpr25={command('paint_clicks_cvpr25.py')}"))]
    config = SessionConfig(max_rounds=rounds, hd95=False)
    times: dict[str, list[float]] = {label: [] for label, _ in ways}
    programs: dict[str, list[float]] = {label: [] for label, _ in ways}
    results = {}
    for _ in range(repeats):
        for label, method in ways:
            result = run_session(case, method, make_user("ritm"), config, np.random.default_rng(seed))
            times[label] += [r.model_ms for r in result.rounds[1:]]
            programs[label] += [r.forward_ms for r in result.rounds[1:]]
            results[label] = result
    reference = results[ways[0][0]]
    same = all([r.dice for r in res.rounds] == [r.dice for r in reference.rounds]
               and np.array_equal(res.final_prediction, reference.final_prediction) for res in results.values())
    rows = [{"label": label, "name": method.name, "round_ms": statistics.median(times[label]),
             "program_ms": statistics.median(programs[label])} for label, method in ways]
    return {"shape": tuple(shape), "rounds": len(reference.rounds) - 1, "repeats": repeats, "rows": rows,
            "same": same, "dice": reference.final_dice}


@click.command("external")
@click.option("--shape", nargs=3, type=int, default=(96, 96, 64), show_default=True, help="Volume X Y Z.")
@click.option("--rounds", default=5, show_default=True, help="Click rounds per session.")
@click.option("--repeats", default=3, show_default=True, help="Sessions per way (median over all their rounds).")
@click.option("--seed", default=0, show_default=True)
def bench_external_cmd(shape, rounds, repeats, seed) -> None:
    """Per-round cost of an external method (process=, cvpr25=) against the same rule in process."""
    try:
        r = bench_external(tuple(shape), rounds=rounds, repeats=repeats, seed=seed)
    except ValueError as error:
        raise click.ClickException(str(error))
    x, y, z = r["shape"]
    click.echo(f"clicks painted as 5 mm balls, three ways, on a {x}x{y}x{z} case: {r['rounds']} rounds of RITM "
               f"clicks x {r['repeats']} repeats, median ms per round (whole predict call)")
    base = r["rows"][0]["round_ms"]
    for row in r["rows"]:
        extra = ""
        if row is not r["rows"][0]:
            more = f"+{row['round_ms'] - base:.1f}"
            extra = (f"  {more:>9s} ms  {row['round_ms'] / base:6.0f}x   "
                     f"(program {row['program_ms']:.1f} ms, simedit's files {row['round_ms'] - row['program_ms']:.1f} ms)")
        click.echo(f"  {row['label']:27s} {row['round_ms']:8.1f} ms{extra}")
    click.echo(f"  same masks every round: {'yes' if r['same'] else 'NO'} (final Dice {r['dice']:.3f})")
