import numpy as np
import pytest
from scipy.ndimage import binary_dilation

from benchmark.case import CaseImage
from benchmark.edits import Adjustment, Box, Click, EditHistory, Stroke
from benchmark.metrics import dice
from baselines.initial import FlairThreshold, fill_holes
from baselines.manual_paint.method import ManualPaint, adjust_surface
from policies.adjustment import measured_k
from tests.helpers import ball, tumour_case

SHAPE = (40, 36, 28)


class Fixed:
    def __init__(self, mask):
        self.mask = mask

    def __call__(self, image):
        return self.mask


def image():
    return CaseImage("c", np.zeros((4, *SHAPE), np.float32))


def test_click_fills_and_erases_a_ball():
    m = ManualPaint(initial=Fixed(np.zeros(SHAPE, bool)), click_radius_mm=3)
    out = m.predict(image(), EditHistory().add([Click((10, 10, 10), True)]))
    np.testing.assert_array_equal(out, ball(SHAPE, (10, 10, 10), 3))
    out = ManualPaint(initial=Fixed(np.ones(SHAPE, bool)), click_radius_mm=3).predict(
        image(), EditHistory().add([Click((10, 10, 10), False)]))
    np.testing.assert_array_equal(out, ~ball(SHAPE, (10, 10, 10), 3))


def test_stroke_paints_its_dilated_voxels():
    stroke = Stroke(np.array([[5, 5, 5], [6, 6, 5], [7, 7, 5]]), True)
    out = ManualPaint(initial=Fixed(np.zeros(SHAPE, bool))).predict(image(), EditHistory().add([stroke]))
    d = np.abs(np.indices(SHAPE) - np.array([6, 6, 5])[:, None, None, None]).sum(0)
    assert out[6, 6, 5] and out[6, 6, 7] and not out[6, 6, 8]
    assert out.sum() > 25 and not out[d > 6].any()


def test_a_positive_box_keeps_only_what_is_inside_and_a_negative_one_erases_inside():
    first = np.random.default_rng(0).random(SHAPE) < 0.5
    inside = np.zeros(SHAPE, bool)
    inside[3:11, 4:20, 5:6] = True
    painter = ManualPaint(initial=Fixed(first))
    kept = painter.predict(image(), EditHistory().add([Box((3, 4, 5), (10, 19, 5), True)]))
    np.testing.assert_array_equal(kept, first & inside)
    erased = painter.predict(image(), EditHistory().add([Box((3, 4, 5), (10, 19, 5), False)]))
    np.testing.assert_array_equal(erased, first & ~inside)


def test_adjustment_sets_the_volume_the_papers_k_implies():
    sphere = ball(SHAPE, (20, 18, 14), 8)
    r_eq = (3 * sphere.sum() / (4 * np.pi)) ** (1 / 3)
    for k in (0.6, -0.5):
        out = adjust_surface(sphere, k, (1.0, 1.0, 1.0))
        assert out.sum() == sphere.sum() + np.sign(k) * round(abs(sphere.sum() * k / (1 - k)))
        assert sphere[out].all() if k < 0 else out[sphere].all()
        # the surface moved by d: sandwiched between balls of radius 8 +- d +- 1 voxel
        r = 8 + r_eq * ((1 / (1 - k)) ** (1 / 3) - 1)
        assert out[ball(SHAPE, (20, 18, 14), r - 1)].all()
        assert not out[~ball(SHAPE, (20, 18, 14), r + 1)].any()
    # the user's K for a prediction twice too large is -1: back to half, not empty
    assert adjust_surface(sphere, -1.0, (1.0, 1.0, 1.0)).sum() == sphere.sum() - round(sphere.sum() / 2)


def test_adjustment_of_a_speckled_mask_reaches_exactly_the_volume_k_implies():
    # One shell around scattered single voxels holds far more voxels than the mask itself:
    # taking whole shells made every K a jump to about 2-3x the volume.
    mask = np.random.default_rng(0).random(SHAPE) < 0.01
    volume = mask.sum()
    for k in (0.1, 0.3, -0.2, -0.5):
        out = adjust_surface(mask, k, (1.0, 1.0, 1.0))
        assert out.sum() == volume + np.sign(k) * round(abs(k * volume / (1 - k)))
        assert out[mask].all() if k > 0 else mask[out].all()
    grown = adjust_surface(mask, 0.3, (1.0, 1.0, 1.0)) & ~mask
    # what was added touches the mask (distance-1 shell first)
    assert (grown & ~binary_dilation(mask, np.ones((3, 3, 3)))).sum() == 0


def test_edits_raise_dice_on_a_case():
    case = tumour_case()
    method = ManualPaint(initial=Fixed(ball(SHAPE, (20, 18, 14), 5)))
    first = method.predict(case.without_label(), EditHistory())
    k = -measured_k(case.label, first)  # what the simulated user types
    after = method.predict(case.without_label(), EditHistory().add([Adjustment(k)]))
    assert dice(after, case.label) > dice(first, case.label) + 0.2
    assert after.sum() == pytest.approx(case.label.sum(), rel=0.01)


def test_flair_threshold_finds_the_bright_tumour():
    case = tumour_case()
    mask = FlairThreshold()(case.without_label())
    assert dice(mask, case.label) > 0.9


def test_fill_holes_matches_scipy():
    from scipy import ndimage

    rng = np.random.default_rng(1)
    for threshold in (0.5, 0.52, 0.55):
        m = ndimage.gaussian_filter(rng.random((30, 34, 26)), 2) > threshold
        np.testing.assert_array_equal(fill_holes(m), ndimage.binary_fill_holes(m))


def test_first_mask_is_computed_once_per_case():
    calls = []

    def initial(image):
        calls.append(image.case_id)
        return np.zeros(SHAPE, bool)

    m = ManualPaint(initial=initial)
    img = image()
    for _ in range(3):
        m.predict(img, EditHistory())
    m.predict(CaseImage("other", img.image), EditHistory())
    assert calls == ["c", "other"]
