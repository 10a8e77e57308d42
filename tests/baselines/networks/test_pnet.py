import pytest
import torch

from baselines.networks.checkpoint import InputSpec, build_network, load_checkpoint, save_checkpoint
from baselines.networks import make_backbone
from baselines.networks.pnet import PNet
from tests.helpers import one_thread  # noqa: F401 - the fixture


pytestmark = pytest.mark.usefixtures("one_thread")


def test_keeps_any_size_and_counts_channels():
    net = PNet(in_channels=7, features=4).eval()
    x = torch.randn(2, 7, 13, 9, 6)
    assert net(x).shape == (2, 1, 13, 9, 6)
    with pytest.raises(ValueError, match="7"):
        net(torch.randn(1, 4, 8, 8, 8))


def _positive_net(shape_axis: int) -> tuple[PNet, torch.Tensor]:
    """A net whose every unit is active (positive weights and input), and an input
    that is long along one axis and a single voxel along the others."""
    net = PNet(in_channels=1, features=4, dropout=0.0).eval()
    for p in net.parameters():
        torch.nn.init.constant_(p, 0.05)
    size = [1, 1, 1]
    size[shape_axis] = 301
    return net, torch.ones(1, 1, *size, requires_grad=True)


@pytest.mark.parametrize("axis, half_width", [(0, 91), (1, 91), (2, 32)])
def test_receptive_field_is_183_in_plane_and_65_across(axis, half_width):
    # Independent count: in-plane, 2 x (1x2 + 2x2 + 4x3 + 8x3 + 16x3) + 2 = 182 voxels
    # beyond the centre in total, so 91 on each side; across slices 2 x (1 + 2 + 4 + 8 + 16) + 2 = 64.
    net, x = _positive_net(axis)
    net(x)[0, 0].flatten()[150].backward()
    reached = (x.grad[0, 0].flatten() != 0).nonzero().flatten()
    assert reached.min().item() == 150 - half_width and reached.max().item() == 150 + half_width


def test_dropout_only_in_training_and_config_round_trip(tmp_path):
    net = make_backbone("pnet", in_channels=4, features=8, dropout=0.5)
    x = torch.randn(1, 4, 10, 10, 6)
    net.eval()
    assert torch.equal(net(x), net(x))
    path = save_checkpoint(tmp_path / "p.pt", net, backbone="pnet", config=net.config,
                           inputs=InputSpec(("flair", "t1", "t1ce", "t2"), 0, "z-score"), training={},
                           split={"train": ["a"], "validation": []}, epoch=1)
    rebuilt = build_network(load_checkpoint(path))
    assert isinstance(rebuilt, PNet) and rebuilt.config == net.config
    assert torch.equal(rebuilt(x), net(x))


@pytest.mark.parametrize("kwargs, match", [(dict(features=6), "multiple of 4"), (dict(dropout=1.0), "dropout"),
                                           (dict(in_channels=0), "positive")])
def test_rejects_bad_config(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PNet(**kwargs)


def test_learns_a_bright_cube():
    torch.manual_seed(0)
    x = torch.zeros(2, 1, 16, 16, 12)
    x[:, :, 4:10, 5:12, 3:8] = 1.0
    y = x > 0
    net = PNet(1, features=4, dropout=0.0)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    losses = []
    for _ in range(30):
        loss = torch.nn.functional.binary_cross_entropy_with_logits(net(x), y.float())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.3 * losses[0]
