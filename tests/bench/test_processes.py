"""CPU time and memory of a process, read from /proc."""

from __future__ import annotations

import os
import time

from gateway.bench.processes import Usage


def test_usage_counts_cpu_spent_after_it_was_made_and_the_kernels_share() -> None:
    usage = Usage(os.getpid())
    deadline = time.process_time() + 0.3
    while time.process_time() < deadline:  # user time
        pass
    for _ in range(2000):  # kernel time: system calls
        os.stat("/proc/self/stat")
    spent, kernel, main = usage.times()
    assert 0.2 <= spent < 5
    assert 0 <= kernel <= spent
    assert 0.2 <= main <= spent  # this test runs in the main thread
    assert usage.peak_mib() > 10


def test_usage_of_no_process_is_nothing() -> None:
    usage = Usage(None)
    assert usage.cpu_seconds() == 0
    assert usage.times() == (0, 0, 0)
    assert usage.peak_mib() == 0
