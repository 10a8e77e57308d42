from pathlib import Path

import numpy as np
import pytest

from benchmark.registry import MethodOptions
from benchmark.io import write_case
from benchmark.results import read_rounds, read_sessions
from benchmark.runner import RunConfig, run, session_rng
from benchmark.session import SessionConfig
from tests.helpers import ball

SHAPE = (32, 30, 24)


def write_cases(root, n=3):
    rng = np.random.default_rng(0)
    for i in range(n):
        brain = ball(SHAPE, (16, 15, 12), 13)
        label = np.zeros(SHAPE, np.uint8)
        tumour = ball(SHAPE, (14 + i, 15, 12), 5)
        label[tumour] = 2
        label[ball(SHAPE, (14 + i, 15, 12), 2)] = 1
        mods = {}
        for j, m in enumerate(("flair", "t1", "t1ce", "t2")):
            img = np.where(brain, 100.0 + rng.normal(0, 5, SHAPE), 0).astype(np.float32)
            if m == "flair":  # only part of the tumour is bright: the first mask misses the rest
                img[tumour & (np.arange(SHAPE[0]) < 14 + i)[:, None, None]] += 60
            mods[m] = img
        write_case(root, "brats2021", f"BraTS2021_{i:05d}", mods, label, np.eye(4))


def config(tmp_path, **kw):
    defaults = dict(data=tmp_path / "data", out=tmp_path / "out", methods=("manual-paint",),
                    users=("selection", "adjustment"), session=SessionConfig(max_rounds=3))
    defaults.update(kw)
    return RunConfig(**defaults)


def test_a_broken_case_fails_alone_and_a_rerun_resumes(tmp_path):
    write_cases(tmp_path / "data")
    broken = tmp_path / "data" / "BraTS2021_00001" / "BraTS2021_00001_t1.nii.gz"
    broken.write_bytes(broken.read_bytes()[:200])  # truncated download
    summary = run(config(tmp_path), progress=False)
    assert (summary.ok, summary.failed) == (4, 2)
    sessions = read_sessions(tmp_path / "out")
    failed = sessions[sessions.status == "failed"]
    assert set(failed.case) == {"BraTS2021_00001"}
    assert all("BraTS2021_00001_t1.nii.gz" in e for e in failed.error)
    rounds = read_rounds(tmp_path / "out")
    assert set(rounds.case) == {"BraTS2021_00000", "BraTS2021_00002"}
    # the half-missed tumours: clicks fill the missing half, K grows the first mask
    last = rounds.sort_values("round").groupby(["case", "user"]).last()
    first = rounds[rounds["round"] == 0].set_index(["case", "user"]).reindex(last.index)
    assert (first.dice < 0.7).all()
    selection = last.xs("selection", level="user").dice
    assert (selection > first.xs("selection", level="user").dice + 0.02).all() and (selection > 0.8).all()
    assert (last.xs("adjustment", level="user").volume_ml > 1.5 * first.xs("adjustment", level="user").volume_ml).all()

    # repair the case: the re-run does only the missing sessions
    write_cases(tmp_path / "data")
    again = run(config(tmp_path, jobs=2), progress=False)
    assert (again.ok, again.failed, again.skipped) == (2, 0, 4)
    assert len(read_sessions(tmp_path / "out")) == 6
    assert (read_sessions(tmp_path / "out").status == "ok").all()


def test_same_seed_same_results_and_config_change_refused(tmp_path):
    write_cases(tmp_path / "data", n=1)
    run(config(tmp_path, users=("random",)), progress=False)
    run(config(tmp_path, users=("random",), out=tmp_path / "out2"), progress=False)
    a, b = read_rounds(tmp_path / "out"), read_rounds(tmp_path / "out2")
    assert a[["case", "round", "dice", "n_edits", "tools"]].equals(b[["case", "round", "dice", "n_edits", "tools"]])
    with pytest.raises(ValueError, match="different configuration"):  # (a larger budget continues: see below)
        run(config(tmp_path, users=("random",), session=SessionConfig(max_rounds=3, target_dice=0.8)), progress=False)
    # jobs and threads change only the speed: the run resumes
    again = run(config(tmp_path, users=("random",), jobs=2, method_options=MethodOptions(threads=1)), progress=False)
    assert (again.ok, again.skipped) == (0, 1)


def test_session_rng_is_stable_and_distinct():
    a = session_rng(0, "c", "m", "u").integers(1 << 30, size=3)
    assert (a == session_rng(0, "c", "m", "u").integers(1 << 30, size=3)).all()
    assert not (a == session_rng(0, "c", "m", "v").integers(1 << 30, size=3)).all()


def test_unknown_names_are_refused_before_any_work(tmp_path):
    write_cases(tmp_path / "data", n=1)
    with pytest.raises(ValueError, match="did you mean 'manual-paint'"):
        run(config(tmp_path, methods=("manual-pain",)), progress=False)
    with pytest.raises(ValueError, match="did you mean"):
        run(config(tmp_path, users=("selction",)), progress=False)
    assert not (tmp_path / "out" / "rounds.csv").exists()


def test_initial_masks_from_a_folder(tmp_path):
    import nibabel as nib

    write_cases(tmp_path / "data", n=1)
    (tmp_path / "init").mkdir()
    nib.save(nib.Nifti1Image(ball(SHAPE, (14, 15, 12), 5).astype(np.uint8), np.eye(4)),
             tmp_path / "init" / "BraTS2021_00000.nii.gz")
    run(config(tmp_path, users=("selection",), method_options=MethodOptions(initial=tmp_path / "init")), progress=False)
    rounds = read_rounds(tmp_path / "out")
    assert rounds.loc[rounds["round"] == 0, "dice"].item() == pytest.approx(1.0)


def test_user_options_name_the_rows(tmp_path):
    write_cases(tmp_path / "data", n=1)
    run(config(tmp_path, users=("selection:max_clicks=1",)), progress=False)
    rounds = read_rounds(tmp_path / "out")
    assert set(rounds.user) == {"selection:max_clicks=1"}
    assert (rounds.n_edits == rounds["round"]).all()  # one click per round
    assert run(config(tmp_path, users=("selection:max_clicks=1",)), progress=False).skipped == 1


def test_methods_sharing_a_table_name_are_refused(tmp_path):
    write_cases(tmp_path / "data", n=1)
    with pytest.raises(ValueError, match="share the table name 'manual-paint'"):
        run(config(tmp_path, methods=("manual-paint", "manual-paint")), progress=False)


def test_a_checkpoint_retrained_in_place_is_not_resumed(tmp_path):
    import torch

    from baselines.networks.checkpoint import InputSpec, save_checkpoint
    from baselines.networks import make_backbone

    def network(seed):
        torch.manual_seed(seed)
        net = make_backbone("isensee", in_channels=4, base=2, levels=2, dropout=0.0)
        save_checkpoint(tmp_path / "F.pt", net, backbone="isensee", config=net.config,
                        inputs=InputSpec(("flair", "t1", "t1ce", "t2"), 0, "z-score"), training={},
                        split={"train": [], "validation": []}, epoch=1)

    write_cases(tmp_path / "data", n=1)
    network(0)
    cfg = config(tmp_path, methods=(f"base={tmp_path / 'F.pt'}",), users=("none",),
                 session=SessionConfig(max_rounds=0))
    assert run(cfg, progress=False).ok == 1
    assert run(cfg, progress=False).skipped == 1  # same file: resumed
    network(1)  # same path, other weights: its old rows must not pass for the new network's
    with pytest.raises(ValueError, match=r"different configuration \(differs in: checkpoints\)"):
        run(cfg, progress=False)


PLUGINS = '''
import numpy as np


class Fine:
    name, tools = "fine", frozenset({"selection"})

    def __init__(self, context):
        pass

    def predict(self, image, history):
        return image.channel("flair") > 1.0


class Unbuildable:
    def __init__(self, context):
        raise RuntimeError("licence server unreachable")


class Probabilities(Fine):
    name = "probabilities"

    def predict(self, image, history):
        return np.full(image.shape, 0.5, np.float32)


class Crashing:
    name = "crashing"

    def __init__(self, mode="test"):
        pass

    def propose(self, state, rng):
        raise KeyError("oops")
'''


def test_broken_plugins_fail_their_sessions_alone_with_one_line_naming_them(tmp_path, monkeypatch):
    write_cases(tmp_path / "data", n=2)
    (tmp_path / "mylab_parts.py").write_text(PLUGINS)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    methods = ("mylab_parts:Fine", "mylab_parts:Unbuildable", "mylab_parts:Probabilities")
    summary = run(config(tmp_path, methods=methods, users=("selection", "mylab_parts:Crashing"), jobs=2),
                  progress=False)
    sessions = read_sessions(tmp_path / "out").set_index(["case", "method", "user"])
    assert (summary.ok, summary.failed) == (2, 10)
    assert (sessions.xs("selection", level="user").xs("fine", level="method").status == "ok").all()
    unbuildable = sessions.xs("mylab_parts:Unbuildable", level="method")
    assert (unbuildable.error == "PluginError: method 'mylab_parts:Unbuildable': RuntimeError: licence server "
                                 "unreachable").all() and len(unbuildable) == 4
    probabilities = sessions.xs("probabilities", level="method").xs("selection", level="user").error
    assert probabilities.str.contains("method 'probabilities' returned float32 with values 0.5..0.5, not a mask").all()
    crashing = sessions.xs("mylab_parts:Crashing", level="user").xs("fine", level="method").error
    assert (crashing == "KeyError: 'oops'").all()
    assert len(read_rounds(tmp_path / "out")) > 0


def test_a_misspelt_plugin_stops_the_run_before_any_work(tmp_path):
    write_cases(tmp_path / "data", n=1)
    with pytest.raises(ValueError, match="unknown user 'mutli'; did you mean 'multi'"):
        run(config(tmp_path, users=("mutli",)), progress=False)
    with pytest.raises(ValueError, match="unknown method 'manual-pain'; did you mean 'manual-paint'"):
        run(config(tmp_path, methods=("manual-pain",)), progress=False)
    assert not (tmp_path / "out" / "sessions.csv").exists()


def test_reused_worker_processes_find_plugins_in_the_folder_of_the_run_that_uses_them(tmp_path, monkeypatch):
    write_cases(tmp_path / "data", n=2)
    first = tmp_path / "first"
    first.mkdir()
    monkeypatch.chdir(first)  # a run from one folder starts the worker pool there
    assert run(config(tmp_path, out=first / "out", users=("selection",), jobs=2), progress=False).failed == 0
    second = tmp_path / "second"
    second.mkdir()
    (second / "lab_only_here.py").write_text(PLUGINS)
    monkeypatch.chdir(second)  # the next run, in the same process, names a plug-in only this folder has
    monkeypatch.syspath_prepend(str(second))
    summary = run(config(tmp_path, out=second / "out", methods=("lab_only_here:Fine",), users=("selection",), jobs=2),
                  progress=False)
    assert (summary.ok, summary.failed) == (2, 0), summary.errors


def test_repeats_run_one_session_per_user_seed_and_grow_without_redoing_the_finished(tmp_path):
    write_cases(tmp_path / "data", n=2)
    users = ("selection:jitter_mm=0..4", "random")
    two = run(config(tmp_path, users=users, repeats=2, session=SessionConfig(max_rounds=2, hd95=False)),
              progress=False)
    assert (two.ok, two.failed) == (8, 0)
    first = read_rounds(tmp_path / "out")
    three = run(config(tmp_path, users=users, repeats=3, session=SessionConfig(max_rounds=2, hd95=False), jobs=2),
                progress=False)
    assert (three.ok, three.skipped) == (4, 8)  # only user seed 2 is new
    rounds = read_rounds(tmp_path / "out")
    sessions = read_sessions(tmp_path / "out")
    assert sorted(sessions.user_seed.unique()) == [0, 1, 2] and len(sessions) == 12
    kept = rounds[rounds.user_seed < 2].drop(columns=["user_ms", "model_ms", "forward_ms"]).reset_index(drop=True)
    assert kept.equals(first.drop(columns=["user_ms", "model_ms", "forward_ms"]).reset_index(drop=True))
    # each user seed is its own person: different clicks of the random user, different jitter
    clicks = {s: tuple(read_edits_of(tmp_path / "out", "random", s)) for s in (0, 1, 2)}
    assert len(set(clicks.values())) == 3
    # user seed 0 is the session of a run without repeats
    plain = run(config(tmp_path, out=tmp_path / "plain", users=users, session=SessionConfig(max_rounds=2, hd95=False)),
                progress=False)
    assert plain.ok == 4
    alone = read_rounds(tmp_path / "plain").drop(columns=["user_ms", "model_ms", "forward_ms", "run_sha"])
    seed0 = rounds[rounds.user_seed == 0].drop(columns=["user_ms", "model_ms", "forward_ms", "run_sha"])
    key = ["case", "user", "round"]
    assert alone.sort_values(key).reset_index(drop=True).equals(seed0.sort_values(key).reset_index(drop=True))


def read_edits_of(out, user, seed):
    from benchmark.results import read_edits

    return [str(e["edits"]) for e in read_edits(out) if e["user"] == user and e["user_seed"] == seed]


def test_repeats_must_be_a_positive_count(tmp_path):
    with pytest.raises(ValueError, match="repeats must be an integer >= 1"):
        config(tmp_path, repeats=0)


def test_a_grown_budget_continues_the_folder_and_ends_as_a_run_with_that_budget(tmp_path):
    write_cases(tmp_path / "data", n=3)
    users = ("none", "selection")  # none is done at once; selection spends its budget
    small = run(config(tmp_path, users=users, session=SessionConfig(max_rounds=1, hd95=False)), progress=False)
    assert small.failed == 0
    stops = read_sessions(tmp_path / "out").stop_reason
    assert (stops == "budget").any() and (stops != "budget").any()  # some sessions spent the budget, some did not
    grown = run(config(tmp_path, users=users, session=SessionConfig(max_rounds=3, hd95=False)), progress=False)
    assert (grown.ok, grown.skipped) == ((stops == "budget").sum(), (stops != "budget").sum())
    fresh = run(config(tmp_path, out=tmp_path / "fresh", users=users, session=SessionConfig(max_rounds=3, hd95=False)),
                progress=False)
    assert fresh.failed == 0
    timing = ["user_ms", "model_ms", "forward_ms", "run_sha"]
    key = ["case", "user", "round"]
    a = read_rounds(tmp_path / "out").drop(columns=timing).sort_values(key).reset_index(drop=True)
    b = read_rounds(tmp_path / "fresh").drop(columns=timing).sort_values(key).reset_index(drop=True)
    assert a.equals(b)
    assert len((tmp_path / "out" / "rounds.csv").read_text().splitlines()) == len(a) + 1  # nothing twice
    import json
    record = json.loads((tmp_path / "out" / "run.json").read_text())
    assert record["config"]["session"]["max_rounds"] == 3 and record["budget_grown"][0]["from"] == 1
    with pytest.raises(ValueError, match="differs in: session"):  # a smaller budget is another run
        run(config(tmp_path, users=users, session=SessionConfig(max_rounds=2, hd95=False)), progress=False)


def test_a_results_folder_moved_elsewhere_resumes_there(tmp_path):
    import shutil

    write_cases(tmp_path / "data", n=2)
    first = run(config(tmp_path, users=("selection",)), progress=False)
    shutil.move(tmp_path / "out", tmp_path / "moved")
    again = run(config(tmp_path, out=tmp_path / "moved", users=("selection",)), progress=False)
    assert (again.ok, again.skipped) == (0, first.ok)


def test_a_second_run_on_a_folder_in_use_is_refused_and_a_killed_run_leaves_no_lock(tmp_path):
    import subprocess
    import sys

    from benchmark.folder_lock import FolderInUse, folder_lock

    write_cases(tmp_path / "data", n=1)
    with folder_lock(tmp_path / "out"):  # another run holds it (a second open file: flock sees two holders)
        with pytest.raises(FolderInUse, match=r"another run is writing to this results folder \(pid \d+\)"):
            run(config(tmp_path, users=("selection",)), progress=False)
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; sys.path.insert(0, sys.argv[1]); "
                               "from benchmark.folder_lock import folder_lock\nwith folder_lock(sys.argv[2]):\n"
                               "    print('held', flush=True); time.sleep(60)", str(Path(__file__).parents[2]),
                               str(tmp_path / "out")], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(FolderInUse, match=f"pid {holder.pid}"):
        run(config(tmp_path, users=("selection",)), progress=False)
    holder.kill()
    holder.wait()
    assert run(config(tmp_path, users=("selection",)), progress=False).ok == 1  # the kill released it
