import numpy as np
import pytest
from scipy import ndimage

from baselines.editing_network import diagnosis as dg
from benchmark.edit_quality import edit_voxels
from benchmark.edits import PAPER_TOOLS, Adjustment, Click, EditHistory
from tests.helpers import ball, tumour_case


class BallEditor:
    """A stand-in G: a ball that is 3 voxels too small; each positive click adds a ball of
    radius 3 there; K scales the ball's volume by 1 / (1 - K), as the K would ask."""

    name = "ball"
    tools = frozenset(PAPER_TOOLS)

    def __init__(self, centre, radius):
        self.centre, self.radius = centre, radius

    def predict(self, image, history: EditHistory) -> np.ndarray:
        scale = (1 / (1 - history.k_total)) ** (1 / 3)
        out = ball(image.shape, self.centre, self.radius * scale)
        for e in history.edits:
            if isinstance(e, Click) and e.positive:
                out |= ball(image.shape, e.voxel, 3.0)
        return out


@pytest.fixture
def cases():
    return [tumour_case(case_id="a"), tumour_case(centre=(18, 20, 13), radius=7.0, case_id="b", seed=1)]


def test_k_response_measures_the_volume_ratio_and_the_error_sign(cases):
    editor = BallEditor((20, 18, 14), 5.0)  # under-segments both cases
    rows = dg.k_response(cases, editor, ks=(-0.5, 0.0, 0.5))
    assert {(r.case, r.k) for r in rows} == {(c.case_id, k) for c in cases for k in (-0.5, 0.0, 0.5)}
    assert not any(r.over for r in rows)
    base = editor.predict(cases[0], EditHistory()).sum()
    for r in rows:
        shrunk = editor.predict(cases[0], EditHistory().add([Adjustment(r.k)])).sum()
        assert r.volume_ratio == pytest.approx(shrunk / base)  # brute force on the same masks
    summary = {row["k"]: row for row in dg.summarise_k(rows)}
    assert summary[0.0]["ratio_all"] == 1.0 and summary[0.5]["wanted"] == 2.0
    assert summary[-0.5]["ratio_all"] == pytest.approx(2 / 3, rel=0.15) and summary[0.5]["ratio_all"] == pytest.approx(2, rel=0.15)
    assert np.isnan(summary[0.5]["ratio_over"]) and summary[0.5]["ratio_under"] == summary[0.5]["ratio_all"]
    over = dg.k_response(cases[:1], BallEditor((20, 18, 14), 10.0), ks=(0.0,))
    assert over[0].over


def test_tool_response_counts_gain_and_flips_near_and_far_by_brute_force(cases):
    case = cases[0]
    editor = BallEditor((20, 18, 14), 5.0)
    rows = dg.tool_response([case], editor, users=("selection", "adjustment"), near_mm=4.0)
    by_user = {r.user: r for r in rows}
    selection = by_user["selection"]
    assert selection.edits >= 1 and selection.dice_after > selection.dice_before
    # brute force: redo the round, measure every flipped voxel's distance to the clicks with scipy
    before = editor.predict(case, EditHistory())
    from benchmark.registry import make_user
    from benchmark.policy import RoundState
    import zlib
    rng = np.random.default_rng([0, zlib.crc32(b"a/selection")])
    edits = make_user("selection", "test").propose(RoundState(case.label, before, EditHistory(), 1, case.spacing), rng)
    after = editor.predict(case, EditHistory().add(edits))
    seeds = np.ones(case.shape, bool)
    seeds[tuple(edit_voxels(edits, case.shape).T)] = False
    distance = ndimage.distance_transform_edt(seeds)
    flipped = before != after
    assert selection.flips_near == np.count_nonzero(flipped & (distance <= 4.0))
    assert selection.flips_far == np.count_nonzero(flipped & (distance > 4.0))
    adjustment = by_user["adjustment"]
    assert adjustment.flips_near == 0 and adjustment.flips_far > 0  # no place: every flip is far
    (summary,) = [s for s in dg.summarise_tools(rows) if s["user"] == "selection"]
    assert summary["gain_points"] == pytest.approx(100 * (selection.dice_after - selection.dice_before))
    assert summary["improved"] == 1.0 and summary["edited"] == 1


def test_training_edits_reports_the_tools_the_signs_and_the_errors():
    label = ball((20, 20, 20), (10, 10, 10), 5.0)
    prediction = ball((20, 20, 20), (10, 10, 10), 4.0)  # misses a shell: FN share > 0, FP 0

    def samples(rng):
        k = rng.choice([-0.2, 0.4])
        history = EditHistory().add([Adjustment(float(k))]) if rng.random() < 0.5 else EditHistory()
        return history, prediction, label

    out = dg.training_edits(samples, 400)
    assert out["share_adjustment"] + out["share_none"] == 1.0 and out["share_selection"] == 0
    assert 0.4 < out["share_adjustment"] < 0.6 and 0.35 < out["share_k_negative"] < 0.65
    assert out["k_q25"] == -0.2 and out["k_q75"] == 0.4
    assert out["median_fp_share"] == 0 and out["median_fn_share"] == pytest.approx((label & ~prediction).sum() / label.sum())


@pytest.mark.slow
def test_the_command_measures_a_trained_editor_on_its_held_out_cases(tmp_path):
    import json

    from click.testing import CliRunner

    from baselines.editing_network.training import TrainConfig, train
    from benchmark.cli import main
    from benchmark.io import discover
    from benchmark.phantoms.synth import synthesize

    synthesize(tmp_path / "data", 4, (32, 32, 24), seed=0)
    refs = sorted(discover(tmp_path / "data"), key=lambda r: r.case_id)
    tiny = dict(base=4, levels=3, patch=(24, 24, 24), batch_size=1, epochs=1, steps_per_epoch=1, validate_every=1)
    train("base", refs[:3], tmp_path / "F.pt", TrainConfig(**tiny), progress=False)
    train("editor", refs[:3], tmp_path / "G.pt", TrainConfig(**tiny, target_shifts_mm=(-1.0, 0.0, 1.0)),
          base_checkpoint=tmp_path / "F.pt", progress=False)
    result = CliRunner().invoke(main, ["diagnose", str(tmp_path / "G.pt"), "--data", str(tmp_path / "data"),
                                       "--samples", "50", "--json", str(tmp_path / "d.json")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "d.json").read_text())
    assert report["cases"] == [refs[3].case_id]  # the one case in none of G's splits
    assert [t["user"] for t in report["tools"]] == list(dg.USERS) and len(report["k"]) == len(dg.KS)
    assert 0 < report["training"]["share_none"] < 0.5  # tool_p 0.5: 1/8 of the samples have no edits
    assert "training samples" in result.output
    (tmp_path / "F.pt").unlink()  # the training statistics need G's F
    gone = CliRunner().invoke(main, ["diagnose", str(tmp_path / "G.pt"), "--data", str(tmp_path / "data")])
    assert gone.exit_code == 1 and "F.pt, is not there" in gone.output and "Traceback" not in gone.output


@pytest.mark.slow
def test_the_gain_curve_resumes_g_through_its_epoch_counts(tmp_path):
    from baselines.editing_network.gain_curve import gain_curve
    from baselines.editing_network.training import TrainConfig, train
    from baselines.networks.checkpoint import load_checkpoint
    from benchmark.io import discover
    from benchmark.phantoms.synth import synthesize

    synthesize(tmp_path / "data", 4, (32, 32, 24), seed=0)
    refs = sorted(discover(tmp_path / "data"), key=lambda r: r.case_id)
    tiny = dict(base=4, levels=3, patch=(24, 24, 24), batch_size=1, steps_per_epoch=1, validate_every=1)
    train("base", refs[:3], tmp_path / "F.pt", TrainConfig(**tiny, epochs=1), progress=False)
    said = []
    points = gain_curve(tmp_path / "data", tmp_path / "F.pt", tmp_path / "curve", [2, 1], echo=said.append,
                        overrides=tiny)
    assert [p.epochs for p in points] == [1, 2] and len(said) == 2
    first, second = (load_checkpoint(tmp_path / "curve" / f"G-{n}.pt").training["history"] for n in (1, 2))
    assert len(first) == 1 and len(second) == 2 and second[0] == first[0]  # resumed: the 1-epoch history goes on
    assert points[1].train_s == pytest.approx(first[0]["seconds"] + second[1]["seconds"])
    assert all(0 <= p.unedited <= 1 and p.volume_k_minus >= 0 for p in points)


def test_session_gain_is_the_protocol_b_d_e_and_the_just_reached_reference(cases):
    editor = BallEditor((20, 18, 14), 5.0)
    gain = dg.session_gain(cases, editor, user="multi:target_dice=0.9", rounds=3)
    from benchmark.metrics import dice

    unedited = [dice(editor.predict(c, EditHistory()), c.label) for c in cases]
    assert gain.unedited == pytest.approx(np.mean(unedited))
    assert gain.just_reached == pytest.approx(np.mean(np.maximum(unedited, 0.9)))
    assert gain.unedited <= gain.one_round <= gain.final and 0 < gain.edits <= 3
