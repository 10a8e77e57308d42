"""CPU threads for training that keep their speed when other processes share the cores.

Torch's CPU kernels use one OpenMP thread per core, and its threads spin while they wait
for each other. When another process holds a core, a two-thread step waits on a thread
that is not running: on this project's 2-core machine a G training step (Isensee base 8,
batch 2 x 48^3) took 0.52 s alone with 2 threads and 1.71 s with 2 threads beside one
CPU-bound process, but 0.94 s with 1 thread beside it (``simedit bench threads``
measures it again). So training sizes its threads to the cores the other processes leave
free, measured from ``/proc/stat`` over the last epoch (the first epoch: a 0.2 s look),
and changes them between epochs. Where ``/proc/stat`` is missing (not Linux) or the
thread count is fixed (``OMP_NUM_THREADS`` set, or ``threads`` given), nothing changes.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch

_STAT = Path("/proc/stat")
_SELF = Path("/proc/self/stat")


@dataclass(frozen=True)
class CpuSample:
    """Jiffies since boot: all CPUs' busy and total time, and this process's own CPU time."""

    busy: int
    total: int
    own: int


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def sample() -> CpuSample | None:
    """The counters now; None where /proc is not there."""
    try:
        fields = [int(v) for v in _STAT.read_text().split("\n", 1)[0].split()[1:]]
        own = _SELF.read_text().rsplit(")", 1)[1].split()
    except (OSError, ValueError, IndexError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])  # guest time is already inside user time
    return CpuSample(total - idle, total, int(own[11]) + int(own[12]))  # utime + stime


def others_busy(before: CpuSample, after: CpuSample, n_cpus: int | None = None) -> float:
    """Cores the other processes kept busy between two samples (0 .. number of CPUs)."""
    n = n_cpus or os.cpu_count() or 1
    elapsed = (after.total - before.total) / n  # jiffies of wall time per CPU
    if elapsed <= 0:
        return 0.0
    return max(0.0, (after.busy - before.busy) - (after.own - before.own)) / elapsed


def free_threads(busy: float, available: int) -> int:
    """Threads for the cores the others leave free: at least 1, at most ``available``
    (a core counts as taken when the others used more than half of it)."""
    return max(1, min(available, available - int(busy + 0.5)))


class ThreadGovernor:
    """Sets torch's CPU threads before each epoch from what the other processes used.

    Args:
        fixed: a thread count to keep (None: adapt, unless ``OMP_NUM_THREADS`` is set).
    """

    def __init__(self, fixed: int | None = None) -> None:
        self.fixed = fixed if fixed is not None else (torch.get_num_threads() if os.environ.get("OMP_NUM_THREADS")
                                                      else None)
        self.available = cores()
        self._last = sample()
        self.threads = torch.get_num_threads()

    def before_epoch(self) -> int:
        """Pick and set the threads for the next epoch; returns them."""
        if self.fixed is not None or self._last is None:
            if self.fixed is not None:
                torch.set_num_threads(self.fixed)
            self.threads = torch.get_num_threads()
            return self.threads
        now = sample()
        if now is not None and now.total - self._last.total < 20 * (os.cpu_count() or 1):  # under 0.2 s seen
            time.sleep(0.2)
            now = sample()
        if now is not None:
            self.threads = free_threads(others_busy(self._last, now), self.available)
            torch.set_num_threads(self.threads)
            self._last = now
        return self.threads
