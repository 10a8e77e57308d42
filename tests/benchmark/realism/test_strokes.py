"""Strokes as people draw them: length, wobble, slice slips; always a gapless path in the volume."""

import numpy as np
import pytest

from benchmark.effort import stroke_length_mm as path_length_mm
from benchmark.realism.strokes import change_length, rasterise, shift_slice, wobble

SHAPE = (80, 80, 20)


def line(n, z=10, start=(10, 40)):
    return np.array([[start[0] + i, start[1], z] for i in range(n)])


def gapless(path):
    steps = np.abs(np.diff(path, axis=0))
    return bool((steps.max(axis=1) == 1).all())


def inside(path, shape=SHAPE):
    return bool(((path >= 0) & (path < np.asarray(shape))).all())


@pytest.mark.parametrize("factor", [0.3, 0.5, 0.8, 1.0])
def test_a_stroke_cut_short_is_its_own_beginning(factor):
    stroke = line(31)
    cut = change_length(stroke, (1.0, 1.0, 1.0), factor, 0.0, SHAPE, np.random.default_rng(0))
    assert np.array_equal(cut, stroke[: len(cut)])
    assert path_length_mm(cut, (1, 1, 1)) == pytest.approx(30 * factor, abs=1.0)


def test_an_overshoot_carries_on_straight_and_a_minimum_length_is_kept():
    stroke = line(11)
    spacing = (0.5, 1.0, 1.0)  # 10 voxels along x are 5 mm
    longer = change_length(stroke, spacing, 1.6, 0.0, SHAPE, np.random.default_rng(0))
    assert np.array_equal(longer[:11], stroke) and (longer[:, 1:] == stroke[0, 1:]).all()
    assert path_length_mm(longer, spacing) == pytest.approx(8.0, abs=0.5)
    at_least = change_length(stroke, spacing, 1.0, 12.0, SHAPE, np.random.default_rng(0))
    assert path_length_mm(at_least, spacing) == pytest.approx(12.0, abs=0.5) and gapless(at_least)
    dot = change_length(line(1), (1, 1, 1), 1.0, 6.0, SHAPE, np.random.default_rng(4))
    assert gapless(dot) and path_length_mm(dot, (1, 1, 1)) >= 5.0 and (dot[:, 2] == 10).all()


def test_a_stroke_drawn_on_stops_at_the_volume_edge():
    near_edge = line(10, start=(68, 40))
    out = change_length(near_edge, (1, 1, 1), 3.0, 0.0, SHAPE, np.random.default_rng(0))
    assert inside(out) and out[:, 0].max() == SHAPE[0] - 1 and gapless(out)


def test_wobble_has_the_asked_spread_keeps_the_slice_and_the_path_whole():
    rng = np.random.default_rng(7)
    stroke = line(60)
    spreads = []
    for _ in range(60):
        wobbly = wobble(stroke, (1.0, 1.0, 1.0), 2.0, 5.0, SHAPE, rng)
        assert gapless(wobbly) and inside(wobbly) and (wobbly[:, 2] == 10).all()
        spreads.append(np.std(wobbly[:, 1] - 40))
    assert np.mean(spreads) == pytest.approx(2.0, rel=0.2)  # the y offsets of a line along x
    smooth = wobble(stroke, (1.0, 1.0, 1.0), 2.0, 20.0, SHAPE, rng)
    rough = wobble(stroke, (1.0, 1.0, 1.0), 2.0, 1.0, SHAPE, rng)
    assert np.abs(np.diff(smooth[:, 1])).mean() < np.abs(np.diff(rough[:, 1])).mean()


def test_rasterise_fills_gaps_and_drops_repeats():
    points = np.array([[0, 0, 0], [0, 0, 0], [5, 2, 0], [5, 2, 1]], float)
    path = rasterise(points, SHAPE)
    assert gapless(path) and path[0].tolist() == [0, 0, 0] and path[-1].tolist() == [5, 2, 1]
    assert len(path) == 7  # 5 steps to (5, 2, 0) and one up


def test_shift_slice_moves_z_only_and_stays_in_the_volume():
    assert shift_slice(line(5, z=19), 1, SHAPE)[:, 2].tolist() == [19] * 5
    moved = shift_slice(line(5, z=3), -1, SHAPE)
    assert moved[:, 2].tolist() == [2] * 5 and np.array_equal(moved[:, :2], line(5)[:, :2])
