"""The text pool scores a batch's texts side by side, in order, and a lone text in the caller's thread."""

from __future__ import annotations

import threading
import time

from gateway.onnxsession import TextPool


def test_texts_come_back_in_their_order() -> None:
    pool = TextPool(workers=3)

    def slow_for_early(n: int) -> int:
        time.sleep(0.02 if n < 3 else 0.0)  # the first texts finish last
        return n * n

    assert pool.map(slow_for_early, list(range(8))) == [n * n for n in range(8)]


def test_texts_of_one_batch_run_at_the_same_time() -> None:
    """Two texts, two workers: each waits for the other to start, which only works side by side."""
    pool = TextPool(workers=2)
    both_started = threading.Barrier(2, timeout=5)

    def meet(n: int) -> str:
        both_started.wait()
        return threading.current_thread().name

    names = pool.map(meet, [1, 2])
    assert len(set(names)) == 2
    assert all(name.startswith("onnx-text") for name in names)


def test_a_lone_text_and_a_one_worker_pool_stay_in_the_callers_thread() -> None:
    caller = threading.current_thread().name
    assert TextPool(workers=4).map(lambda _: threading.current_thread().name, ["only"]) == [caller]
    assert TextPool(workers=1).map(lambda _: threading.current_thread().name, ["a", "b"]) == [caller] * 2


def test_zero_workers_means_one_per_core() -> None:
    import os

    assert TextPool(workers=0).workers == len(os.sched_getaffinity(0))
