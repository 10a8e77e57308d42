import json

import nibabel as nib
import numpy as np
import pytest
from click.testing import CliRunner

from benchmark.cli import main
from tests.benchmark.test_runner import write_cases
from tests.helpers import ball

SHAPE = (30, 26, 20)
LPS = np.diag([-1.0, -1.0, 1.0, 1.0])


def save(path, mask, affine=LPS):
    nib.save(nib.Nifti1Image(mask.astype(np.uint8), affine), path)
    return str(path)


def edits(tmp_path, pred, label, tool, *extra):
    res = CliRunner().invoke(main, ["edits", "--prediction", save(tmp_path / "p.nii.gz", pred),
                                    "--label", save(tmp_path / "l.nii.gz", label), "--tool", tool, *extra])
    assert res.exit_code == 0, res.output
    return json.loads(res.output)["edits"]


def test_edits_index_the_files_arrays(tmp_path):
    label = ball(SHAPE, (10, 10, 10), 6) | ball(SHAPE, (22, 16, 10), 4)
    pred = ball(SHAPE, (10, 10, 10), 6)  # the second blob is missed
    (click,) = edits(tmp_path, pred, label, "selection")
    assert click["tool"] == "selection" and click["positive"] is True
    x, y, z = click["voxel"]
    assert label[x, y, z] and not pred[x, y, z]  # inside the missed blob, in file coordinates
    strokes = edits(tmp_path, pred, label, "brush")
    assert strokes and all(label[tuple(v)] and not pred[tuple(v)] for s in strokes for v in s["voxels"])
    (adj,) = edits(tmp_path, pred, label, "adjustment")
    assert adj["k"] > 0  # too small: grow


def test_edits_refuse_mismatched_files(tmp_path):
    res = CliRunner().invoke(main, ["edits", "--prediction", save(tmp_path / "p.nii.gz", np.zeros((4, 4, 4))),
                                    "--label", save(tmp_path / "l.nii.gz", np.zeros(SHAPE)), "--tool", "selection"])
    assert res.exit_code != 0 and "p.nii.gz" in res.output and "shape" in res.output


@pytest.mark.parametrize("values, message", [
    (np.full(SHAPE, 0.5), "label values [0.5] are not non-negative integers; threshold probability maps first"),
    (np.where(np.indices(SHAPE)[0] < 5, np.nan, 0.0), "label values [nan] are not non-negative integers"),
    (-np.ones(SHAPE), "label values [-1.0] are not non-negative integers"),
])
def test_edits_refuse_what_is_not_a_mask_as_the_loaders_do(tmp_path, values, message):
    label = save(tmp_path / "l.nii.gz", ball(SHAPE, (10, 9, 8), 5))
    nib.save(nib.Nifti1Image(values.astype(np.float32), LPS), tmp_path / "p.nii.gz")
    res = CliRunner().invoke(main, ["edits", "--prediction", str(tmp_path / "p.nii.gz"), "--label", label,
                                    "--tool", "adjustment"])
    assert res.exit_code != 0 and "p.nii.gz" in res.output and message in res.output, res.output


def test_run_reports_failures_and_keeps_going(tmp_path):
    write_cases(tmp_path / "data", n=2)
    (tmp_path / "data" / "BraTS2021_00000" / "BraTS2021_00000_flair.nii.gz").write_text("not nifti")
    res = CliRunner().invoke(main, ["run", "--data", str(tmp_path / "data"), "--method", "manual-paint",
                                    "--user", "multi", "--rounds", "2", "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    assert "1 sessions ok, 1 failed" in res.output and "BraTS2021_00000_flair.nii.gz" in res.output


def test_run_takes_an_effort_model_and_saves_masks(tmp_path):
    from benchmark.masks import read_masks
    from benchmark.results import read_rounds

    write_cases(tmp_path / "data", n=1)
    args = ["run", "--data", str(tmp_path / "data"), "--method", "manual-paint", "--user", "selection", "--rounds", "2"]
    res = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "a"), "--effort", "click_s=10,slice_s=0,slice_step_s=0",
                                    "--save-masks"])
    assert res.exit_code == 0, res.output
    rounds = read_rounds(tmp_path / "a").sort_values("round")
    assert rounds.effort_s.tolist() == [10.0 * n for n in rounds.n_edits]  # one click a round, no moves priced
    masks = read_masks(tmp_path / "a", "BraTS2021_00000", "manual-paint", "selection")
    assert masks is not None and len(masks) == len(rounds)
    bad = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "b"), "--effort", "clicks=1"])
    assert bad.exit_code != 0 and "--effort: unknown key 'clicks'" in bad.output


def test_run_repeats_each_session_per_user_seed_and_a_protocol_refuses_the_flag(tmp_path):
    from benchmark.results import read_sessions

    write_cases(tmp_path / "data", n=1)
    res = CliRunner().invoke(main, ["run", "--data", str(tmp_path / "data"), "--method", "manual-paint", "--user",
                                    "selection:jitter_mm=0..2", "--rounds", "1", "--repeats", "3",
                                    "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    assert "3 sessions ok" in res.output and sorted(read_sessions(tmp_path / "out").user_seed) == [0, 1, 2]
    (tmp_path / "p.yaml").write_text("name: x\n")
    refused = CliRunner().invoke(main, ["run", str(tmp_path / "p.yaml"), "--repeats", "2"])
    assert refused.exit_code != 0 and "--repeats cannot be combined with a protocol file" in refused.output


def test_run_suggests_names(tmp_path):
    write_cases(tmp_path / "data", n=1)
    res = CliRunner().invoke(main, ["run", "--data", str(tmp_path / "data"), "--method", "manual-paint",
                                    "--user", "rtim", "--out", str(tmp_path / "out")])
    assert res.exit_code != 0 and "did you mean 'ritm'" in res.output


def test_synth_is_deterministic_and_loadable(tmp_path):
    from benchmark.io import discover

    for name in ("a", "b"):
        res = CliRunner().invoke(main, ["synth", str(tmp_path / name), "--cases", "2", "--shape", "40", "44", "32",
                                        "--seed", "3"])
        assert res.exit_code == 0, res.output
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.nii.gz"))
    assert len(files) == 10
    assert all((tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes() for f in files)
    refs = discover(tmp_path / "a")
    case = refs[0].load()
    assert case.image.shape == (4, 40, 44, 32) and case.label.any()


def test_bench_user_step_prints_both_timings():
    res = CliRunner().invoke(main, ["bench", "user-step", "--shape", "64", "64", "48", "--repeats", "1"])
    assert res.exit_code == 0, res.output
    assert "ratio" in res.output


def test_edits_take_any_user_spec_and_suggest_names(tmp_path):
    label = ball(SHAPE, (10, 10, 10), 6) | ball(SHAPE, (22, 16, 10), 4)
    pred = ball(SHAPE, (10, 10, 10), 6)
    assert len(edits(tmp_path, pred, label, "multi:max_edits_per_round=1")) == 1
    res = CliRunner().invoke(main, ["edits", "--prediction", save(tmp_path / "p.nii.gz", pred),
                                    "--label", save(tmp_path / "l.nii.gz", label), "--tool", "brsh"])
    assert res.exit_code == 1 and "unknown user 'brsh'; did you mean 'brush'?" in res.output


def test_methods_and_users_list_every_registered_plugin_with_its_origin():
    methods = CliRunner().invoke(main, ["methods"])
    assert methods.exit_code == 0
    for name in ("manual-paint", "base", "editor", "deepigeos", "process", "cvpr25", "nninteractive"):
        assert f"\n{name}  [simedit " in "\n" + methods.output
    assert "spec: editor=CHECKPOINT.pt (from `simedit train editor`)   tools: adjustment,brush,selection" in methods.output
    assert "options: click_radius_mm=5.0" in methods.output
    users = CliRunner().invoke(main, ["users", "multi", "ritm"])
    assert users.exit_code == 0 and users.output.startswith("multi  [simedit ") and "\nritm  [simedit " in users.output
    assert "options: target_dice=0.9, max_edits_per_round=1" in users.output
    assert "realism knobs, for every user" in users.output and "jitter_mm, jitter, jitter_outside" in users.output
    unknown = CliRunner().invoke(main, ["users", "mutli"])
    assert unknown.exit_code == 1 and "did you mean 'multi'?" in unknown.output


def test_edits_give_boxes_and_challenge_clicks_in_the_files_indices(tmp_path):
    label = ball(SHAPE, (10, 9, 8), 5) | ball(SHAPE, (21, 15, 12), 3)
    pred = ball(SHAPE, (10, 9, 8), 5)
    (box,) = edits(tmp_path, np.zeros(SHAPE), label, "box:style=tight")
    where = np.argwhere(label)  # the file's own array (LPS on disk: x and y flipped in canonical)
    assert box["tool"] == "box" and box["lower"] == where.min(0).tolist() and box["upper"] == where.max(0).tolist()
    axis, index = box["plane"]
    assert axis == 2 and label[:, :, index].any()  # z is not flipped by LPS: the same axial slice
    (click,) = edits(tmp_path, pred, label, "cvpr25:units=voxel,ties=cvpr25")
    assert label[tuple(click["voxel"])] and not pred[tuple(click["voxel"])] and click["positive"]
    (first,) = edits(tmp_path, pred, label, "box:style=tight then cvpr25")  # a chain: its first round
    assert first == box
