import math

from click.testing import CliRunner

from baselines.external.bench import bench_external, bench_external_cmd


def test_the_three_ways_agree_and_the_exchanges_cost_more():
    r = bench_external((32, 30, 24), rounds=1, repeats=1)
    assert r["same"] and r["rounds"] == 1
    inside, process, cvpr25 = r["rows"]
    assert math.isnan(inside["program_ms"]) and inside["name"] == "manual-paint"
    assert process["name"].startswith("process:paint_clicks_process-") and cvpr25["name"].startswith("cvpr25:")
    assert 0 < process["program_ms"] <= process["round_ms"] and process["round_ms"] > inside["round_ms"]
    assert 0 < cvpr25["program_ms"] <= cvpr25["round_ms"] and cvpr25["round_ms"] > inside["round_ms"]


def test_the_command_refuses_zero_rounds():
    result = CliRunner().invoke(bench_external_cmd, ["--rounds", "0"])
    assert result.exit_code != 0 and "rounds and repeats must be >= 1" in result.output
