import json
import os
import re
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from baselines.external.program import ExternalProgramError
from baselines.manual_paint.method import ManualPaint
from benchmark.case import CaseImage
from benchmark.edits import EditHistory
from benchmark.registry import PluginError, make_method
from benchmark.session import SessionConfig, run_session
from policies.reference_users import RitmClick
from tests.baselines.external.helpers import clicks, misbehaving, reference, voxel_ball
from tests.helpers import tumour_case

SHAPE = (40, 36, 28)


def kept_call(method, n: int) -> Path:
    return method.runner.root / f"call-{n:06d}"


def test_clicks_reach_the_program_at_their_voxel_and_previous_carries_the_last_prediction():
    case = tumour_case(SHAPE, case_id="c7")
    affine = np.diag([1.0, 2.0, 3.0, 1.0])
    affine[:3, 3] = [-20, -36, -42]
    image = CaseImage("c7", case.image, (1.0, 2.0, 3.0), affine, case.modalities)
    method = make_method(f"process[keep=true]={reference('process')}")
    assert re.match(r"process:paint_clicks_process-[0-9a-f]{6}$", method.name)
    assert not method.predict(image, EditHistory()).any()
    assert method.last_forward_ms > 0

    first = clicks([((30, 8, 20), True)])
    a = method.predict(image, first)
    assert np.array_equal(a, voxel_ball(SHAPE, (30, 8, 20)))  # not transposed, not mirrored
    second = clicks([((30, 8, 20), True)], [((6, 25, 5), True), ((30, 8, 24), False)])
    b = method.predict(image, second)
    # the program paints only the last round: the first ball came back through previous.nii.gz
    expected = (voxel_ball(SHAPE, (30, 8, 20)) | voxel_ball(SHAPE, (6, 25, 5))) & ~voxel_ball(SHAPE, (30, 8, 24))
    assert np.array_equal(b, expected)

    inputs = kept_call(method, 3) / "inputs"
    assert sorted(os.listdir(inputs)) == ["image.nii", "previous.nii.gz", "request.json"]
    request = json.loads((inputs / "request.json").read_text())
    assert request == {
        "format": "simedit-exchange", "version": 1, "case": "c7", "round": 2, "shape": list(SHAPE),
        "spacing": [1.0, 2.0, 3.0], "modalities": ["flair", "t1", "t1ce", "t2"], "image": "image.nii",
        "previous": "previous.nii.gz", "output": "segmentation.nii.gz",
        "edits": [[{"tool": "selection", "voxel": [30, 8, 20], "positive": True}],
                  [{"tool": "selection", "voxel": [6, 25, 5], "positive": True},
                   {"tool": "selection", "voxel": [30, 8, 24], "positive": False}]]}
    previous = nib.load(inputs / "previous.nii.gz")
    assert previous.get_data_dtype() == np.uint8 and np.array_equal(np.asanyarray(previous.dataobj), a)
    written = nib.load(inputs / "image.nii")
    assert written.get_data_dtype() == np.float32 and np.allclose(written.affine, affine)
    assert np.array_equal(np.asanyarray(written.dataobj), np.moveaxis(case.image, 0, -1))  # [X, Y, Z, C]
    cached = list(method.runner.cache.iterdir())
    assert len(cached) == 1 and os.path.samefile(cached[0], inputs / "image.nii")  # written once, linked
    assert json.loads((kept_call(method, 1) / "inputs" / "request.json").read_text())["previous"] is None


def test_a_session_gives_what_manual_paint_on_an_empty_mask_gives():
    case = tumour_case(SHAPE)
    config, results = SessionConfig(max_rounds=3, hd95=False), []
    for method in (ManualPaint(initial=lambda image: np.zeros(image.shape, bool)),
                   make_method(f"process={reference('process')}")):
        results.append(run_session(case, method, RitmClick(), config, np.random.default_rng(0)))
    paint, external = results
    assert [r.dice for r in external.rounds] == [r.dice for r in paint.rounds] and external.rounds[-1].dice > 0.3
    assert np.array_equal(external.final_prediction, paint.final_prediction)
    assert all(0 < r.forward_ms <= r.model_ms for r in external.rounds)
    assert external.rounds[1].method.startswith("process:paint_clicks_process-")


@pytest.mark.parametrize("mode, message", [
    ("wrong-shape", r"wrote segmentation.nii.gz of shape \(41, 37, 29\), not the image's \(40, 36, 28\) \(X, Y, Z\)"),
    ("nothing", r"wrote no segmentation.nii.gz \(nor segmentation.nii\) in \{outputs\} after \d+\.\d s"),
    ("non-binary", r"wrote segmentation.nii.gz with values \[2\] besides 0 and 1"),
    ("garbage", r"wrote an unreadable segmentation.nii.gz"),
])
def test_a_missing_or_unusable_output_fails_the_call(mode, message):
    method = make_method(f"process={misbehaving(mode)}")
    with pytest.raises(ExternalProgramError, match=rf"^method 'process:misbehave-[0-9a-f]{{6}}': command .* {message}"):
        method.predict(tumour_case(SHAPE).without_label(), EditHistory())


def test_tools_and_name_options():
    spec = f"process[tools=selection+brush,name=my-net]={misbehaving('crash')}"
    method = make_method(spec)
    assert method.tools == {"selection", "brush"} and method.name == "my-net"
    with pytest.raises(PluginError, match="tools='lasso': expected '\\+'-joined names among selection, brush"):
        make_method(f"process[tools=lasso]={misbehaving('crash')}")

