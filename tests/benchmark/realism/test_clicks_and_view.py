"""Clicks as people make them, and a limited view, against independent computations."""

import numpy as np
from scipy import ndimage, stats

from benchmark.edits import Click
from benchmark.policy import RoundState
from benchmark.realism import Realism
from benchmark.realism.clicks import error_region, jitter_click, jitter_offset, smaller_component_click
from benchmark.realism.view import in_view, visible_slices
from tests.helpers import ball

SHAPE = (60, 60, 30)


def state(label, prediction, spacing=(1.0, 1.0, 1.0)):
    return RoundState(label, prediction, spacing=spacing)


def test_gaussian_jitter_has_the_asked_spread_per_axis():
    rng = np.random.default_rng(0)
    offsets = np.array([jitter_offset(rng, 2.5, "gaussian") for _ in range(4000)])
    for axis in range(2):
        assert stats.kstest(offsets[:, axis], stats.norm(0, 2.5).cdf).pvalue > 0.001
    assert stats.pearsonr(offsets[:, 0], offsets[:, 1]).pvalue > 0.001  # independent axes


def test_uniform_jitter_fills_the_disc_evenly():
    rng = np.random.default_rng(1)
    offsets = np.array([jitter_offset(rng, 3.0, "uniform") for _ in range(4000)])
    radius = np.hypot(offsets[:, 0], offsets[:, 1])
    assert radius.max() <= 3.0
    assert stats.kstest((radius / 3.0) ** 2, "uniform").pvalue > 0.001  # P(r <= q) = (q / R)^2
    angle = np.arctan2(offsets[:, 1], offsets[:, 0])
    assert stats.kstest((angle + np.pi) / (2 * np.pi), "uniform").pvalue > 0.001


def test_a_jittered_click_stays_in_its_slice_and_rounds_the_mm_offset_by_the_spacing():
    label = ball(SHAPE, (30, 30, 15), 10)
    s = state(label, np.zeros(SHAPE, bool), spacing=(0.5, 2.0, 3.0))
    rng_a, rng_b = np.random.default_rng(5), np.random.default_rng(5)
    for _ in range(300):
        moved = jitter_click(Click((30, 30, 15), True), s, 2.0, "gaussian", "keep", rng_a)
        offset = jitter_offset(rng_b, 2.0, "gaussian")  # the same draw, by hand
        expected = np.clip(np.rint(np.array([30, 30]) + offset / np.array([0.5, 2.0])), 0, 59)
        assert moved.voxel == (int(expected[0]), int(expected[1]), 15) and moved.positive


def test_redraw_keeps_clicks_inside_the_error_and_falls_back_to_the_intended_voxel():
    label = ball(SHAPE, (30, 30, 15), 3)
    s = state(label, np.zeros(SHAPE, bool))
    rng = np.random.default_rng(2)
    clicks = [jitter_click(Click((30, 30, 15), True), s, 4.0, "gaussian", "redraw", rng) for _ in range(300)]
    assert all(label[c.voxel] for c in clicks) and len({c.voxel for c in clicks}) > 5
    tiny = state(ball(SHAPE, (30, 30, 15), 0.5), np.zeros(SHAPE, bool))
    far = [jitter_click(Click((30, 30, 15), True), tiny, 40.0, "uniform", "redraw", rng) for _ in range(50)]
    assert {c.voxel for c in far} <= {(30, 30, 15)}  # a one-voxel target is missed every try: the intended voxel


def test_a_slip_lands_on_the_deepest_voxel_of_a_smaller_component():
    big, middle, small = ball(SHAPE, (20, 20, 15), 8), ball(SHAPE, (45, 45, 15), 5), ball(SHAPE, (45, 12, 8), 2.2)
    label = big | middle | small
    s = state(label, np.zeros(SHAPE, bool))
    rng = np.random.default_rng(3)
    landed = {smaller_component_click(Click((20, 20, 15), True), s, rng).voxel for _ in range(60)}
    deepest = set()
    for blob in (middle, small):  # brute force: scipy's distance transform, first maximum in C order
        depth = ndimage.distance_transform_edt(np.pad(blob, 1))[1:-1, 1:-1, 1:-1]
        deepest.add(tuple(int(c) for c in np.unravel_index(np.argmax(depth), depth.shape)))
    assert landed == deepest
    # the smallest component has nowhere smaller to slip to; a click outside the error stays
    centre_small = next(v for v in deepest if v[2] == 8)
    assert smaller_component_click(Click(centre_small, True), s, rng).voxel == centre_small
    assert smaller_component_click(Click((2, 2, 2), True), s, rng).voxel == (2, 2, 2)
    negative = smaller_component_click(Click((20, 20, 15), False), s, rng)  # no false tumour: nothing to slip to
    assert negative.voxel == (20, 20, 15)


def test_error_region_is_missed_tumour_for_positive_and_false_tumour_for_negative():
    label, pred = ball(SHAPE, (30, 30, 15), 6), ball(SHAPE, (33, 30, 15), 6)
    s = state(label, pred)
    assert np.array_equal(error_region(s, True), label & ~pred)
    assert np.array_equal(error_region(s, False), pred & ~label)


def test_the_view_centres_on_the_worst_slice_and_hides_errors_beyond_it():
    label = np.zeros(SHAPE, bool)
    label[20:30, 20:30, 5:25] = True
    pred = label.copy()
    pred[20:30, 20:30, 18] = False  # the worst slice: 100 wrong voxels
    pred[20:25, 20:30, 6] = False  # 50 wrong voxels, far from it
    s = state(label, pred)
    visible = visible_slices(s, Realism(view_slices=3))
    assert np.flatnonzero(visible).tolist() == list(range(15, 22))
    seen = in_view(s, visible)
    assert (seen.label != seen.prediction).sum(axis=(0, 1)).nonzero()[0].tolist() == [18]
    every = visible_slices(s, Realism(view_every=4))
    assert np.flatnonzero(every).tolist() == list(range(0, 30, 4))
    both = visible_slices(s, Realism(view_slices=5, view_every=4))  # no looked-at slice is wrong: the middle one, 16
    assert np.flatnonzero(both).tolist() == [12, 16, 20]
    assert visible_slices(s, Realism()) is None
