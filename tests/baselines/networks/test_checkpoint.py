"""Checkpoints: round trip, provenance, and refusal of mismatched or damaged files."""

from __future__ import annotations

import pytest
import torch

from baselines.networks.checkpoint import (
    CheckpointError,
    InputSpec,
    build_network,
    load_checkpoint,
    load_into,
    save_checkpoint,
)
from baselines.networks import make_backbone

torch.set_num_threads(1)

MODALITIES = ("flair", "t1", "t1ce", "t2")
NORMALISATION = "z-score over brain voxels (nonzero), per modality"
SPLIT = {"train": ["c1", "c2", "c3"], "validation": ["c4"]}


def editor(backbone: str = "isensee", **config):
    config = dict(in_channels=7, base=4, levels=3, **config)
    return make_backbone(backbone, **config), config


def save_editor(path, net, config, backbone="isensee", **overrides):
    kwargs = dict(
        backbone=backbone,
        config=config,
        inputs=InputSpec(MODALITIES, 3, NORMALISATION),
        training={"lr": 5e-4, "decay": 0.985, "patch": [128, 128, 128], "loss": "soft-dice"},
        split=SPLIT,
        epoch=12,
    )
    kwargs.update(overrides)
    return save_checkpoint(path, net, **kwargs)


@pytest.mark.parametrize("backbone", ["isensee", "unet3d"])
def test_round_trip_gives_identical_outputs(tmp_path, backbone):
    torch.manual_seed(0)
    net, config = editor(backbone)
    with torch.no_grad():  # move the norm layers' weights off their defaults
        for p in net.parameters():
            p.add_(0.1 * torch.randn_like(p))
    path = save_editor(tmp_path / "editor.pt", net, config, backbone)
    ckpt = load_checkpoint(path)
    rebuilt = build_network(ckpt)
    assert not rebuilt.training
    x = torch.randn(1, 7, 11, 13, 9)
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(x), net.eval()(x), rtol=0, atol=0)
    assert ckpt.backbone == backbone and ckpt.config == net.config and ckpt.epoch == 12
    assert ckpt.inputs == InputSpec(MODALITIES, 3, NORMALISATION)
    assert ckpt.split == {"train": ("c1", "c2", "c3"), "validation": ("c4",)}
    assert ckpt.training["patch"] == [128, 128, 128] and ckpt.optimizer is None


def test_optimiser_state_is_kept_for_resuming(tmp_path):
    net, config = editor()
    optimiser = torch.optim.Adam(net.parameters(), lr=5e-4)
    net(torch.randn(1, 7, 8, 8, 8)).mean().backward()
    optimiser.step()
    ckpt = load_checkpoint(save_editor(tmp_path / "e.pt", net, config, optimizer=optimiser))
    resumed = torch.optim.Adam(build_network(ckpt).parameters(), lr=1.0)
    resumed.load_state_dict(ckpt.optimizer)
    assert resumed.param_groups[0]["lr"] == 5e-4
    first = next(iter(optimiser.state.values()))["exp_avg"]
    torch.testing.assert_close(next(iter(resumed.state.values()))["exp_avg"], first)


def test_network_with_other_input_channels_is_refused_by_name(tmp_path):
    net, config = editor()
    ckpt = load_checkpoint(save_editor(tmp_path / "editor.pt", net, config))
    base_net = make_backbone("isensee", in_channels=4, base=4, levels=3)
    message = "editor.pt: checkpoint has 7 input channels (4 modalities + 3 edit channels) but the network takes 4"
    with pytest.raises(CheckpointError) as refused:
        load_into(base_net, ckpt)
    assert str(refused.value) == message


def test_other_backbone_or_config_is_refused(tmp_path):
    net, config = editor()
    ckpt = load_checkpoint(save_editor(tmp_path / "editor.pt", net, config))
    with pytest.raises(CheckpointError, match=r"editor.pt: .*'isensee'.*UNet3D"):
        load_into(make_backbone("unet3d", in_channels=7, base=4, levels=3), ckpt)
    with pytest.raises(CheckpointError, match=r"editor.pt: .*base: checkpoint 4, network 8"):
        load_into(make_backbone("isensee", in_channels=7, base=8, levels=3), ckpt)


def test_save_refuses_inconsistent_metadata(tmp_path):
    net, config = editor()
    with pytest.raises(ValueError, match="4 modalities \\+ 0 edit channels.*takes 7"):
        save_editor(tmp_path / "e.pt", net, config, inputs=InputSpec(MODALITIES, 0, NORMALISATION))
    with pytest.raises(ValueError, match="e.pt: config does not match the model \\(base: given 8, model 4\\)"):
        save_editor(tmp_path / "e.pt", net, {**config, "base": 8})
    with pytest.raises(TypeError, match=r"training\['root'\] is a PosixPath"):
        save_editor(tmp_path / "e.pt", net, config, training={"root": tmp_path})
    with pytest.raises(ValueError, match="both train and validation"):
        save_editor(tmp_path / "e.pt", net, config, split={"train": ["a"], "validation": ["a"]})
    assert not list(tmp_path.iterdir())


def test_truncated_file_is_refused_naming_it(tmp_path):
    net, config = editor()
    path = save_editor(tmp_path / "editor.pt", net, config)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"editor.pt: not a readable torch checkpoint \(truncated"):
        load_checkpoint(path)


def test_foreign_files_are_refused(tmp_path):
    net, _ = editor()
    bare = tmp_path / "bare.pt"
    torch.save(net.state_dict(), bare)
    with pytest.raises(CheckpointError, match="bare.pt: a torch file but not a simedit checkpoint"):
        load_checkpoint(bare)
    text = tmp_path / "notes.pt"
    text.write_text("not a checkpoint")
    with pytest.raises(CheckpointError, match="notes.pt: not a readable"):
        load_checkpoint(text)
    pickled = tmp_path / "objects.pt"
    torch.save({"format": "simedit-checkpoint", "root": tmp_path}, pickled)
    with pytest.raises(CheckpointError, match=r"objects.pt: holds Python objects .*pathlib.PosixPath.*refused unread"):
        load_checkpoint(pickled)
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        load_checkpoint(tmp_path / "missing.pt")


def test_newer_format_version_is_refused(tmp_path):
    net, config = editor()
    path = save_editor(tmp_path / "editor.pt", net, config)
    raw = torch.load(path, weights_only=True)
    torch.save({**raw, "version": 99}, path)
    with pytest.raises(CheckpointError, match="version 99 is newer"):
        load_checkpoint(path)
