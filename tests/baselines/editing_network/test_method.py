import numpy as np
import pytest
import torch

from baselines.networks.checkpoint import CheckpointError, InputSpec, save_checkpoint
from baselines.networks.inference import InferenceSettings
from baselines.editing_network.method import NetworkMethod
from baselines.networks import make_backbone
from benchmark.registry import make_method
from benchmark.edits import PAPER_TOOLS, Adjustment, Click, EditHistory
from tests.helpers import tumour_case

MODALITIES = ("flair", "t1", "t1ce", "t2")


def _checkpoint(path, edit_channels):
    torch.manual_seed(0)
    model = make_backbone("isensee", in_channels=4 + edit_channels, base=4, levels=3, dropout=0.0)
    save_checkpoint(path, model, backbone="isensee", config=model.config,
                    inputs=InputSpec(MODALITIES, edit_channels, "z-score"), training={"kind": "x"},
                    split={"train": ["a"], "validation": []}, epoch=1)
    return path


@pytest.fixture
def case():
    torch.set_num_threads(1)
    c = tumour_case(shape=(28, 28, 20), centre=(14, 14, 10), radius=6.0)
    c.image[:, :2] = 0  # a background margin, so the brain box is smaller than the volume
    return c


def test_editor_output_changes_where_the_edit_is_placed(tmp_path, case):
    g = make_method(f"editor={_checkpoint(tmp_path / 'G.pt', 3)}")
    assert g.name == "editor:G" and g.tools == frozenset(PAPER_TOOLS)
    image = case.without_label()
    plain = g.logits(image, EditHistory())
    clicked = g.logits(image, EditHistory().add([Click((20, 8, 5), True)]))
    change = np.abs(clicked - plain)
    grid = np.indices(change.shape)
    distance = np.sqrt(((grid - np.array([20, 8, 5])[:, None, None, None]) ** 2).sum(0))
    brain = case.image[0] != 0  # instance norm spreads a little everywhere; the edit itself acts locally
    assert change[(distance <= 3) & brain].mean() > 5 * change[(distance >= 10) & brain].mean()
    adjusted = g.logits(image, EditHistory().add([Adjustment(0.4)]))
    assert np.abs(adjusted - plain)[2:].mean() > 1e-4
    assert g.predict(image, EditHistory()).dtype == bool and g.last_forward_ms > 0


def test_base_ignores_edits_and_reorders_modalities(tmp_path, case):
    f = NetworkMethod.from_checkpoint("base", _checkpoint(tmp_path / "F.pt", 0), InferenceSettings())
    assert f.name == "base:F" and f.tools == frozenset()
    image = case.without_label()
    out = f.logits(image, EditHistory())
    np.testing.assert_array_equal(out, f.logits(image, EditHistory().add([Click((20, 8, 5), True)])))
    shuffled = type(image)(image.case_id, image.image[::-1].copy(), modalities=MODALITIES[::-1])
    np.testing.assert_allclose(f.logits(shuffled, EditHistory()), out, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="lacks modalities"):
        f.logits(type(image)(image.case_id, image.image[:3], modalities=MODALITIES[:3]), EditHistory())


def test_wrong_kind_and_missing_checkpoint_are_refused(tmp_path):
    with pytest.raises(ValueError, match="method 'base': CheckpointError: .*G.pt: has 7 input channels .*use editor="):
        make_method(f"base={_checkpoint(tmp_path / 'G.pt', 3)}")
    with pytest.raises(CheckpointError, match="use base="):
        NetworkMethod.from_checkpoint("editor", _checkpoint(tmp_path / 'F.pt', 0))
    with pytest.raises(ValueError, match="needs a file after '=': editor=CHECKPOINT.pt"):
        make_method("editor")
