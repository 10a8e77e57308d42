import numpy as np
import pytest
import torch

from baselines.networks.checkpoint import load_checkpoint
from baselines.editing_network.training import TrainConfig, make_batch, split_cases, train, TrainingCase
from baselines.editing_network.training_edits import EditedTarget
from benchmark.edits import Click
from benchmark.io import discover
from benchmark.phantoms.synth import synthesize

TINY = dict(base=4, levels=3, patch=(24, 24, 24), batch_size=1, epochs=2, steps_per_epoch=2, validate_every=1)


@pytest.fixture(scope="module")
def phantoms(tmp_path_factory):
    root = tmp_path_factory.mktemp("phantoms")
    synthesize(root, 3, (32, 32, 24), seed=0)
    torch.set_num_threads(1)
    return discover(root)


def test_split_is_disjoint_seeded_and_keeps_a_validation_case():
    ids = [f"c{i}" for i in range(10)]
    a = split_cases(ids, 0.2, np.random.default_rng(0))
    assert len(a["validation"]) == 2 and sorted(a["train"] + a["validation"]) == ids
    assert a == split_cases(ids, 0.2, np.random.default_rng(0))
    assert len(split_cases(ids[:2], 0.1, np.random.default_rng(0))["validation"]) == 1
    assert split_cases(ids[:1], 0.2, np.random.default_rng(0)) == {"train": ["c0"], "validation": []}


def test_batches_have_the_patch_shape_and_edit_channels():
    label = np.zeros((30, 30, 30), bool)
    label[10:20, 10:20, 10:20] = True
    image = np.random.default_rng(0).normal(size=(4, 30, 30, 30)).astype(np.float32)
    pool = (EditedTarget(label, {"selection": (), "brush": (), "adjustment": ()}),)
    config = TrainConfig(patch=(16, 16, 16), batch_size=3, tool_p=1.0)
    x, y = make_batch([TrainingCase("c", image, label, pool, label)], config, np.random.default_rng(0))
    assert x.shape == (3, 7, 16, 16, 16) and x.dtype == np.float32 and y.shape == (3, 1, 16, 16, 16)
    x, _ = make_batch([TrainingCase("c", image, label)], config, np.random.default_rng(0))
    assert x.shape[1] == 4


def test_with_an_edit_loss_the_targets_carry_the_voxels_near_the_clicks():
    label = np.zeros((20, 20, 20), bool)
    label[5:15, 5:15, 5:15] = True
    image = np.random.default_rng(0).normal(size=(4, 20, 20, 20)).astype(np.float32)
    pool = (EditedTarget(label, {"selection": (Click((10, 10, 10), True),), "brush": (), "adjustment": ()}),)
    config = TrainConfig(patch=(20, 20, 20), batch_size=2, tool_p=1.0, edit_loss_weight=1.0, near_edit_voxels=3)
    x, y = make_batch([TrainingCase("c", image, label, pool, label)], config, np.random.default_rng(0))
    assert y.shape == (2, 2, 20, 20, 20)
    for sample in range(2):  # brute force: within 3 voxels (Chebyshev) of a stamped click voxel
        stamped = np.argwhere(x[sample, 4] != 0)
        grid = np.stack(np.meshgrid(*[np.arange(20)] * 3, indexing="ij"), -1)
        nearest = np.min(np.abs(grid[..., None, :] - stamped).max(-1), -1)
        np.testing.assert_array_equal(y[sample, 1], nearest <= 3)
    with pytest.raises(ValueError, match="edit_loss_weight"):
        TrainConfig(edit_loss_weight=-1)


def test_presets():
    paper = TrainConfig.paper()
    assert (paper.base, paper.levels, paper.patch, paper.epochs, paper.lr, paper.lr_decay) == (
        16, 5, (128, 128, 128), 300, 5e-4, 0.985)
    assert TrainConfig.cpu(epochs=3).epochs == 3
    with pytest.raises(ValueError, match="backbone"):
        TrainConfig(backbone="isensse")
    with pytest.raises(ValueError, match="U-Nets"):
        TrainConfig(backbone="pnet")
    with pytest.raises(ValueError, match="target_shifts_mm"):
        TrainConfig(target_shifts_mm=())
    shifted = TrainConfig(target_shifts_mm=[-1, 2])  # a checkpoint's JSON list comes back a tuple
    assert shifted.target_shifts_mm == (-1.0, 2.0) and shifted.to_plain()["target_shifts_mm"] == [-1.0, 2.0]
    assert TrainConfig.paper("editor").target_shifts_mm == (0.0,)


@pytest.mark.slow
def test_train_base_then_editor_then_resume(phantoms, tmp_path):
    f_path = train("base", phantoms, tmp_path / "F.pt", TrainConfig(**TINY), progress=False)
    f = load_checkpoint(f_path)
    assert f.epoch == 2 and f.inputs.edit_channels == 0 and f.training["kind"] == "base"
    assert len(f.split["validation"]) == 1 and len(f.split["train"]) == 2
    assert all("val_dice" in r for r in f.training["history"])

    g_path = train("editor", phantoms, tmp_path / "G.pt", TrainConfig(**TINY), base_checkpoint=f_path, progress=False)
    g = load_checkpoint(g_path)
    assert g.inputs.channels == 7 and g.training["base_sha256"]
    cached = list((tmp_path / "F.predictions").glob("*/*.npz"))
    assert sorted(p.stem for p in cached) == sorted(r.case_id for r in phantoms)

    resumed = train("editor", phantoms, tmp_path / "G.pt", TrainConfig(**{**TINY, "epochs": 3}),
                    base_checkpoint=f_path, resume=g_path, progress=False)
    r = load_checkpoint(resumed)
    assert r.epoch == 3 and r.split == g.split and len(r.training["history"]) == 3
    with pytest.raises(ValueError, match="cannot resume"):
        train("base", phantoms, tmp_path / "F2.pt", TrainConfig(**TINY), resume=g_path, progress=False)


def test_editor_initialised_from_base_computes_base_until_edited():
    from baselines.networks import make_backbone
    from baselines.editing_network.training import init_from_base

    torch.manual_seed(0)
    f = make_backbone("isensee", in_channels=4, base=4, levels=3, dropout=0.0).eval()
    g = make_backbone("isensee", in_channels=7, base=4, levels=3, dropout=0.0).eval()
    init_from_base(g, f)
    x = torch.randn(1, 4, 16, 16, 16)
    edits = torch.zeros(1, 3, 16, 16, 16)
    torch.testing.assert_close(g(torch.cat([x, edits], 1)), f(x))
    edits[0, 0, 6:10, 6:10, 6:10] = 1.0
    g(torch.cat([x, edits], 1)).square().mean().backward()
    first = g.encoder[0].entry.weight
    assert first[:, 4:].abs().max() == 0 and first.grad[:, 4].abs().max() > 0  # zero, but learning
    with pytest.raises(ValueError, match="same backbone"):
        init_from_base(g, make_backbone("isensee", in_channels=4, base=4, levels=2, dropout=0.0))


@pytest.mark.slow
def test_cli_trains_base_and_benchmarks_the_backbones(phantoms, tmp_path):
    from click.testing import CliRunner

    from baselines.commands import bench_model
    from benchmark.cli import main

    data = str(phantoms[0].image_paths[0].parent.parent)
    out = tmp_path / "F.pt"
    args = ["train", "base", "--data", data, "--out", str(out), "--epochs", "1", "--steps", "1",
            "--patch", "24", "24", "24", "--base-channels", "4", "--case", phantoms[0].case_id]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert load_checkpoint(out).split == {"train": (phantoms[0].case_id,), "validation": ()}
    bad = CliRunner().invoke(main, ["train", "editor", "--data", data, "--out", str(tmp_path / "G.pt")])
    assert bad.exit_code != 0 and "--base" in bad.output
    rows = bench_model((32, 32, 32), "cpu", repeats=1)
    assert [name for name, _, _ in rows] == ["isensee", "unet3d"] and all(ms > 0 for _, _, ms in rows)


def test_cpu_presets_differ_for_f_and_g_and_refuse_other_kinds():
    f, g = TrainConfig.cpu("base"), TrainConfig.cpu("editor", seed=3)
    assert (f.epochs, f.lr_decay, f.tool_p) == (60, 0.95, 0.5)
    assert (g.epochs, g.lr, g.lr_decay, g.tool_p, g.seed, g.init_from_base, g.keep_best) == (40, 1e-3, 0.92, 0.3, 3,
                                                                                             True, True)
    assert g.target_shifts_mm == (-3, -2, -1, 0, 1, 2, 3) and f.target_shifts_mm == (0,) and not f.keep_best
    assert TrainConfig.cpu("editor", epochs=2).epochs == 2
    with pytest.raises(ValueError, match="kind must be one of"):
        TrainConfig.cpu("edtor")


@pytest.mark.slow
def test_keep_best_writes_the_weights_of_the_best_validation(phantoms, tmp_path, monkeypatch):
    import baselines.editing_network.training as training

    scores = iter([0.5, 0.9, 0.4, 0.6])  # the second validation is the best
    snapshots = []

    def fake_validate(model, cases, settings, with_edits):
        snapshots.append({k: v.clone() for k, v in model.state_dict().items()})
        return next(scores) if not with_edits else 0.0

    monkeypatch.setattr(training, "validate", fake_validate)
    config = TrainConfig(**{**TINY, "epochs": 4}, keep_best=True)
    train("base", phantoms, tmp_path / "F.pt", config, progress=False)
    ckpt = load_checkpoint(tmp_path / "F.pt")
    assert ckpt.epoch == 4 and len(ckpt.training["history"]) == 4  # the run's own count and history
    assert ckpt.training["kept"] == {"score": 0.9, "epoch": 2}
    for name, value in ckpt.weights.items():  # the weights of the second validation, not the last
        torch.testing.assert_close(value, snapshots[1][name])
    scores = iter([0.95, 0.1])
    snapshots.clear()
    train("base", phantoms, tmp_path / "F.pt", TrainConfig(**{**TINY, "epochs": 6}), resume=tmp_path / "F.pt",
          progress=False)
    assert load_checkpoint(tmp_path / "F.pt").training["kept"] == {"score": 0.95, "epoch": 5}  # resumed: kept on
