"""The analyses behind Figs. 4-6, checked with a fake editing method whose answers are known."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from matplotlib.figure import Figure
from scipy import ndimage as ndi

from benchmark.analyses import driver, panels, robustness, sweep
from benchmark.analyses.robustness import EDITS, line_stroke, robustness_case, spread
from benchmark.analyses.slices import brain
from benchmark.case import Case
from benchmark.edits import PAPER_TOOLS as TOOLS, Adjustment, Click, EditHistory, Stroke, stamp
from benchmark.registry import MethodOptions
from policies.adjustment import measured_k
from policies.selection import selection_clicks
from tests.helpers import ball, one_thread  # noqa: F401 - a fixture

SHAPE = (40, 40, 32)
SPACING = (1.0, 1.0, 1.5)
CUBE = np.ones((3, 3, 3), bool)


def make_case(case_id="c0", centre=(14, 20, 16), radius=6.0, seed=0) -> Case:
    """A brain ball (image non-zero inside only) with a FLAIR-bright ball tumour."""
    rng = np.random.default_rng(seed)
    inside = ball(SHAPE, (20, 20, 16), 18.0)
    label = ball(SHAPE, centre, radius, SPACING)
    image = np.where(inside, 1.0 + rng.normal(0, 0.1, (4, *SHAPE)), 0).astype(np.float32)
    image[0][label] += 2.0
    return Case(case_id=case_id, image=image, label=label, spacing=SPACING)


def speck() -> np.ndarray:
    """A false-positive speck far from the tumour of :func:`make_case`."""
    s = np.zeros(SHAPE, bool)
    s[30:32, 20:22, 16:18] = True
    return s


class FakeEditor:
    """An editing method whose behaviour the tests compute independently.

    It knows each case's tumour (the tests give it the labels) and predicts it eroded
    once, plus a false-positive speck. A click or stroke flips its stamp and every
    tumour component the stamp touches (foreground: added; background: removed, and the
    speck with it); K dilates (K > 0) or erodes (K < 0) by round(10 |K|) steps.
    """

    def __init__(self, labels: dict[str, np.ndarray], tools=TOOLS, name="fake") -> None:
        self.labels, self.tools, self.name = labels, frozenset(tools), name

    def before(self, case_id: str) -> np.ndarray:
        return ndi.binary_erosion(self.labels[case_id]) | speck()

    def predict(self, image, history: EditHistory) -> np.ndarray:
        label = self.labels[image.case_id]
        mask = self.before(image.case_id)
        for edit in history.edits:
            if isinstance(edit, Adjustment):
                steps = round(abs(edit.k) * 10)
                if steps:
                    grow = ndi.binary_dilation if edit.k > 0 else ndi.binary_erosion
                    mask = grow(mask, iterations=steps)
                continue
            region = stamp([edit], mask.shape) != 0
            components, _ = ndi.label(label, CUBE)
            hit = region | np.isin(components, np.unique(components[region & label]))
            if edit.positive:
                mask = mask | hit
            else:
                mask = mask & ~hit & ~speck()
        return mask


@dataclass
class MemoryRef:
    """A case reference that loads from memory (or fails to load)."""

    case_id: str
    case: Case | None = None

    def load(self) -> Case:
        if self.case is None:
            raise OSError(f"{self.case_id}: truncated file")
        return self.case


def brute_spread(before, after, edit, spacing):
    """Reference for robustness.spread: scipy labels and every voxel pair's distance."""
    flipped = after & ~before if edit.positive else before & ~after
    stamped = stamp([edit], before.shape) != 0
    seeds = np.zeros(before.shape, bool)
    seeds[tuple(edit.voxels.T)] = True
    components, _ = ndi.label(flipped | seeds, CUBE)
    joined = flipped & np.isin(components, np.unique(components[seeds]))
    reach = 0.0
    if joined.any():
        diff = (np.argwhere(joined)[:, None, :] - edit.voxels[None, :, :]) * np.asarray(spacing)
        reach = float(np.sqrt((diff**2).sum(-1)).min(1).max())
    return int(flipped.sum()), int((flipped & ~stamped).sum()), reach


# --- Fig. 5: the adjustment sweep ----------------------------------------------------


def test_sweep_volume_grows_with_k_as_the_fake_method_says():
    case = make_case()
    fake = FakeEditor({"c0": case.label})
    outcome = sweep.sweep_case(case, fake, [0.3, -0.5, 0.0, 0.1, -0.2])
    rows = outcome.rows
    assert [r["k"] for r in rows] == [-0.5, -0.2, 0.0, 0.1, 0.3]
    voxel_ml = 1.5 / 1000
    for r in rows:
        expected = fake.predict(case, EditHistory().add([Adjustment(r["k"])]) if r["k"] else EditHistory())
        assert r["volume_ml"] == pytest.approx(expected.sum() * voxel_ml)
        assert r["base_volume_ml"] == pytest.approx(fake.before("c0").sum() * voxel_ml)
    volumes = [r["volume_ml"] for r in rows]
    assert all(a < b for a, b in zip(volumes, volumes[1:]))
    (shown,) = outcome.slices
    assert shown.z == int(np.argmax(case.label.sum((0, 1))))
    np.testing.assert_array_equal(shown.flair, case.image[0][:, :, shown.z])
    np.testing.assert_array_equal(shown.predictions[2], fake.before("c0")[:, :, shown.z])


def test_sweep_skips_a_method_without_the_adjustment_tool():
    case = make_case()
    outcome = sweep.sweep_case(case, FakeEditor({"c0": case.label}, tools=("selection",)), sweep.DEFAULT_KS)
    assert outcome.rows == () and "adjustment" in outcome.skipped[0][1]
    with pytest.raises(ValueError, match="finite"):
        sweep.checked_ks([0.1, float("nan")])


# --- Fig. 6: robustness ----------------------------------------------------------------


def test_wrong_edits_lie_where_they_must():
    case = make_case()
    fake = FakeEditor({"c0": case.label})
    before = fake.before("c0")
    placed = robustness.wrong_edits(case, before, np.random.default_rng(0))
    lesion = case.label | before
    inside_brain = brain(case)
    # the reference score: distance to the lesion and to the outside of the brain (scipy)
    to_lesion = ndi.distance_transform_edt(~lesion, sampling=SPACING)
    padded = np.pad(inside_brain, 1)
    to_edge = ndi.distance_transform_edt(padded, sampling=SPACING)[1:-1, 1:-1, 1:-1]
    score = np.where(inside_brain & ~lesion, np.minimum(to_lesion, to_edge), -1)
    click, distance = placed["fg_click"].edit, placed["fg_click"].distance_mm
    assert click.positive and inside_brain[click.voxel] and not lesion[click.voxel]
    assert score[click.voxel] >= min(robustness.HEALTHY_DISTANCE_MM, score.max()) - 1e-6
    assert distance == pytest.approx(to_lesion[click.voxel])
    stroke = placed["fg_stroke"].edit
    assert stroke.positive and 1 < len(stroke) <= robustness.STROKE_VOXELS
    assert (inside_brain & ~lesion)[tuple(stroke.voxels.T)].all()
    assert len(set(stroke.voxels[:, 2])) == 1 and tuple(click.voxel) in map(tuple, stroke.voxels)

    inside = case.label & before
    depth = ndi.distance_transform_edt(np.pad(inside, 1), sampling=SPACING)[1:-1, 1:-1, 1:-1]
    bg_click, bg_depth = placed["bg_click"].edit, placed["bg_click"].distance_mm
    assert not bg_click.positive and inside[bg_click.voxel]
    assert bg_depth == pytest.approx(depth.max()) and depth[bg_click.voxel] == pytest.approx(depth.max())
    bg_stroke = placed["bg_stroke"].edit
    assert placed["bg_stroke"].voxel == bg_click.voxel and placed["fg_stroke"].voxel == click.voxel
    assert not bg_stroke.positive and inside[tuple(bg_stroke.voxels.T)].all()
    assert len(bg_stroke) == robustness.STROKE_VOXELS  # the tumour is wide enough for the whole stroke


def test_robustness_measures_equal_a_brute_force_computation():
    case = make_case()
    fake = FakeEditor({"c0": case.label})
    outcome = robustness_case(case, fake, np.random.default_rng(1))
    assert [r["edit"] for r in outcome.rows] == [name for name, *_ in EDITS]
    before = fake.before("c0")
    for row, panel in zip(outcome.rows, outcome.slices):
        name, tool, positive, _ = next(e for e in EDITS if e[0] == row["edit"])
        points = panel.points
        voxels = np.column_stack([points[:, :2], np.full(len(points), panel.z)])
        edit = Click(tuple(voxels[0]), positive) if tool == "selection" else Stroke(voxels, positive)
        after = fake.predict(case, EditHistory().add([edit]))
        flipped, beyond, reach = brute_spread(before, after, edit, SPACING)
        assert (row["flipped"], row["beyond_stamp"]) == (flipped, beyond)
        assert row["reach_mm"] == pytest.approx(reach)
        np.testing.assert_array_equal(panel.after, after[:, :, panel.z])
    rows = {r["edit"]: r for r in outcome.rows}
    # foreground edits in healthy tissue flip their stamp only: reach 2 voxels along z (1.5 mm)
    assert rows["fg_click"]["beyond_stamp"] == 0 and rows["fg_click"]["reach_mm"] == pytest.approx(3.0)
    # a background edit erases the whole tumour; the far speck flips but is not joined to it
    assert rows["bg_click"]["flipped"] == before.sum()
    assert rows["bg_click"]["reach_mm"] < np.linalg.norm(np.subtract((30, 20, 16), (14, 20, 16)) * SPACING)


def test_spread_ignores_flips_not_joined_to_the_edit():
    before = np.zeros((20, 20, 10), bool)
    after = before.copy()
    after[5:8, 5, 5] = True  # joined to the click at (5, 5, 5)
    after[15, 15, 5] = True  # elsewhere
    measured = spread(before, after, Click((5, 5, 5), True), (1.0, 2.0, 3.0))
    assert (measured.flipped, measured.beyond_stamp, measured.reach_mm) == (4, 1, 2.0)
    assert spread(before, before, Click((5, 5, 5), False), (1.0, 1.0, 1.0)).reach_mm == 0.0


def test_line_stroke_keeps_to_its_region():
    allowed = np.zeros((30, 5, 3), bool)
    allowed[4:12, 2, 1] = True
    stroke = line_stroke((8, 2, 1), allowed)  # 3..12 before trimming
    assert stroke[:, 0].tolist() == list(range(4, 12)) and set(map(tuple, stroke[:, 1:])) == {(2, 1)}
    allowed[:, 2, 1] = True
    assert line_stroke((15, 2, 1), allowed)[:, 0].tolist() == list(range(10, 20))


# --- Fig. 4: panels --------------------------------------------------------------------


def test_panels_edits_come_from_the_named_tool():
    case = make_case()
    fake = FakeEditor({"c0": case.label})
    before = fake.before("c0")
    outcome = panels.panels_case(case, fake, seed=0)
    rows = {r["tool"]: r for r in outcome.rows}
    assert list(rows) == [panels.NO_EDITS, *TOOLS]
    assert rows["none"]["z"] == int(np.argmax(case.label.sum((0, 1)))) and rows["none"]["n_edits"] == 0
    clicks = selection_clicks(case.label, before, min_voxels=34)  # 50 mm^3 at 1.5 mm^3 voxels
    select = outcome.slices[rows["selection"]["panel"]]
    assert rows["selection"]["n_edits"] == len(clicks) and rows["selection"]["z"] == clicks[0].voxel[2]
    assert {(x, y) for x, y, _, _ in select.points} == {c.voxel[:2] for c in clicks if c.voxel[2] == select.z}
    after = fake.predict(case, EditHistory().add(clicks))
    overlap = 2 * (after & case.label).sum() / (after.sum() + case.label.sum())
    assert rows["selection"]["dice_after"] == pytest.approx(overlap)
    brush = outcome.slices[rows["brush"]["panel"]]
    assert rows["brush"]["n_edits"] == 1 and len(brush.points) > 1 and (brush.points[:, 3] == 0).all()
    assert rows["adjustment"]["k"] == pytest.approx(-measured_k(case.label, before))
    adjusted = outcome.slices[rows["adjustment"]["panel"]]
    assert len(adjusted.points) == 0 and (adjusted.before != adjusted.after).any()
    assert np.isnan(rows["selection"]["k"])


# --- files: run, read, plot ------------------------------------------------------------


@pytest.fixture
def two_cases(monkeypatch):
    """Two cases and a broken one; methods 'fake' (all tools), 'clicks' (selection only)
    and a spec that cannot be built."""
    cases = [make_case("c0"), make_case("c1", centre=(24, 18, 15), radius=5.0, seed=1)]
    labels = {c.case_id: c.label for c in cases}
    built = {"fake": FakeEditor(labels), "clicks": FakeEditor(labels, tools=("selection",), name="clicks")}

    def make_method(spec, options):
        if spec not in built:
            raise ValueError(f"unknown method {spec!r}")
        return built[spec]

    monkeypatch.setattr(driver, "make_method", make_method)
    return [MemoryRef("c0", cases[0]), MemoryRef("broken"), MemoryRef("c1", cases[1])]


def test_reads_give_none_without_files(tmp_path):
    assert sweep.read_sweep(tmp_path) is None
    assert robustness.read_robustness(tmp_path) is None
    assert panels.read_panels(tmp_path) is None


def test_sweep_files_round_trip_and_record_failures(tmp_path, two_cases):
    out = tmp_path / "analyses"
    out.mkdir()
    (out / ".sweep.csv.k2x9f0.tmp").write_text("case,met")  # an older simedit killed mid-write left it
    path = sweep.run_sweep(two_cases, ["fake", "clicks", "nope"], MethodOptions(), sweep.DEFAULT_KS, out,
                           progress=False)
    assert path == out / sweep.FILES.table and not list(out.glob(".*"))  # no temporary file left
    data = sweep.read_sweep(out)
    assert len(data.table) == 2 * len(sweep.DEFAULT_KS) and set(data.table.method) == {"fake"}
    status = data.status.set_index(["case", "method"])
    assert tuple(status.loc[("broken", "fake")]) == ("", "failed", "OSError: broken: truncated file")
    assert status.loc[("c0", "clicks"), "status"] == "skipped"
    assert status.loc[("c1", "nope"), "status"] == "failed" and "unknown method" in status.loc[("c1", "nope"), "reason"]
    assert status.loc[("c1", "fake"), "status"] == "ok"
    fresh = sweep.sweep_case(two_cases[2].case, driver.make_method("fake", None), sweep.DEFAULT_KS)
    np.testing.assert_allclose(data.table[data.table.case == "c1"].volume_ml, [r["volume_ml"] for r in fresh.rows])
    np.testing.assert_array_equal(data.slices[1].predictions, fresh.slices[0].predictions)
    assert (data.slices[1].case, data.slices[1].method) == ("c1", "fake")
    fig = sweep.plot_sweep(data)
    assert isinstance(fig, Figure)
    fig.savefig(tmp_path / "sweep.png", dpi=60)


def test_robustness_and_panels_files_round_trip(tmp_path, two_cases):
    out = tmp_path / "analyses"
    robustness.run_robustness(two_cases, ["fake", "clicks"], MethodOptions(), out, seed=3, progress=False)
    panels.run_panels(two_cases, ["fake", "clicks"], MethodOptions(), out, seed=3, progress=False)
    data = robustness.read_robustness(out)
    # 'clicks' has no brush: its two strokes are skipped, with the reason
    assert len(data.table) == 2 * 4 + 2 * 2 and len(data.panels) == len(data.table)
    skipped = data.status[data.status.status == "skipped"]
    assert set(skipped.item) == {"fg_stroke", "bg_stroke"} and set(skipped.method) == {"clicks"}
    again = robustness_case(two_cases[0].case, driver.make_method("fake", None),
                            robustness.session_rng(3, "c0", "fake", "robustness"))
    got = data.table[(data.table.case == "c0") & (data.table.method == "fake")]
    assert got.flipped.tolist() == [r["flipped"] for r in again.rows]
    np.testing.assert_array_equal(data.panels[int(got.panel.iloc[3])].points, again.slices[3].points)
    assert isinstance(robustness.plot_robustness(data), Figure)
    robustness.plot_robustness(data, case="c1", method="clicks").savefig(tmp_path / "robustness.png", dpi=60)
    with pytest.raises(ValueError, match="no rows"):
        robustness.plot_robustness(data, case="c9")

    shown = panels.read_panels(out)
    assert len(shown.table) == 2 * 4 + 2 * 2 and set(shown.table.tool) == {panels.NO_EDITS, *TOOLS}
    row = shown.table[(shown.table.case == "c1") & (shown.table.tool == "brush")].iloc[0]
    assert shown.panels[int(row.panel)].points.shape[1] == 4
    fig = panels.plot_panels(shown)
    assert isinstance(fig, Figure) and len(fig.axes) == 4 * 4
    fig.savefig(tmp_path / "panels.png", dpi=60)


@pytest.mark.slow
def test_all_three_analyses_run_a_real_tiny_editor(tmp_path, one_thread):
    """End to end through make_method: an untrained tiny editor G and base F (F has no
    tools: every part of every analysis is skipped for it, with the reason)."""
    import torch

    from baselines.networks.checkpoint import InputSpec, save_checkpoint
    from baselines.networks import make_backbone

    paths = {}
    for kind, channels in (("editor", 3), ("base", 0)):
        torch.manual_seed(0)
        model = make_backbone("isensee", in_channels=4 + channels, base=4, levels=3, dropout=0.0)
        paths[kind] = tmp_path / f"{kind}.pt"
        save_checkpoint(paths[kind], model, backbone="isensee", config=model.config,
                        inputs=InputSpec(("flair", "t1", "t1ce", "t2"), channels, "z-score"), training={"kind": "x"},
                        split={"train": ["a"], "validation": []}, epoch=1)
    refs = [MemoryRef("c0", make_case())]
    methods = [f"{kind}={path}" for kind, path in paths.items()]
    out = tmp_path / "analyses"
    sweep.run_sweep(refs, methods, MethodOptions(), (-0.5, 0.0, 0.5), out, progress=False)
    robustness.run_robustness(refs, methods, MethodOptions(), out, progress=False)
    panels.run_panels(refs, methods, MethodOptions(), out, progress=False)
    shown = panels.read_panels(out)
    for data in (sweep.read_sweep(out), robustness.read_robustness(out), shown):
        edited = data.table[data.table.tool != panels.NO_EDITS] if data is shown else data.table
        assert set(edited.method) == {"editor:editor"}
        assert set(data.status.status) == {"ok", "skipped"}
        assert (data.status[data.status.status == "skipped"].method == "base:base").all()
    assert set(shown.table[shown.table.method == "base:base"].tool) == {panels.NO_EDITS}
