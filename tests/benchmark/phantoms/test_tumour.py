"""Rasterising tumour foci (benchmark/phantoms/tumour.py): necrosis, enhancing rim, oedema."""

from __future__ import annotations

import numpy as np

from benchmark.phantoms.tumour import ENHANCING, NECROSIS, OEDEMA, Focus, rasterise


def _round_focus(**changes) -> Focus:
    fields = dict(
        centre=np.array([20.0, 20.0, 20.0]),
        orientation=np.eye(3),
        elongation=np.ones(3),
        core_radius=5.0,
        necrosis_radius=3.0,
        oedema_reach=5.0,
        enhancing=True,
        rim_gap=0.0,
        roughness=0.0,
        oedema_roughness=0.0,
        push=0.0,
    )
    return Focus(**(fields | changes))


def _half_white_anatomy():
    """White matter for x < 20, grey matter beyond, all brain: float32 [40, 40, 40] each."""
    white = np.zeros((40, 40, 40), dtype=np.float32)
    white[:20] = 1.0
    return 1.0 - white, white, np.ones(white.shape, dtype=bool)


def test_a_smooth_focus_has_necrosis_inside_an_enhancing_rim_inside_oedema():
    grey, white, brain = _half_white_anatomy()
    label, strength = rasterise([_round_focus()], grey, white, brain, np.random.default_rng(0))
    distance = np.sqrt(((np.indices(label.shape) - 20.0) ** 2).sum(axis=0))
    assert distance[label == NECROSIS].max() < 3.0
    assert 3.0 <= distance[label == ENHANCING].min() and distance[label == ENHANCING].max() < 5.0
    assert distance[label == OEDEMA].min() >= 5.0
    assert set(np.unique(label)) == {0, NECROSIS, OEDEMA, ENHANCING}
    # Strength falls from the core outwards and lives on oedema only.
    assert np.array_equal(strength > 0, (label == OEDEMA) & (strength > 0))
    near = strength[(label == OEDEMA) & (distance < 6.0)].mean()
    far = strength[(label == OEDEMA) & (distance > 8.0)].mean()
    assert near > far


def test_oedema_spreads_further_along_white_matter():
    grey, white, brain = _half_white_anatomy()
    label, _ = rasterise([_round_focus()], grey, white, brain, np.random.default_rng(0))
    oedema = label == OEDEMA
    # Away from the blurred boundary plane (x = 19.5): white side x < 17, grey side x > 22.
    assert oedema[:17].sum() > 3 * oedema[23:].sum()


def test_solid_non_enhancing_and_gapped_foci():
    grey, white, brain = _half_white_anatomy()
    rng = np.random.default_rng(0)
    solid, _ = rasterise([_round_focus(necrosis_radius=0.0)], grey, white, brain, rng)
    assert not (solid == NECROSIS).any() and (solid == ENHANCING).any()
    quiet, _ = rasterise([_round_focus(enhancing=False)], grey, white, brain, rng)
    assert not (quiet == ENHANCING).any() and (quiet == NECROSIS).sum() > 300
    gapped, _ = rasterise([_round_focus(rim_gap=0.4, roughness=0.2)], grey, white, brain, rng)
    whole, _ = rasterise([_round_focus(roughness=0.2)], grey, white, brain, np.random.default_rng(0))
    assert 0 < (gapped == ENHANCING).sum() < 0.9 * (whole == ENHANCING).sum()


def test_labels_stay_in_the_brain_and_cores_override_oedema():
    grey, white, brain = _half_white_anatomy()
    brain[:, :, 24:] = False
    foci = [_round_focus(), _round_focus(centre=np.array([20.0, 28.0, 20.0]), necrosis_radius=0.0)]
    label, _ = rasterise(foci, grey, white, brain, np.random.default_rng(0))
    assert not label[~brain].any()
    # The second core sits in the first focus' oedema, and wins.
    assert label[20, 28, 20] == ENHANCING
