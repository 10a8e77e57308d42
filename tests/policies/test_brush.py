"""Brush-stroke user: the paper's rule, checked by brute force and against the scipy reference."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi
from scipy.sparse.csgraph import shortest_path

from benchmark.phantoms.corruption import simulate_prediction
from benchmark.edits import EditHistory
from benchmark.policy import Policy, RoundState
from policies.brush import BrushPolicy, brush_strokes, diameter_path, farthest_pair
from policies.brush_reference import brush_strokes_scipy

SHAPE = (40, 44, 24)


def blobs(rng: np.random.Generator, shape=SHAPE, n: int = 2) -> np.ndarray:
    """bool [X, Y, Z]: a union of ``n`` random ellipsoids."""
    g = np.indices(shape)
    out = np.zeros(shape, bool)
    for _ in range(n):
        centre = rng.uniform(0.3, 0.7, 3) * shape
        radii = rng.uniform(0.12, 0.25, 3) * np.array(shape)
        out |= (((g - centre[:, None, None, None]) / radii[:, None, None, None]) ** 2).sum(0) < 1
    return out


def realistic(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    label = blobs(rng)
    return label, simulate_prediction(label, rng)


def ragged(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Irregular errors of both signs everywhere, many touching the volume's sides."""
    rng = np.random.default_rng(seed)
    label = blobs(rng)
    flip = ndi.gaussian_filter(rng.normal(size=SHAPE), 1.2) > 0.12
    return label, label ^ flip


CASES = [realistic(s) for s in range(4)] + [ragged(s) for s in range(3)]


def step_lengths(voxels: np.ndarray, spacing=(1.0, 1.0)) -> np.ndarray:
    return np.hypot(*(np.diff(voxels[:, :2], axis=0) * spacing).T)


def region_of(stroke, label, prediction) -> np.ndarray:
    """bool [X, Y]: the 8-connected error region (of the stroke's sign) under its first voxel."""
    z = stroke.voxels[0, 2]
    error = (label & ~prediction) if stroke.positive else (prediction & ~label)
    regions, _ = ndi.label(error[:, :, z], np.ones((3, 3)))
    x, y = stroke.voxels[0, :2]
    return regions == regions[x, y]


def check_stroke_geometry(stroke, region, spacing=(1.0, 1.0)) -> None:
    v = stroke.voxels
    assert (v[:, 2] == v[0, 2]).all(), "a stroke lies on one axial slice"
    assert region[v[:, 0], v[:, 1]].all(), "a stroke stays inside its region"
    steps = np.abs(np.diff(v[:, :2], axis=0))
    assert (steps.max(1) == 1).all(), "consecutive stroke voxels are distinct 8-neighbours"
    pts = np.argwhere(region) * np.asarray(spacing)
    diameter = np.sqrt(((pts[:, None] - pts[None]) ** 2).sum(-1).max())
    ends = v[[0, -1], :2] * np.asarray(spacing)
    assert np.linalg.norm(ends[1] - ends[0]) == pytest.approx(diameter)


@pytest.mark.parametrize("case", range(len(CASES)))
def test_train_stroke_follows_the_paper(case):
    label, prediction = CASES[case]
    strokes = brush_strokes(label, prediction, "train", min_length=1)
    assert len(strokes) == 1
    (stroke,) = strokes
    under, over = label & ~prediction, prediction & ~label
    per_slice = [(under[:, :, z] | over[:, :, z]).sum() for z in range(label.shape[2])]
    z = stroke.voxels[0, 2]
    assert z == int(np.argmax(per_slice))
    region = region_of(stroke, label, prediction)
    largest = max(
        np.bincount(ndi.label(m[:, :, z], np.ones((3, 3)))[0].ravel())[1:].max(initial=0) for m in (under, over)
    )
    assert region.sum() == largest
    assert stroke.positive == bool(label[tuple(stroke.voxels[0])])
    check_stroke_geometry(stroke, region)


def test_stroke_sign_marks_missed_or_false_tumour():
    label = np.zeros((20, 20, 5), bool)
    label[4:16, 4:16, 1:4] = True
    prediction = label.copy()
    prediction[4:16, 4:8, 2] = False  # missed strip: positive
    (stroke,) = brush_strokes(label, prediction, "train", min_length=1)
    assert stroke.positive and label[tuple(stroke.voxels.T)].all() and not prediction[tuple(stroke.voxels.T)].any()
    (stroke,) = brush_strokes(prediction, label, "train", min_length=1)
    assert not stroke.positive


def test_stroke_goes_round_a_corner_inside_an_l_shaped_region():
    region = np.zeros((12, 12), bool)
    region[1:11, 1:3] = True
    region[9:11, 1:11] = True
    path = diameter_path(region)
    assert (tuple(path[0]), tuple(path[-1])) == ((1, 1), (10, 10))
    assert region[path[:, 0], path[:, 1]].all()
    assert (np.abs(np.diff(path, axis=0)).max(1) == 1).all()
    # Cut the corner: 6 down, 6 across, 3 diagonals (worked out by hand).
    assert step_lengths(path).sum() == pytest.approx(12 + 3 * np.sqrt(2))


def test_farthest_pair_ties_go_to_the_smallest_pair():
    pts = np.argwhere(np.ones((3, 3), bool))
    assert farthest_pair(pts) == ((0, 0), (2, 2))
    assert farthest_pair(np.array([[4, 5]])) == ((4, 5), (4, 5))


def test_farthest_pair_honours_spacing():
    # Along x the pair (0,0)-(4,0) is 4 mm at 1 mm; along y (0,0)-(0,3) is 6 mm at 2 mm.
    pts = np.array([[0, 0], [0, 3], [4, 0]])
    assert farthest_pair(pts, (1.0, 2.0)) == ((0, 3), (4, 0))
    assert farthest_pair(pts[[0, 1]], (1.0, 2.0)) == ((0, 0), (0, 3))


def test_equal_regions_positive_first_then_first_in_raster_order():
    label = np.zeros((30, 30, 3), bool)
    label[2:28, 2:28, :] = True
    prediction = label.copy()
    prediction[20:24, 5:9, 1] = False  # 16 missed voxels
    prediction[0:2, 10:18, 1] = True  # 16 false voxels, earlier in raster order
    (stroke,) = brush_strokes(label, prediction, "train", min_length=1)
    assert stroke.positive
    prediction[4:8, 20:24, 1] = False  # another 16 missed, earlier than the first
    (stroke,) = brush_strokes(label, prediction, "train", min_length=1)
    assert stroke.positive and stroke.voxels[:, 0].max() < 8
    slow = brush_strokes_scipy(label, prediction, "train", min_length=1)[0]
    assert slow.positive and (slow.voxels[[0, -1]] == stroke.voxels[[0, -1]]).all()


def test_train_mode_drops_short_strokes():
    label = np.zeros((20, 20, 5), bool)
    label[5:15, 5:15, 1:4] = True
    prediction = label.copy()
    prediction[6:9, 6:9, 2] = False  # a 3x3 hole: its stroke has 3 voxels
    assert brush_strokes(label, prediction, "train") == []
    (stroke,) = brush_strokes(label, prediction, "train", min_length=3)
    assert len(stroke) == 3
    assert brush_strokes(label, prediction, "test") == []  # 9 voxels < min_area 20
    assert len(brush_strokes(label, prediction, "test", min_area=9)) == 1


def three_errors() -> tuple[np.ndarray, np.ndarray]:
    """A label with three separate missed pieces of different 2D sizes on different slices."""
    label = np.zeros((48, 48, 30), bool)
    label[4:44, 4:44, 2:28] = True
    prediction = label.copy()
    prediction[6:14, 6:12, 5:8] = False  # 8 x 6 = 48 per slice, 3 slices (144 voxels)
    prediction[20:40, 20:24, 14:15] = False  # 20 x 4 = 80 on one slice
    prediction[30:40, 6:12, 20:26] = False  # 10 x 6 = 60 per slice, 6 slices (360 voxels)
    return label, prediction


def test_test_mode_gives_one_stroke_per_error_largest_region_first():
    label, prediction = three_errors()
    strokes = brush_strokes(label, prediction, "test", max_strokes=5)
    assert [s.voxels[0, 2] for s in strokes][0] == 14
    assert [region_of(s, label, prediction).sum() for s in strokes] == [80, 60, 48]
    assert all(s.positive for s in strokes)
    assert len(brush_strokes(label, prediction, "test", max_strokes=2)) == 2
    # The first stroke is the paper's (and the training) stroke.
    assert brush_strokes(label, prediction, "train")[0] == strokes[0]


def test_test_mode_does_not_stroke_one_blob_on_neighbouring_slices():
    label, prediction = three_errors()
    strokes = brush_strokes(label, prediction, "test", max_strokes=5, min_area=1)
    zs = sorted(s.voxels[0, 2] for s in strokes)
    assert len(zs) == 3 and zs[0] in range(5, 8) and zs[2] in range(20, 26)


def test_an_error_reaching_every_side_of_the_volume_is_stroked_once():
    label = np.zeros(SHAPE, bool)
    label[15:25, 15:25, 8:16] = True
    prediction = np.ones(SHAPE, bool)
    prediction[1:-1, 1:-1, 1:-1] = label[1:-1, 1:-1, 1:-1]  # a false frame on every face
    prediction[18:22, 15:25, 8:16] = False  # and a missed slab inside
    for strokes in (brush_strokes(label, prediction, max_strokes=3), brush_strokes_scipy(label, prediction, max_strokes=3)):
        assert [s.positive for s in strokes] == [False, True]
        assert strokes[0].voxels[0, 2] == 0


def test_no_error_no_stroke():
    label = np.zeros(SHAPE, bool)
    label[10:20, 10:20, 5:10] = True
    assert brush_strokes(label, label.copy()) == []
    assert brush_strokes(label, label.copy(), "train") == []


@pytest.mark.parametrize("mode", ["test", "train"])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_fast_and_reference_agree(case, mode):
    label, prediction = CASES[case]
    spacing = (1.0, 1.0, 1.0) if case % 2 else (0.8, 1.3, 2.0)
    options = dict(spacing=spacing, min_area=3, min_length=2, max_strokes=8)
    fast = brush_strokes(label, prediction, mode, **options)
    slow = brush_strokes_scipy(label, prediction, mode, **options)
    assert len(fast) == len(slow) >= 1
    for a, b in zip(fast, slow):
        assert a.positive == b.positive
        assert a.voxels[0, 2] == b.voxels[0, 2]
        assert (a.voxels[[0, -1]] == b.voxels[[0, -1]]).all()
        assert step_lengths(a.voxels, spacing[:2]).sum() == pytest.approx(step_lengths(b.voxels, spacing[:2]).sum())
        region = region_of(a, label, prediction)
        check_stroke_geometry(a, region, spacing[:2])
        check_stroke_geometry(b, region, spacing[:2])


def test_stroke_is_a_shortest_path():
    label, prediction = CASES[0]
    spacing = (1.0, 1.5)
    for stroke in brush_strokes(label, prediction, spacing=(*spacing, 1.0), min_area=5):
        region = region_of(stroke, label, prediction)
        pts = np.argwhere(region)
        index = {tuple(p): i for i, p in enumerate(pts.tolist())}
        graph = np.zeros((len(pts), len(pts)))
        for i, p in enumerate(pts):
            for j, q in enumerate(pts):
                d = np.abs(p - q)
                if d.max() == 1:
                    graph[i, j] = np.hypot(*(d * spacing))
        start, end = (index[tuple(v)] for v in stroke.voxels[[0, -1], :2].tolist())
        best = shortest_path(graph, directed=False, indices=start)[end]
        assert step_lengths(stroke.voxels, spacing).sum() == pytest.approx(best)


def test_policy_uses_the_round_spacing_and_mode():
    label, prediction = CASES[1]
    policy = BrushPolicy(mode="train", min_length=1)
    assert isinstance(policy, Policy) and policy.name == "brush"
    state = RoundState(label, prediction, EditHistory(), 1, (0.7, 1.9, 3.0))
    rng = np.random.default_rng(0)
    assert policy.propose(state, rng) == brush_strokes(label, prediction, "train", spacing=(0.7, 1.9, 3.0), min_length=1)
    assert len(BrushPolicy().propose(state, rng)) <= 3


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(mode="tset"), "did you mean 'test'"),
        (dict(max_strokes=0), "max_strokes"),
        (dict(min_area=2.5), "min_area"),
    ],
)
def test_bad_options_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        BrushPolicy(**kwargs)


def test_bad_inputs_are_named():
    label = np.zeros((8, 8, 4), bool)
    with pytest.raises(ValueError, match="prediction must be a bool"):
        brush_strokes(label, label.astype(np.uint8))
    with pytest.raises(ValueError, match="differ in shape"):
        brush_strokes(label, np.zeros((8, 8, 5), bool))
    with pytest.raises(ValueError, match="spacing"):
        brush_strokes(label, label, spacing=(1.0, 0.0, 1.0))
