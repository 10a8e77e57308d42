"""The oedema's look (benchmark/phantoms/oedema.py): unclear edges, weak patches, their draws."""

from __future__ import annotations

import numpy as np

from benchmark.phantoms.oedema import OedemaLook, draw_oedema_look, oedema_weight
from benchmark.phantoms.tumour import NECROSIS, OEDEMA
from tests.benchmark.phantoms.helpers import shell_means


def _ball_label(radius: float, size: int = 40) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A ball tumour (core radius/2 inside oedema) in a cube: label, strength, distance from the centre."""
    distance = np.sqrt(((np.indices((size,) * 3) - (size - 1) / 2.0) ** 2).sum(axis=0))
    label = np.zeros(distance.shape, dtype=np.uint8)
    label[distance < radius] = OEDEMA
    label[distance < radius / 2] = NECROSIS
    strength = np.where(label == OEDEMA, (radius - distance) / (radius / 2), 0).astype(np.float32)
    return label, np.clip(strength, 0, 1), distance


def test_an_unclear_edge_fades_over_the_ramp_across_the_label():
    radius = 12.0
    label, strength, distance = _ball_label(radius)
    signed = distance - radius  # mm at scale 1; > 0 outside the label
    edges = np.arange(-6.0, 7.0, 1.0)
    for level in (0.2, 0.8):
        look = OedemaLook(ramp_mm=6.0, label_level=level, weak_fraction=0.0, weak_depth=0.0)
        weight = oedema_weight(label, strength, look, 1.0, np.random.default_rng(0))
        shells = shell_means(weight, signed, edges)
        assert np.all(np.diff(shells) <= 1e-3), shells
        assert weight[signed > look.reach_mm + 2].max() < 0.01
        # The label's boundary sits `level` of the way up the ramp (edge x 0.5 there).
        assert abs(weight[np.abs(signed) < 0.5].mean() - 0.5 * level) < 0.08
    crisp = OedemaLook(ramp_mm=0.0, label_level=0.5, weak_fraction=0.0, weak_depth=0.0)
    weight = oedema_weight(label, strength, crisp, 1.0, np.random.default_rng(0))
    assert weight[(signed > -2) & (signed < -1)].mean() > 0.4 and weight[signed > 1.5].max() < 0.05


def test_weak_patches_lower_part_of_the_oedema_only():
    label, strength, _ = _ball_label(15.0)
    plain = OedemaLook(ramp_mm=4.0, label_level=0.5, weak_fraction=0.0, weak_depth=0.0)
    weak = OedemaLook(ramp_mm=4.0, label_level=0.5, weak_fraction=0.4, weak_depth=0.9)
    full = oedema_weight(label, strength, plain, 1.0, np.random.default_rng(0))
    patchy = oedema_weight(label, strength, weak, 1.0, np.random.default_rng(0))
    oedema = label == OEDEMA
    assert np.all(patchy <= full + 1e-6)
    lowered = patchy[oedema] < 0.5 * full[oedema]
    assert 0.15 < lowered.mean() < 0.55
    assert (patchy[oedema] < 0.25 * full[oedema]).any()  # near normal tissue at the weakest


def test_draws_of_the_oedema_look_cover_crisp_unclear_weak_and_solid():
    looks = [draw_oedema_look(np.random.default_rng(seed)) for seed in range(200)]
    unclear = np.mean([look.ramp_mm > 0 for look in looks])
    weak = np.mean([look.weak_fraction > 0 for look in looks])
    assert 0.5 < unclear < 0.9 and 0.4 < weak < 0.8
    levels = [look.label_level for look in looks if look.ramp_mm > 0]
    assert min(levels) < 0.3 and max(levels) > 0.7
