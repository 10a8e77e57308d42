"""The nnInteractive method, driving a real nnInteractive session on a tiny model folder
(tests/baselines/nninteractive/tiny_model.py: no download, CPU only)."""

import shutil
import sys

import numpy as np
import pytest

from baselines.nninteractive.method import INSTALL, raw_like_channel
from benchmark.case import Case, CaseImage
from benchmark.edits import Adjustment, Box, Click, EditHistory, Stroke
from benchmark.registry import MethodOptions, PluginError, make_method
from benchmark.session import SessionConfig, run_session
from tests.helpers import ball

SHAPE = (64, 64, 48)
ONE_THREAD = MethodOptions(threads=1)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    pytest.importorskip("nnInteractive.inference.inference_session", reason="needs the nninteractive extra")
    from tests.baselines.nninteractive.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("nninteractive"))


@pytest.fixture(autouse=True)
def keep_torch_threads():
    """nnInteractive sets torch's thread count for the whole process: put it back."""
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def image(case_id="c", seed=0):
    rng = np.random.default_rng(seed)
    data = rng.normal(size=(4, *SHAPE)).astype(np.float32)
    data[:, :4] = 0  # some background
    return CaseImage(case_id, data)


class Spy:
    """Records the adapter's calls of the session's add_* / reset / set_image (they still
    run; calls the session makes of its own inside them are not recorded)."""

    NAMES = ("add_point_interaction", "add_scribble_interaction", "add_bbox_interaction", "add_initial_seg_interaction",
             "reset_interactions", "set_image")

    def __init__(self, monkeypatch, session):
        self.calls = []
        self.depth = 0
        for name in self.NAMES:
            monkeypatch.setattr(session, name, self._wrap(name, getattr(session, name)))

    def _wrap(self, name, fn):
        def call(*args, **kwargs):
            if not self.depth:
                self.calls.append((name, args, kwargs))
            self.depth += 1
            try:
                return fn(*args, **kwargs)
            finally:
                self.depth -= 1
        return call

    def take(self):
        calls, self.calls = self.calls, []
        return [(name, args[0] if name == "add_point_interaction" else None) for name, args, _ in calls]


def test_a_positive_click_adds_foreground_and_a_negative_one_removes_it(model):
    method = make_method(f"nninteractive[autozoom=false]={model}", ONE_THREAD)
    assert method.name == "nninteractive:tiny_nninteractive" and method.tools == {"selection", "brush", "box"}
    img = image()
    history = EditHistory()
    assert not method.predict(img, history).any()
    history = history.add([Click((30, 30, 20), True)])
    after = method.predict(img, history)
    assert after.dtype == bool and after.shape == SHAPE
    assert after[30, 30, 20] and after.sum() > 10
    assert not after[~ball(SHAPE, (30, 30, 20), 4)].any()
    assert 0 < method.last_forward_ms < 60_000
    history = history.add([Click((31, 30, 20), False)])
    assert not method.predict(img, history)[30, 30, 20]


def test_a_box_reaches_nninteractive_as_a_2d_box_on_its_drawn_plane(model, monkeypatch):
    method = make_method(f"nninteractive[autozoom=false]={model}", ONE_THREAD)
    spy = Spy(monkeypatch, method.session)
    box = Box((20, 22, 10), (40, 38, 30), True, plane=(2, 18))
    pred = method.predict(image(), EditHistory().add([box]))
    (name, (bbox,), kwargs), = [c for c in spy.calls if c[0].startswith("add_")]
    assert name == "add_bbox_interaction" and kwargs["include_interaction"] is True
    assert bbox == [[20, 41], [22, 39], [18, 19]]  # half-open, one slice thick: nnInteractive's 2D box
    assert pred.shape == SHAPE and pred.dtype == bool


def test_a_stroke_reaches_nninteractive_as_a_scribble_on_its_slice(model, monkeypatch):
    method = make_method(f"nninteractive[autozoom=false]={model}", ONE_THREAD)
    spy = Spy(monkeypatch, method.session)
    voxels = np.array([[20, 20, 30], [21, 21, 30], [22, 22, 30], [23, 22, 30]])
    pred = method.predict(image(), EditHistory().add([Stroke(voxels, True)]))
    (name, (mask,), kwargs), = [c for c in spy.calls if c[0].startswith("add_")]
    assert name == "add_scribble_interaction" and kwargs["include_interaction"] is True
    bbox = kwargs["interaction_bbox"]
    assert bbox[2] == [30, 31] and list(mask.shape) == [b - a for a, b in bbox]
    assert set(np.unique(mask)) == {0, 1}
    assert pred[voxels[:, 0], voxels[:, 1], voxels[:, 2]].all()
    assert pred[:, :, 30].sum() == mask.sum()  # the widened stroke, on its slice only
    assert not pred[:, :, :30].any() and not pred[:, :, 31:].any()


def test_a_stroke_across_the_slice_is_predicted_zoomed_out_and_refined(model):
    # wider than a patch: nnInteractive predicts zoomed out, then refines patch by patch
    method = make_method(f"nninteractive[autozoom=false]={model}", ONE_THREAD)
    voxels = np.array([[i, i, 24] for i in range(64)])
    pred = method.predict(image(), EditHistory().add([Stroke(voxels, True)]))
    assert pred[voxels[:, 0], voxels[:, 1], 24].all()
    assert pred[:, :, 24].sum() == pred.sum() < 4 * 64


def test_only_new_edits_are_added_and_anything_else_starts_over(model, monkeypatch):
    method = make_method(f"nninteractive[autozoom=false]={model}", ONE_THREAD)
    spy = Spy(monkeypatch, method.session)
    img = image()
    r1 = [Click((20, 20, 20), True), Click((40, 40, 20), True)]
    r2 = [Click((20, 40, 25), True), Stroke(np.array([[40, 20, 25], [41, 20, 25]]), True)]
    method.predict(img, EditHistory())
    assert [n for n, _ in spy.take()] == ["set_image"]
    one = EditHistory().add(r1)
    method.predict(img, one)
    assert spy.take() == [("add_point_interaction", (20, 20, 20)), ("add_point_interaction", (40, 40, 20))]
    two = one.add(r2)
    both = method.predict(img, two)
    assert spy.take() == [("add_point_interaction", (20, 40, 25)), ("add_scribble_interaction", None)]
    assert both[20, 20, 20] and both[40, 40, 20] and both[20, 40, 25] and both[40, 20, 25]
    np.testing.assert_array_equal(method.predict(img, two), both)  # the same history again: nothing to add
    assert spy.take() == []
    # rewound: the interactions are reset and round 1 replayed
    rewound = method.predict(img, one)
    assert [n for n, _ in spy.take()] == ["reset_interactions"] + ["add_point_interaction"] * 2
    assert rewound[20, 20, 20] and not rewound[20, 40, 25] and not rewound[40, 20, 25]
    # another case (same id, another image array): the image is set again
    other = image(seed=1)
    method.predict(other, two)
    assert [n for n, _ in spy.take()] == ["set_image", "add_point_interaction", "add_point_interaction",
                                          "add_point_interaction", "add_scribble_interaction"]
    # round 0 starts over as well
    assert not method.predict(other, EditHistory()).any()
    assert [n for n, _ in spy.take()] == ["reset_interactions"]


def test_in_a_session_an_adjustment_is_unsupported_and_changes_nothing(model):
    method = make_method(f"nninteractive={model}", ONE_THREAD)  # AutoZoom on: this model never zooms
    img = image("s")
    label = ball(SHAPE, (32, 32, 24), 5)
    case = Case(case_id="s", image=img.image, label=label)

    class Scripted:
        name = "scripted"
        rounds = [[Click((32, 32, 24), True)], [Adjustment(0.5)], [Click((32, 32, 26), True)]]

        def propose(self, state, rng):
            return self.rounds.pop(0) if self.rounds else []

    result = run_session(case, method, Scripted(), SessionConfig(max_rounds=5, hd95=False), np.random.default_rng(0))
    rows = result.rounds
    assert [r.unsupported for r in rows] == ["", "", "adjustment", ""]
    assert rows[0].dice == 0 and rows[1].dice > 0 and rows[2].dice == rows[1].dice and rows[3].dice > rows[2].dice
    assert rows[2].volume_ml == rows[1].volume_ml
    assert all(np.isfinite(r.forward_ms) for r in rows)


def test_round_0_starts_from_the_initial_segmentation(model, tmp_path, monkeypatch):
    import nibabel as nib

    first = ball(SHAPE, (40, 40, 30), 6)
    nib.save(nib.Nifti1Image(first.astype(np.uint8), np.eye(4)), tmp_path / "c.nii.gz")
    method = make_method(f"nninteractive[autozoom=false]={model}", MethodOptions(threads=1, initial=tmp_path))
    spy = Spy(monkeypatch, method.session)
    img = image()
    np.testing.assert_array_equal(method.predict(img, EditHistory()), first)
    assert [n for n, _ in spy.take()] == ["set_image", "add_initial_seg_interaction"]
    edited = method.predict(img, EditHistory().add([Click((15, 15, 15), True), Click((40, 40, 30), False)]))
    assert edited[15, 15, 15] and not edited[40, 40, 30]
    assert edited[first & ~ball(SHAPE, (40, 40, 30), 4)].all()  # the rest of the first mask stays
    np.testing.assert_array_equal(method.predict(img, EditHistory()), first)  # round 0 again: back to it
    assert [n for n, _ in spy.take()] == ["add_point_interaction"] * 2 + ["reset_interactions",
                                                                          "add_initial_seg_interaction"]


def test_clicks_outside_the_image_are_clipped(model):
    method = make_method(f"nninteractive[autozoom=false]={model}", ONE_THREAD)
    pred = method.predict(image(), EditHistory().add([Click((80, -3, 47), True)]))
    assert pred[63, 0, 47]


def test_threads_come_from_the_run(model):
    import torch

    threads = torch.get_num_threads()
    make_method(f"nninteractive={model}")  # none given: torch's setting is left alone
    assert torch.get_num_threads() == threads
    make_method(f"nninteractive={model}", MethodOptions(threads=1))
    assert torch.get_num_threads() == 1


def test_a_checkpoint_of_a_trainer_nninteractive_lacks_loads_with_its_stub(model, tmp_path):
    # as the official checkpoints do; nnInteractive's search of nnU-Net's trainers imports
    # torchvision, which fails beside a CPU build of torch
    from tests.baselines.nninteractive.tiny_model import build_tiny_model

    folder = build_tiny_model(tmp_path, "official_like", trainer_name="nnInteractiveTrainerV2")
    method = make_method(f"nninteractive[autozoom=false]={folder}", ONE_THREAD)
    assert method.predict(image(), EditHistory().add([Click((30, 30, 20), True)]))[30, 30, 20]


@pytest.mark.parametrize("missing", ["plans.json", "dataset.json", "inference_info.json",
                                     "fold_0/checkpoint_final.pth"])
def test_a_model_folder_missing_a_file_is_one_line_naming_both(model, tmp_path, missing):
    folder = tmp_path / "broken"
    shutil.copytree(model, folder)
    (folder / missing).unlink()
    with pytest.raises(PluginError) as error:
        make_method(f"nninteractive={folder}")
    message = str(error.value)
    assert str(folder) in message and missing in message and "\n" not in message


def test_a_flag_that_is_no_boolean_is_refused(model):
    with pytest.raises(PluginError, match="option autozoom must be true or false, got 'maybe'"):
        make_method(f"nninteractive[autozoom=maybe]={model}")


def test_without_the_extra_the_factory_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "nnInteractive.inference.inference_session", None)
    with pytest.raises(PluginError) as error:
        make_method(f"nninteractive={tmp_path}")
    assert str(error.value) == INSTALL and "torch==2.13.0" in INSTALL and "\n" not in INSTALL


def test_the_channel_given_is_one_modality_with_the_brain_above_the_background():
    img = image()
    raw = raw_like_channel(img, "t1")
    assert raw.shape == (1, *SHAPE) and raw.dtype == np.float32
    brain = img.image[1] != 0
    assert (raw[0][~brain] == 0).all() and (raw[0][brain] > 0).all()
    order = np.argsort(img.image[1][brain])
    assert (np.diff(raw[0][brain][order]) >= 0).all()  # same contrast, shifted
    np.testing.assert_array_equal(raw_like_channel(img, "flair", raw_like=False)[0], img.image[0])
    with pytest.raises(ValueError, match="no modality 'adc'"):
        raw_like_channel(img, "adc")
