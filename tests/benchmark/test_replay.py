"""simedit replay: a run's predictions re-made from edits.jsonl alone, digest for digest."""

import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from benchmark.cli import main
from benchmark.digests import mask_digest
from benchmark.masks import masks_path, read_masks
from benchmark.registry import MethodContext, method_factory
from benchmark.replay import replay_run, run_folders
from benchmark.results import read_edits, read_rounds
from benchmark.runner import RunConfig, run
from benchmark.session import SessionConfig
from tests.benchmark.test_runner import write_cases


class GrowFromFile:
    """A FLAIR threshold read from a file; clicks add a ball, K grows the threshold region."""

    tools = frozenset({"selection", "adjustment"})

    def __init__(self, threshold: float) -> None:
        self.name, self.threshold = "grow-from-file", threshold

    def predict(self, image, history):
        ks = [e.k for e in history.of_tool("adjustment")]
        mask = image.channel("flair") > self.threshold - (ks[-1] if ks else 0.0)
        grid = np.indices(image.shape)
        for click in history.of_tool("selection"):
            ball = sum((g - c) ** 2 for g, c in zip(grid, click.voxel)) <= 9
            mask = mask | ball if click.positive else mask & ~ball
        return mask


@method_factory(argument="file", tools={"selection", "adjustment"}, usage="replay-test=THRESHOLD.txt")
def make_grow(context: MethodContext) -> GrowFromFile:
    return GrowFromFile(float(open(context.arg).read().split()[0]))


PLUGIN = "tests.benchmark.test_replay:make_grow"


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    root = tmp_path_factory.mktemp("replay")
    write_cases(root / "data", n=2)
    (root / "threshold.txt").write_text("1.0\n")
    config = RunConfig(data=root / "data", out=root / "out",
                       methods=("manual-paint", f"{PLUGIN}={root / 'threshold.txt'}"),
                       users=("multi", "selection"), session=SessionConfig(max_rounds=3, hd95=False),
                       save_masks=True)
    summary = run(config, progress=False)
    assert summary.failed == 0 and summary.ok == 8
    return root


def copy_of(finished, tmp_path):
    shutil.copytree(finished, tmp_path / "copy")
    return tmp_path / "copy"


def test_a_finished_run_replays_round_for_round(finished):
    result = replay_run(finished / "out")
    rounds = read_rounds(finished / "out")
    assert result.ok and result.sessions == 8 and result.rounds == len(rounds)
    assert rounds.run_sha.nunique() == 1 and len(rounds.run_sha.iloc[0]) == 16


def test_the_saved_masks_are_the_predictions_the_rows_name(finished):
    rounds = read_rounds(finished / "out")
    for (case, method, user), rows in rounds.groupby(["case", "method", "user"]):
        masks = read_masks(finished / "out", case, method, user)
        assert masks is not None and masks.dtype == bool and len(masks) == len(rows)
        assert [mask_digest(m) for m in masks] == rows.sort_values("round").pred_sha.tolist()
        with np.load(masks_path(finished / "out", case, method, user)) as f:
            assert str(f["user"]) == user and f["pred_sha"].tolist() == rows.sort_values("round").pred_sha.tolist()


def test_a_changed_edit_fails_the_replay_at_its_round(finished, tmp_path):
    copy = copy_of(finished, tmp_path)
    path = copy / "out" / "edits.jsonl"
    entries = read_edits(copy / "out")
    target = next(i for i, e in enumerate(entries) if e["method"] == "manual-paint" and e["round"] == 2
                  and e["edits"][0]["tool"] == "selection")
    entries[target]["edits"][0]["positive"] = not entries[target]["edits"][0]["positive"]
    path.write_text("".join(json.dumps(e) + "\n" for e in entries))
    result = replay_run(copy / "out", data=copy / "data")
    assert not result.ok and len(result.differences) == 1
    difference = result.differences[0]
    assert (difference.case, difference.round) == (entries[target]["case"], 2)
    assert "voxels differ from the saved mask" in difference.detail


def test_one_byte_of_a_checkpoint_fails_the_replay_and_names_the_first_round(finished, tmp_path):
    copy = copy_of(finished, tmp_path / "a")
    moved = tmp_path / "b"
    shutil.move(copy, moved)  # the folder, its data and checkpoint, on "another machine"
    where = dict(data=moved / "data", checkpoints=moved)
    assert replay_run(moved / "out", **where).ok  # moved, unchanged: still checks
    (moved / "threshold.txt").write_text("1.5\n")  # one byte
    result = replay_run(moved / "out", **where)
    assert any("not the one the run used" in p for p in result.problems)
    assert {d.method for d in result.differences} == {"grow-from-file"}
    assert {d.round for d in result.differences} == {0}

    runner = CliRunner()
    flags = ["--data", str(moved / "data"), "--checkpoints", str(moved)]
    done = runner.invoke(main, ["replay", str(moved / "out"), *flags])
    assert done.exit_code == 1 and "round 0: prediction" in done.output and "not the one the run used" in done.output
    only_paint = runner.invoke(main, ["replay", str(moved / "out"), *flags, "--method", "manual-paint"])
    assert only_paint.exit_code == 1 and "round 0" not in only_paint.output  # the checkpoint still fails it


def test_missing_edits_or_a_row_edited_by_hand_are_named(finished, tmp_path):
    copy = copy_of(finished, tmp_path)
    entries = read_edits(copy / "out")
    dropped = entries.pop(3)
    (copy / "out" / "edits.jsonl").write_text("".join(json.dumps(e) + "\n" for e in entries))
    result = replay_run(copy / "out", data=copy / "data")
    assert [(d.case, d.method, d.user, d.round) for d in result.differences] == [
        (dropped["case"], dropped["method"], dropped["user"], dropped["round"])]
    assert "no edits for this round" in result.differences[0].detail


def test_a_timed_out_round_is_checked_by_its_replacement(tmp_path):
    write_cases(tmp_path / "data", n=1)
    config = RunConfig(data=tmp_path / "data", out=tmp_path / "out", methods=("manual-paint",), users=("multi",),
                       session=SessionConfig(max_rounds=2, hd95=False, time_limit_s=1e-9, on_timeout="empty"))
    assert run(config, progress=False).ok == 1
    rounds = read_rounds(tmp_path / "out")
    assert (rounds.timed_out == 1).all() and (rounds.pred_sha == mask_digest(np.zeros((32, 30, 24), bool))).all()
    assert replay_run(tmp_path / "out").ok


def test_run_folders_finds_a_protocols_experiments_and_refuses_other_folders(tmp_path):
    for e in ("b", "a"):
        (tmp_path / "experiments" / e).mkdir(parents=True)
        (tmp_path / "experiments" / e / "run.json").write_text("{}")
    assert run_folders(tmp_path) == [tmp_path / "experiments" / "a", tmp_path / "experiments" / "b"]
    assert run_folders(tmp_path / "experiments" / "a") == [tmp_path / "experiments" / "a"]
    with pytest.raises(ValueError, match="no run.json"):
        run_folders(tmp_path / "experiments")


def test_rows_of_an_older_simedit_cannot_be_replayed_and_say_so(finished, tmp_path):
    copy = copy_of(finished, tmp_path)
    text = (copy / "out" / "rounds.csv").read_text().splitlines()
    header = text[0].split(",")
    column = header.index("pred_sha")
    rows = [line.split(",") for line in text[1:]]
    for row in rows:
        row[column] = ""
    (copy / "out" / "rounds.csv").write_text("\n".join([text[0]] + [",".join(r) for r in rows]) + "\n")
    result = replay_run(copy / "out", data=copy / "data")
    assert not result.ok and "older than replay" in result.problems[0]


def test_a_population_replays_per_user_seed_and_keeps_each_seeds_masks(tmp_path):
    write_cases(tmp_path / "data", n=1)
    config = RunConfig(data=tmp_path / "data", out=tmp_path / "out", methods=("manual-paint",),
                       users=("multi:jitter_mm=0..3,slip=0.2",), session=SessionConfig(max_rounds=3, hd95=False),
                       save_masks=True, repeats=3)
    assert run(config, progress=False).ok == 3
    result = replay_run(tmp_path / "out")
    assert result.ok and result.sessions == 3
    rounds = read_rounds(tmp_path / "out")
    for seed, rows in rounds.groupby("user_seed"):
        masks = read_masks(tmp_path / "out", "BraTS2021_00000", "manual-paint", "multi:jitter_mm=0..3,slip=0.2", seed)
        assert [mask_digest(m) for m in masks] == rows.sort_values("round").pred_sha.tolist()
    entries = read_edits(tmp_path / "out")
    target = next(i for i, e in enumerate(entries) if e["user_seed"] == 2)
    entries[target]["edits"] = [{"tool": "adjustment", "k": 0.37}]
    (tmp_path / "out" / "edits.jsonl").write_text("".join(json.dumps(e) + "\n" for e in entries))
    (difference,) = replay_run(tmp_path / "out").differences
    assert difference.user_seed == 2 and "(user seed 2)" in str(difference)
