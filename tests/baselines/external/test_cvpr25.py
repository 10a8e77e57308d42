import json
import os

import nibabel as nib
import numpy as np
import pytest

from baselines.external.cvpr25 import challenge_intensities, to_zyx
from baselines.external.program import ExternalProgramError
from baselines.manual_paint.method import ManualPaint
from benchmark.case import CaseImage
from benchmark.edits import Box, Click, EditHistory, Stroke
from benchmark.io import zscore_brain
from benchmark.registry import MethodOptions, make_method
from benchmark.session import SessionConfig, run_session
from policies.cvpr25_click import Cvpr25Click
from tests.baselines.external.helpers import clicks, misbehaving, reference, voxel_ball
from tests.helpers import ball, tumour_case

SHAPE = (40, 36, 28)


def test_intensities_are_the_challenges_uint8_of_the_raw_scan():
    rng = np.random.default_rng(3)
    brain = ball(SHAPE, (20, 18, 14), 13)
    raw = np.where(brain, rng.gamma(4.0, 60.0, SHAPE), 0.0)  # raw MR: positive in the brain
    # the challenge's MR preprocessing (MedSAM pre_CT_MR.py), on the raw intensities
    low, high = np.percentile(raw[raw > 0], 0.5), np.percentile(raw[raw > 0], 99.5)
    expected = np.clip(raw, low, high)
    expected = (expected - expected.min()) / (expected.max() - expected.min()) * 255.0
    expected[raw == 0] = 0
    ours = challenge_intensities(zscore_brain(raw))  # what simedit holds: z-scored in the brain
    assert ours.dtype == np.uint8 and ours.shape == SHAPE
    differ = ours.astype(int) - np.uint8(expected).astype(int)
    assert np.abs(differ).max() <= 1 and np.count_nonzero(differ) <= 0.001 * brain.sum()  # rounding only
    assert ours[~brain].max() == 0 and ours[brain].max() == 255
    assert not challenge_intensities(np.zeros(SHAPE, np.float32)).any()


def test_round_zero_and_histories_without_clicks_run_no_program():
    method = make_method(f"cvpr25={misbehaving('crash')}")
    image = tumour_case(SHAPE).without_label()
    assert method.tools == {"selection", "box"} and method.name.startswith("cvpr25:misbehave-")
    assert not method.predict(image, EditHistory()).any() and method.last_forward_ms == 0.0
    stroke_only = EditHistory().add([Stroke(np.array([[3, 4, 5]]), True)])
    assert not method.predict(image, stroke_only).any()
    with pytest.raises(ExternalProgramError, match="exited with code 3"):
        method.predict(image, clicks([((3, 4, 5), True)]))


def test_clicks_reach_the_submission_in_zyx_and_prev_pred_is_the_last_output():
    case = tumour_case(SHAPE, case_id="BraTS-GLI-00042-000")
    image = CaseImage(case.case_id, case.image, (1.0, 2.0, 3.0), np.diag([1.0, 2.0, 3.0, 1.0]), case.modalities)
    method = make_method(f"cvpr25[keep=true]={reference('cvpr25')}")
    method.predict(image, EditHistory())
    first = clicks([((30, 8, 20), True)])
    a = method.predict(image, first)
    assert np.array_equal(a, voxel_ball(SHAPE, (30, 8, 20))) and method.last_forward_ms > 0
    second = clicks([((30, 8, 20), True)], [((6, 25, 5), True), ((30, 8, 24), False)])
    b = method.predict(image, second)
    expected = (voxel_ball(SHAPE, (30, 8, 20)) | voxel_ball(SHAPE, (6, 25, 5))) & ~voxel_ball(SHAPE, (30, 8, 24))
    assert np.array_equal(b, expected)

    inputs = method.runner.root / "call-000002" / "inputs"  # round 0 ran nothing
    assert os.listdir(inputs) == ["BraTS-GLI-00042-000.npz"]
    npz = np.load(inputs / "BraTS-GLI-00042-000.npz", allow_pickle=True)
    assert sorted(npz.files) == ["clicks", "clicks_order", "imgs", "prev_pred", "spacing"]
    assert npz["imgs"].dtype == np.uint8 and npz["imgs"].shape == (28, 36, 40)
    assert np.array_equal(npz["imgs"], challenge_intensities(case.image[0]).transpose(2, 1, 0))  # FLAIR
    assert npz["spacing"].dtype == np.float64 and npz["spacing"].tolist() == [3.0, 2.0, 1.0]
    assert npz["clicks"].tolist() == [{"fg": [[20, 8, 30], [5, 25, 6]], "bg": [[24, 8, 30]]}]
    assert npz["clicks_order"].tolist() == [["fg", "fg", "bg"]]
    assert npz["prev_pred"].dtype == np.uint8 and np.array_equal(npz["prev_pred"], to_zyx(a))


def test_a_box_is_the_challenges_boxes_entry_in_every_call_from_then_on():
    case = tumour_case(SHAPE, case_id="b1")
    method = make_method(f"cvpr25[keep=true]={reference('cvpr25')}")
    box = Box((8, 6, 4), (30, 28, 20), True, plane=(2, 13))
    with_box = EditHistory().add([box])
    first = method.predict(case.without_label(), with_box)  # the box step is a real call
    grids = np.ogrid[tuple(slice(0, n) for n in SHAPE)]
    centre, radius = [19, 17, 12], [11.5, 11.5, 8.5]
    assert np.array_equal(first, sum(((g - c) / r) ** 2 for g, c, r in zip(grids, centre, radius)) <= 1)
    then = with_box.add([Click((19, 17, 12), False), Box((0, 0, 0), (3, 3, 3), False)])
    method.predict(case.without_label(), then)
    for call in ("call-000001", "call-000002"):
        npz = np.load(method.runner.root / call / "inputs" / "b1.npz", allow_pickle=True)
        assert npz["boxes"].tolist() == [{"z_min": 4, "z_max": 20, "z_mid": 13, "z_mid_x_min": 8,
                                          "z_mid_y_min": 6, "z_mid_x_max": 30, "z_mid_y_max": 28}]
    assert npz["clicks_order"].tolist() == [["bg"]]  # the negative box is not the challenge's: not passed on


def test_the_initial_mask_is_round_zero_and_the_first_prev_pred(tmp_path):
    case = tumour_case(SHAPE, case_id="c3")
    initial = ball(SHAPE, (12, 10, 8), 4)
    nib.save(nib.Nifti1Image(initial.astype(np.uint8), case.affine), tmp_path / "c3.nii.gz")
    method = make_method(f"cvpr25={reference('cvpr25')}", MethodOptions(initial=tmp_path))
    image = case.without_label()
    assert np.array_equal(method.predict(image, EditHistory()), initial)
    after = method.predict(image, clicks([((30, 8, 20), True)]))
    assert np.array_equal(after, initial | voxel_ball(SHAPE, (30, 8, 20)))


@pytest.mark.parametrize("mode, message", [
    ("wrong-shape", r"wrote c0.npz with segs of shape \(29, 37, 41\), not the image's \(28, 36, 40\) \(z, y, x\)"),
    ("no-segs", r"wrote c0.npz without the key 'segs' \(it has \['masks'\]\)"),
    ("non-binary", r"wrote c0.npz with segs with values \[2\] besides 0 and 1"),
    ("nothing", r"wrote no c0.npz in \{outputs\} after"),
    ("garbage", r"wrote an unreadable c0.npz"),
], ids=["wrong-shape", "no-segs", "non-binary", "nothing", "garbage"])
def test_an_unusable_segs_fails_the_call(mode, message):
    method = make_method(f"cvpr25={misbehaving(mode)}")
    with pytest.raises(ExternalProgramError, match=rf"^method 'cvpr25:misbehave-[0-9a-f]{{6}}': command .* {message}"):
        method.predict(tumour_case(SHAPE).without_label(), clicks([((3, 4, 5), True)]))


@pytest.mark.parametrize("case_id", ["../up", "a/b", ".hidden", "nul\0byte"])
def test_case_ids_that_are_not_file_names_are_refused(case_id):
    method = make_method(f"cvpr25={misbehaving('crash')}")
    image = CaseImage(case_id, tumour_case(SHAPE).image)
    with pytest.raises(ValueError, match="is not a safe file name"):
        method.predict(image, clicks([((3, 4, 5), True)]))


def test_the_case_id_names_only_the_npz(tmp_path):
    record = tmp_path / "argv.json"
    method = make_method(f"cvpr25={misbehaving('argv', record)}")
    method.predict(tumour_case(SHAPE, case_id="Case-991").without_label(), clicks([((3, 4, 5), True)]))
    seen = json.loads(record.read_text())
    assert seen["inputs"] == ["Case-991.npz"] and not any("Case-991" in a for a in seen["argv"])


class ClickAndStroke:
    """Round 1: a click and a stroke; then done."""

    name = "click-and-stroke"

    def propose(self, state, rng):
        if state.round > 1:
            return []
        return [Click((30, 8, 20), True), Stroke(np.array([[5, 5, 5], [6, 5, 5]]), True)]


def test_in_a_session_strokes_are_unsupported_and_clicks_match_manual_paint():
    case = tumour_case(SHAPE)
    method = make_method(f"cvpr25={reference('cvpr25')}")
    result = run_session(case, method, ClickAndStroke(), SessionConfig(max_rounds=3), np.random.default_rng(0))
    assert result.rounds[1].unsupported == "brush" and result.stop_reason == "user"
    assert np.array_equal(result.final_prediction, voxel_ball(SHAPE, (30, 8, 20)))

    config, results = SessionConfig(max_rounds=3, hd95=False), []
    for m in (ManualPaint(initial=lambda image: np.zeros(image.shape, bool)), method):
        results.append(run_session(case, m, Cvpr25Click(), config, np.random.default_rng(0)))
    paint, external = results
    assert [r.dice for r in external.rounds] == [r.dice for r in paint.rounds] and external.rounds[-1].dice > 0.3
    assert np.array_equal(external.final_prediction, paint.final_prediction)
    assert external.rounds[0].forward_ms == 0.0 and all(r.forward_ms > 0 for r in external.rounds[1:])
