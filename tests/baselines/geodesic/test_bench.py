import importlib.util
import math

import numpy as np
import pytest
from click.testing import CliRunner

from baselines.geodesic.bench import (OPTIONAL, Implementation, available_implementations, bench_geodesic,
                                      bench_geodesic_cmd, bench_input, fastgeodis_dijkstra, geodistk_dijkstra)
from baselines.geodesic.dijkstra import geodesic_dijkstra


def test_geodistk_cost_by_hand_and_spatial_limit():
    image = np.zeros((3, 3, 3), np.float32)
    image[:2, :2, :2] = 5.0  # walls around the corner seed, so the cheapest way on is the diagonal
    image[0, 0, 0], image[1, 1, 1] = 0.0, 1.0
    seeds = np.zeros((3, 3, 3), bool)
    seeds[0, 0, 0] = True
    d = geodistk_dijkstra(image, seeds, (1.0, 1.0, 1.0), 1.0)
    # lambda 1: step length times the intensity difference (+1e-5): the diagonal step costs sqrt(3) x 1.
    assert d[1, 1, 1] == pytest.approx(math.sqrt(3) * (1 + 1e-5), rel=1e-6)
    image, sets = bench_input((9, 8, 7), 2, np.random.default_rng(0))
    # lambda 0: both costs are the step length in mm.
    np.testing.assert_allclose(geodistk_dijkstra(image, sets[0], (1.0, 2.0, 1.5), 0.0),
                               geodesic_dijkstra(image, sets[0], (1.0, 2.0, 1.5), 0.0), rtol=1e-9)


def test_fastgeodis_cost_is_a_linear_mix_equal_to_ours_at_the_ends():
    image, sets = bench_input((9, 8, 7), 2, np.random.default_rng(0))
    spacing = (1.0, 2.0, 1.5)
    for lamb in (0.0, 1.0):
        np.testing.assert_allclose(fastgeodis_dijkstra(image, sets[0], spacing, lamb),
                                   geodesic_dijkstra(image, sets[0], spacing, lamb), rtol=1e-9, atol=1e-12)
    line = np.array([0.0, 3.0, 7.0], np.float32)[:, None, None]
    seeds = np.array([True, False, False])[:, None, None]
    # Along a line of 1 mm steps: 0.5 x 1 + 0.5 x 3, then 0.5 x 1 + 0.5 x 4.
    np.testing.assert_allclose(fastgeodis_dijkstra(line, seeds, (1.0, 1.0, 1.0), 0.5).ravel(), [0.0, 2.0, 4.5])


def test_bench_reports_time_and_error_of_each_implementation():
    ours = available_implementations()[0]
    twice = Implementation("ours again", ours.run, ours.exact)
    r = bench_geodesic((20, 18, 12), seeds=3, repeats=2, crop=10, implementations=[ours, twice])
    assert r["crop"] == (10, 10, 10) and r["missing"] == list(OPTIONAL)
    first, second = r["rows"]
    assert first["seconds"] > 0 and second["max_diff_vs_ours"] == 0.0
    # tests/baselines/geodesic/test_transform.py bounds the sweep's error at 2 iterations; here well under 1.
    assert 0.0 <= first["max_error"] < 1.0


def test_bench_input_is_seeded_and_bad_arguments_raise():
    a, sa = bench_input((10, 10, 10), 4, np.random.default_rng(3))
    b, sb = bench_input((10, 10, 10), 4, np.random.default_rng(3))
    assert np.array_equal(a, b) and np.array_equal(sa, sb) and a.std() == pytest.approx(1.0, rel=1e-5)
    with pytest.raises(ValueError, match="lamb"):
        bench_geodesic((10, 10, 10), lamb=1.5)


def test_command_prints_a_row_per_implementation():
    result = CliRunner().invoke(bench_geodesic_cmd, ["--shape", "16", "16", "10", "--repeats", "1", "--crop", "8"])
    assert result.exit_code == 0, result.output
    assert "simedit (PyTorch sweep)" in result.output and "x ours" in result.output
    for name in OPTIONAL:
        assert name in result.output


@pytest.mark.parametrize("name, module", [("FastGeodis (CPU)", "FastGeodis"), ("GeodisTK (raster scan)", "GeodisTK")])
def test_optional_library_converges_to_its_exact_distance(name, module):
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} not installed (optional)")
    impl = next(i for i in available_implementations() if i.name == name)
    image, sets = bench_input((14, 12, 10), 3, np.random.default_rng(1))
    for lamb in (0.0, 0.6, 1.0):
        exact = np.stack([impl.exact(image, s, (1.0, 1.0, 1.0), lamb) for s in sets])
        approx = impl.run(image, sets, (1.0, 1.0, 1.0), lamb, 30)
        assert np.abs(approx - exact).max() < 1e-3, (name, lamb)
