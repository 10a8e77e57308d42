import numpy as np
import pytest
import torch
from torch import nn

from baselines.networks.inference import OUTSIDE, InferenceSettings, predict_logits, sliding_logits, window_starts


class Pointwise(nn.Module):
    """A 1x1x1 conv: its output at a voxel depends on that voxel only, so windows must agree."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv3d(channels, 1, 1)
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return self.conv(x)


@pytest.mark.parametrize("length,window,overlap", [(10, 4, 0.5), (13, 5, 0.25), (7, 8, 0.5), (9, 9, 0.0)])
def test_window_starts_cover_the_axis(length, window, overlap):
    starts = window_starts(length, window, overlap)
    covered = np.zeros(length, bool)
    for s in starts:
        covered[s : s + window] = True
    assert covered.all() and starts[0] == 0 and starts[-1] == max(0, length - window)
    assert all(b - a <= window for a, b in zip(starts, starts[1:]))


def test_sliding_windows_equal_one_pass_for_a_pointwise_model():
    torch.manual_seed(0)
    model = Pointwise(3).eval()
    x = torch.randn(1, 3, 21, 17, 11)
    whole, _ = sliding_logits(model, x, InferenceSettings(max_voxels=10**6))
    assert model.calls == 1
    tiled, ms = sliding_logits(model, x, InferenceSettings(max_voxels=100, window=(8, 8, 8), overlap=0.5))
    assert model.calls > 8 and ms > 0
    torch.testing.assert_close(tiled, whole, rtol=1e-5, atol=1e-5)


def test_predict_logits_crops_to_the_brain_and_pastes_back():
    torch.manual_seed(0)
    model = Pointwise(4).eval()
    image = np.zeros((2, 20, 20, 20), np.float32)
    image[:, 6:12, 5:15, 8:10] = 1.0
    edits = np.full((2, 20, 20, 20), 0.5, np.float32)  # non-zero everywhere, but not part of the box
    logits, ms = predict_logits(model, image, edits, InferenceSettings(margin=1))
    x = torch.from_numpy(np.concatenate([image, edits]))[None]
    expected = model(x)[0, 0].detach().numpy()
    box = (slice(5, 13), slice(4, 16), slice(7, 11))
    np.testing.assert_allclose(logits[box], expected[box], rtol=1e-5, atol=1e-6)
    outside = np.ones(image.shape[1:], bool)
    outside[box] = False
    assert np.all(logits[outside] == OUTSIDE) and ms > 0


def test_settings_validate():
    with pytest.raises(ValueError, match="device"):
        InferenceSettings(device="tpu")
    with pytest.raises(ValueError, match="overlap"):
        InferenceSettings(overlap=1.0)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_half_precision_agrees_with_cpu():
    from baselines.networks import make_backbone

    torch.manual_seed(0)
    model = make_backbone("isensee", in_channels=4, base=4, levels=3, dropout=0.0).eval()
    image = np.random.default_rng(0).normal(size=(4, 24, 24, 24)).astype(np.float32)
    cpu, _ = predict_logits(model, image, None, InferenceSettings())
    gpu, ms = predict_logits(model.cuda(), image, None, InferenceSettings(device="cuda"))
    assert ms > 0 and np.mean((cpu > 0) == (gpu > 0)) > 0.99
