import numpy as np

from baselines.training.patches import augment, brain_box, extract, patch_origin


def test_brain_box_matches_argwhere_and_margin_clips():
    image = np.zeros((2, 20, 18, 16), np.float32)
    image[1, 3:9, 5:15, 2:4] = 1.0
    box = brain_box(image)
    idx = np.argwhere((image != 0).any(0))
    assert [(s.start, s.stop) for s in box] == list(zip(idx.min(0), idx.max(0) + 1))
    assert [(s.start, s.stop) for s in brain_box(image, margin=4)] == [(0, 13), (1, 18), (0, 8)]
    assert brain_box(np.zeros((1, 4, 5, 6))) == (slice(0, 4), slice(0, 5), slice(0, 6))


def test_foreground_patches_hold_tumour_and_stay_inside():
    label = np.zeros((40, 30, 20), bool)
    label[30:33, 2:5, 15:18] = True
    rng = np.random.default_rng(1)
    for _ in range(50):
        o = patch_origin(label, (16, 16, 16), rng, foreground_p=1.0)
        assert all(0 <= s <= n - 16 for s, n in zip(o, label.shape))
        assert extract(label, o, (16, 16, 16)).any()


def test_uniform_patches_reach_everywhere():
    label = np.zeros((20, 20, 20), bool)
    rng = np.random.default_rng(2)
    starts = np.array([patch_origin(label, (10, 10, 10), rng, 1.0) for _ in range(300)])
    assert starts.min() == 0 and starts.max() == 10


def test_extract_zero_pads_a_patch_larger_than_the_volume():
    volume = np.arange(2 * 4 * 5 * 6, dtype=np.float32).reshape(2, 4, 5, 6) + 1
    o = patch_origin(np.zeros((4, 5, 6), bool), (8, 5, 3), np.random.default_rng(0), 0.0)
    assert o[0] == 0
    patch = extract(volume, o, (8, 5, 3))
    assert patch.shape == (2, 8, 5, 3)
    np.testing.assert_array_equal(patch[:, :4], volume[:, :, :, o[2]:o[2] + 3])
    assert not patch[:, 4:].any()


def test_augment_flips_image_and_target_together_and_leaves_edits_unscaled():
    rng = np.random.default_rng(3)
    image = np.zeros((3, 6, 7, 8), np.float32)
    image[:2, 1:5, 1:6, 1:7] = rng.normal(size=(2, 4, 5, 6))
    image[2] = 0.25  # an adjustment channel
    target = np.zeros((6, 7, 8), bool)
    target[1, 2, 3] = True
    image[0, 1, 2, 3] = 100.0
    for seed in range(8):
        out, t = augment(image, target, np.random.default_rng(seed), intensity_channels=2)
        assert t.sum() == 1
        assert np.argmax(out[0]) == np.flatnonzero(t)[0]  # the marked voxel moved with the target
        assert np.all(out[2] == 0.25)
        brain = (out[:2] != 0).any(0)
        assert brain.sum() == (image[:2] != 0).any(0).sum()  # background stays 0
