import time

import pytest
import torch

from baselines.training import threads
from baselines.training.threads import CpuSample, ThreadGovernor, free_threads, others_busy
from baselines.training.threads_bench import competitor


def test_others_busy_subtracts_this_process_and_scales_by_wall_time():
    before = CpuSample(busy=1000, total=4000, own=300)
    # 2 CPUs, 100 jiffies of wall time each (200 in all); 150 busy jiffies, 50 of them ours
    after = CpuSample(busy=1150, total=4200, own=350)
    assert others_busy(before, after, n_cpus=2) == pytest.approx(1.0)
    assert others_busy(before, CpuSample(1040, 4200, 350), n_cpus=2) == 0.0  # never negative
    assert others_busy(before, before, n_cpus=2) == 0.0  # no time passed


@pytest.mark.parametrize("busy, available, expected", [(0.0, 2, 2), (0.4, 2, 2), (0.6, 2, 1), (1.0, 2, 1),
                                                       (2.0, 2, 1), (1.2, 8, 7), (0.0, 1, 1)])
def test_free_threads_leaves_the_cores_the_others_use(busy, available, expected):
    assert free_threads(busy, available) == expected


def test_a_fixed_count_is_kept(monkeypatch):
    default = torch.get_num_threads()
    try:
        assert ThreadGovernor(fixed=1).before_epoch() == 1 and torch.get_num_threads() == 1
        monkeypatch.setenv("OMP_NUM_THREADS", "1")
        torch.set_num_threads(1)
        governor = ThreadGovernor()
        assert governor.fixed == 1 and governor.before_epoch() == 1
    finally:
        torch.set_num_threads(default)


def test_without_proc_nothing_changes(monkeypatch):
    monkeypatch.setattr(threads, "_STAT", threads.Path("/nonexistent/stat"))
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert threads.sample() is None
    before = torch.get_num_threads()
    assert ThreadGovernor().before_epoch() == before == torch.get_num_threads()


@pytest.mark.skipif(threads.sample() is None, reason="needs Linux /proc/stat")
def test_a_spinning_process_is_seen_as_a_busy_core():
    with competitor(True):
        first = threads.sample()
        time.sleep(1.0)
        busy = others_busy(first, threads.sample())
    assert busy >= 0.7  # one core spun the whole second (other load on the machine only adds)
