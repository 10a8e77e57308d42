import numpy as np
import pytest
from scipy import ndimage

from benchmark.edits import (
    Adjustment,
    Box,
    Click,
    EditHistory,
    Stroke,
    edit_from_json,
    encode,
)

SHAPE = (20, 18, 12)


def reference_channel(points_and_signs, shape):
    """Independent reference: scipy's 2-step 6-connected dilation of each edit."""
    out = np.zeros(shape, np.float32)
    for pts, sign in points_and_signs:
        seed = np.zeros(shape, bool)
        seed[tuple(np.asarray(pts).T)] = True
        out[ndimage.binary_dilation(seed, iterations=2)] = sign
    return out


def test_encoding_matches_paper_channels():
    c1 = Click((3, 4, 5), True)
    c2 = Click((15, 10, 1), False)  # near the border: the stamp is clipped
    s = Stroke(np.array([[8, 8, 6], [9, 9, 6], [10, 10, 6], [11, 10, 6]]), False)
    h = EditHistory().add([c1, s]).add([c2, Adjustment(0.2)]).add([Adjustment(-0.05)])
    ch = encode(h, SHAPE)
    assert ch.shape == (3, *SHAPE) and ch.dtype == np.float32
    np.testing.assert_array_equal(ch[0], reference_channel([([c1.voxel], 1), ([c2.voxel], -1)], SHAPE))
    np.testing.assert_array_equal(ch[1], reference_channel([(s.voxels, -1)], SHAPE))
    np.testing.assert_allclose(ch[2], 0.15, rtol=0, atol=1e-6)
    # the two-voxel dilation of one click reaches exactly the taxicab ball of radius 2
    assert np.count_nonzero(ch[0] == 1) == 25


def test_later_edit_overwrites_earlier():
    h = EditHistory().add([Click((10, 9, 6), True)]).add([Click((11, 9, 6), False)])
    ch = encode(h, SHAPE)
    assert ch[0][11, 9, 6] == -1 and ch[0][10, 9, 6] == -1  # overlap taken by the later edit
    assert ch[0][8, 9, 6] == 1  # outside the later ball: the earlier edit stays


def test_empty_history_is_zero():
    ch = encode(EditHistory(), SHAPE)
    assert not ch.any()


def test_history_bookkeeping_and_json_round_trip():
    s = Stroke(np.array([[1, 2, 3], [2, 2, 3]]), True)
    box = Box((1, 2, 3), (5, 6, 7), True, plane=(2, 4))
    h = EditHistory().add([Click((1, 2, 3), True), s]).add([]).add([Adjustment(0.3), box, Box((0, 0, 1), (2, 2, 1), False)])
    assert len(h) == 5 and len(h.rounds) == 3
    assert h.of_tool("box")[0] == box and box.to_json()["plane"] == [2, 4]
    assert h.of_tool("brush") == (s,)
    back = EditHistory(tuple(tuple(edit_from_json(e) for e in r) for r in h.to_json()))
    assert back == h


@pytest.mark.parametrize(
    "make",
    [
        lambda: Click((1, 2), True),
        lambda: Stroke(np.zeros((0, 3), int), True),
        lambda: Stroke(np.zeros((2, 3)), True),
        lambda: Adjustment(float("nan")),
        lambda: edit_from_json({"tool": "lasso"}),
        lambda: Box((1, 2, 3), (0, 5, 5), True),  # lower above upper
        lambda: Box((1, 2, 3), (4, 5), True),
        lambda: Box((1, 2, 3), (4, 5, 6), True, plane=(2, 7)),  # plane outside the box
        lambda: Box((1, 2, 3), (4, 5, 6), True, plane=(3, 4)),
    ],
)
def test_bad_edits_raise(make):
    with pytest.raises(ValueError):
        make()


def test_out_of_volume_edit_raises():
    with pytest.raises(ValueError, match="outside the volume"):
        encode(EditHistory().add([Click((20, 0, 0), True)]), SHAPE)


def test_encode_writes_k_on_the_brain_only_when_given_one():
    shape = (6, 5, 4)
    brain = np.zeros(shape, bool)
    brain[1:5, 1:4, 1:3] = True
    history = EditHistory().add([Adjustment(0.2)]).add([Adjustment(-0.05)])
    out = encode(history, shape, brain)
    np.testing.assert_allclose(out[2][brain], 0.15, rtol=1e-6)
    assert not out[2][~brain].any()
    np.testing.assert_allclose(encode(history, shape)[2], 0.15, rtol=1e-6)
    with pytest.raises(ValueError, match="brain must be a bool mask"):
        encode(history, shape, brain[:-1])


def test_encode_clips_the_summed_k_to_a_limit():
    history = EditHistory().add([Adjustment(-0.4)]).add([Adjustment(-0.4)])
    np.testing.assert_allclose(encode(history, (2, 2, 2), k_limit=0.5)[2], -0.5)
    np.testing.assert_allclose(encode(history, (2, 2, 2))[2], -0.8, rtol=1e-6)


def test_a_box_is_its_voxels_and_its_drawn_plane_is_its_2d_box():
    box = Box((2, 3, 4), (6, 8, 10), True, plane=(2, 9))
    mask = box.mask(SHAPE)
    expected = np.zeros(SHAPE, bool)
    expected[2:7, 3:9, 4:11] = True
    np.testing.assert_array_equal(mask, expected)
    flat = box.rectangle()
    assert (flat.lower, flat.upper, flat.flat_axis, flat.plane) == ((2, 3, 9), (6, 8, 9), 2, (2, 9))
    assert box.flat_axis is None and box.voxels.tolist() == [[2, 3, 4], [6, 8, 10]]
    assert Box((0, 0, 0), (4, 4, 6)).rectangle().plane == (2, 3)  # no plane: the middle axial slice
    assert not encode(EditHistory().add([box]), SHAPE).any()  # boxes have no channel of the paper's


def test_a_box_outside_the_volume_is_refused_by_the_session_check():
    from benchmark.session import check_edits

    with pytest.raises(ValueError, match=r"box edit outside the volume"):
        check_edits([Box((0, 0, 0), (20, 5, 5))], SHAPE, "user 'u'")
