"""simedit edits -> nnInteractive interactions (pure functions; nnInteractive not needed)."""

import numpy as np

from baselines.nninteractive.edits import Point, Scribble, brush, clip_voxel, interactions, new_rounds, scribbles
from benchmark.edits import Adjustment, Click, Stroke

SHAPE = (64, 64, 48)


def test_clicks_become_points_clipped_into_the_image():
    got = interactions([Click((3, 4, 5), True), Click((70, -2, 47), False)], SHAPE)
    assert got == [Point((3, 4, 5), True), Point((63, 0, 47), False)]
    assert clip_voxel((-1, 64, 100), SHAPE) == (0, 63, 47)


def test_adjustments_become_nothing():
    assert interactions([Adjustment(0.3)], SHAPE) == []


def test_a_round_brush_of_diameter_two_is_a_cross():
    assert sorted(map(tuple, brush((2, 2, 2)))) == [(-1, 0), (0, -1), (0, 0), (0, 1), (1, 0)]
    assert brush((1, 1, 1)).tolist() == [[0, 0]]
    assert len(brush((4, 4, 4))) == 13  # radius 2: 5 + 4 + 4 offsets


def test_a_stroke_is_a_thickened_scribble_on_its_slice_with_a_matching_bbox():
    stroke = Stroke(np.array([[10, 10, 30], [11, 10, 30], [12, 10, 30]]), False)
    (s,) = scribbles(stroke, SHAPE, (2, 2, 2))
    assert isinstance(s, Scribble) and s.positive is False
    assert s.bbox == [[9, 14], [9, 12], [30, 31]]
    assert s.mask.dtype == np.uint8 and list(s.mask.shape) == [b - a for a, b in s.bbox]
    assert set(np.unique(s.mask)) == {0, 1}
    painted = {(x + 9, y + 9) for x, y, _ in np.argwhere(s.mask)}
    assert {(10, 10), (11, 10), (12, 10)} <= painted  # the stroke itself
    assert {(9, 10), (13, 10), (11, 9), (11, 11)} <= painted  # widened in the plane
    assert (9, 9) not in painted and len(painted) == 11


def test_a_stroke_at_the_border_is_clipped_and_one_over_slices_splits():
    stroke = Stroke(np.array([[0, 0, 0], [0, 1, 0], [63, 63, 47]]), True)
    first, second = scribbles(stroke, SHAPE)
    assert first.bbox == [[0, 2], [0, 3], [0, 1]]
    assert second.bbox == [[62, 64], [62, 64], [47, 48]]
    for s in (first, second):
        assert list(s.mask.shape) == [b - a for a, b in s.bbox]


def test_new_rounds_only_when_the_history_goes_on():
    r1, r2 = (Click((1, 2, 3), True),), (Stroke(np.array([[1, 1, 1]]), False),)
    assert new_rounds((r1,), (r1, r2)) == (r2,)
    assert new_rounds((r1, r2), (r1, (Stroke(np.array([[1, 1, 1]]), False),))) == ()  # equal strokes
    assert new_rounds(None, (r1,)) is None  # nothing seen
    assert new_rounds((r1,), ()) is None  # round 0
    assert new_rounds((r1, r2), (r1,)) is None  # rewound
    assert new_rounds((r1,), ((Click((1, 2, 4), True),), r2)) is None  # different
