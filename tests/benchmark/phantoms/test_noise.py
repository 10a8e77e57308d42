"""Smooth noise fields (benchmark/phantoms/noise.py)."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.phantoms.noise import smooth_noise


def test_smooth_noise_is_standardised_smooth_and_seeded():
    field = smooth_noise((40, 30, 20), 8.0, np.random.default_rng(0), channels=2)
    assert field.shape == (2, 40, 30, 20) and field.dtype == np.float32
    assert abs(field.mean()) < 0.3 and 0.4 < field.std() < 1.2
    neighbours = np.corrcoef(field[0, 1:].ravel(), field[0, :-1].ravel())[0, 1]
    assert neighbours > 0.9
    assert np.corrcoef(field[0].ravel(), field[1].ravel())[0, 1] < 0.5
    again = smooth_noise((40, 30, 20), 8.0, np.random.default_rng(0), channels=2)
    assert np.array_equal(field, again)
    with pytest.raises(ValueError, match="length"):
        smooth_noise((4, 4, 4), 0.0, np.random.default_rng(0))
