"""A tiny nnInteractive model folder, built in a test's tmp_path (no download).

nnInteractive loads a trained model from a folder holding

- ``plans.json``: of a configuration, nnInteractive reads only ``patch_size`` and
  ``architecture`` (the network class and its keyword arguments);
- ``dataset.json``: ``channel_names`` (one image channel) and ``labels``;
- ``inference_info.json``: ``{}`` selects its legacy layout of 7 interaction channels
  (point radius 4, scribble thickness 2, interaction decay 0.98);
- ``fold_0/checkpoint_final.pth``: ``network_weights``, ``trainer_name`` and
  ``init_args.configuration``. nnInteractive builds the network with the trainer of that
  name; its stub trainer builds the plans' architecture, and any other name makes it
  search every nnU-Net trainer first (which imports torchvision: the method tolerates
  that failing, as the official checkpoints need).

The network is a real :class:`~dynamic_network_architectures.architectures.unet.PlainConvUNet`
(two stages of 8 features, patch 64^3 — nnInteractive refines with a 24-voxel margin, so
a patch needs at least 49 voxels per axis) without normalisation layers, and weights
chosen by hand so that it follows its prompts instead of reading the image. Its input is
the image then the 7 interaction channels::

    0 image   1 previous segmentation   2/3 box +/-   4/5 point +/-   6/7 scribble +/-

The first encoder convolution copies channels 1, 4, 5, 6, 7 (all >= 0, so LeakyReLU keeps
them) to features 0-4 with the centre tap of its 3x3x3 kernel; the second stage and the
up-convolution are zero, so the decoder convolution sees them again as the skip and
copies them on; the 1x1x1 segmentation layer then gives the logits

    background = 0
    foreground = previous + point+ + scribble+ - 2 (point- + scribble-) - 0.5

so a voxel is foreground where it already was or a positive prompt covers it (a point
prompt is a ball of radius 4 fading from 1 at its centre, so a click adds a ball of about
2 voxels radius), unless a negative prompt covers it (the whole radius-4 ball of a
negative click). With the previous segmentation as an input, an initial segmentation
handed over with ``add_initial_seg_interaction`` survives the edits away from it.
"""

from __future__ import annotations

import json
from pathlib import Path

PATCH = (64, 64, 64)
CONFIGURATION = "3d_tiny"
FEATURES = 8
#: Network input channel -> weight in the foreground logit.
PROMPT_WEIGHTS = {1: 1.0, 4: 1.0, 5: -2.0, 6: 1.0, 7: -2.0}
BIAS = -0.5


def architecture() -> dict:
    """The ``architecture`` entry of the plans' configuration."""
    return {
        "network_class_name": "dynamic_network_architectures.architectures.unet.PlainConvUNet",
        "arch_kwargs": {
            "n_stages": 2,
            "features_per_stage": [FEATURES, FEATURES],
            "conv_op": "torch.nn.modules.conv.Conv3d",
            "kernel_sizes": [[3, 3, 3], [3, 3, 3]],
            "strides": [[1, 1, 1], [2, 2, 2]],
            "n_conv_per_stage": [1, 1],
            "n_conv_per_stage_decoder": [1],
            "conv_bias": True,
            "norm_op": None,
            "norm_op_kwargs": None,
            "dropout_op": None,
            "dropout_op_kwargs": None,
            "nonlin": "torch.nn.LeakyReLU",
            "nonlin_kwargs": {"inplace": True},
        },
        "_kw_requires_import": ["conv_op", "norm_op", "dropout_op", "nonlin"],
    }


def prompt_following_weights(network) -> dict:
    """A state dict for ``network`` (the PlainConvUNet above) that follows the prompts."""
    import torch

    with torch.no_grad():
        for parameter in network.parameters():
            parameter.zero_()
        first = network.encoder.stages[0][0].convs[0].conv.weight
        decoder = network.decoder.stages[0].convs[0].conv.weight
        seg = network.decoder.seg_layers[0]
        for feature, channel in enumerate(PROMPT_WEIGHTS):
            first[feature, channel, 1, 1, 1] = 1.0
            decoder[feature, FEATURES + feature, 1, 1, 1] = 1.0  # the skip follows the up-convolution
            seg.weight[1, feature, 0, 0, 0] = PROMPT_WEIGHTS[channel]
        seg.bias[1] = BIAS
    return network.state_dict()


def build_tiny_model(root: Path, name: str = "tiny_nninteractive",
                     trainer_name: str = "nnInteractiveTrainer_stub") -> Path:
    """Write the model folder ``root/name`` and return it."""
    import torch
    from dynamic_network_architectures.architectures.unet import PlainConvUNet
    from pydoc import locate

    folder = Path(root) / name
    (folder / "fold_0").mkdir(parents=True, exist_ok=True)
    arch = architecture()
    plans = {
        "dataset_name": "Dataset999_tiny",
        "plans_name": "nnInteractivePlans",
        "configurations": {CONFIGURATION: {"patch_size": list(PATCH), "architecture": arch}},
    }
    dataset = {"channel_names": {"0": "flair"}, "labels": {"background": 0, "foreground": 1}}
    (folder / "plans.json").write_text(json.dumps(plans, indent=1))
    (folder / "dataset.json").write_text(json.dumps(dataset, indent=1))
    (folder / "inference_info.json").write_text("{}")

    kwargs = dict(arch["arch_kwargs"])
    for key in arch["_kw_requires_import"]:
        if kwargs[key] is not None:
            kwargs[key] = locate(kwargs[key])
    network = PlainConvUNet(input_channels=1 + 7, num_classes=2, deep_supervision=False, **kwargs)
    torch.save({"network_weights": prompt_following_weights(network), "trainer_name": trainer_name,
                "init_args": {"configuration": CONFIGURATION}}, folder / "fold_0" / "checkpoint_final.pth")
    return folder
