import numpy as np
import pytest

from benchmark.io import write_case
from benchmark.results import read_rounds, read_sessions
from benchmark.runner import RunConfig, run
from benchmark.session import SessionConfig
from tests.baselines.external.helpers import misbehaving, reference
from tests.helpers import ball

SHAPE = (32, 30, 24)


def write_cases(root, n=2):
    rng = np.random.default_rng(0)
    brain = ball(SHAPE, (16, 15, 12), 13)
    for i in range(n):
        label = np.zeros(SHAPE, np.uint8)
        label[ball(SHAPE, (14 + i, 15, 12), 8)] = 2
        mods = {m: np.where(brain, 100.0 + rng.normal(0, 5, SHAPE), 0).astype(np.float32)
                for m in ("flair", "t1", "t1ce", "t2")}
        mods["flair"][label > 0] += 60
        write_case(root, "brats2021", f"BraTS2021_{i:05d}", mods, label, np.eye(4))


@pytest.mark.slow
def test_a_crashing_external_method_fails_alone_in_a_run(tmp_path):
    write_cases(tmp_path / "data")
    methods = ("manual-paint", f"process={misbehaving('crash')}", f"cvpr25={reference('cvpr25')}")
    config = RunConfig(data=tmp_path / "data", out=tmp_path / "out", methods=methods, users=("ritm",),
                       session=SessionConfig(max_rounds=2))
    summary = run(config, progress=False)
    assert (summary.ok, summary.failed) == (4, 2)
    sessions = read_sessions(tmp_path / "out").set_index(["case", "method"]).status
    crashing = [m for m in sessions.index.get_level_values("method") if m.startswith("process:misbehave-")]
    assert set(sessions.xs(crashing[0], level="method")) == {"failed"}
    assert set(sessions.drop(crashing[0], level="method")) == {"ok"}
    assert all("exited with code 3" in e and e.endswith("ValueError: boom: the weights are missing")
               for e in summary.errors)
    rounds = read_rounds(tmp_path / "out")
    assert set(rounds.method) == {"manual-paint", next(m for m in rounds.method if m.startswith("cvpr25:"))}
    assert len(rounds[rounds.method.str.startswith("cvpr25:")]) == 2 * 3  # two cases, rounds 0-2
