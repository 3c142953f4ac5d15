"""The text pool scores a batch's texts side by side, in order, and a lone text in the caller's
thread; a model's short calls run on one thread, with the same outputs as on all."""

from __future__ import annotations

import threading
import time

import numpy as np

from gateway.guard import bundled_guard_dir
from gateway.onnxsession import SHORT_CALL_TOKENS, CpuModel, TextPool, padded
from gateway.settings import Settings


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


def _feed(tokens: int) -> dict[str, np.ndarray]:
    """A prompt of `tokens` tokens as the bundled guard's prompt graph takes it (no token types)."""
    ids = [101, *range(2000, 2000 + tokens - 2), 102]
    feed = padded([(ids, [0] * len(ids))])
    del feed["token_type_ids"]
    return feed


def test_a_short_call_runs_on_one_thread_and_a_long_one_on_all() -> None:
    model = CpuModel(bundled_guard_dir() / "guard.onnx", threads=2, short_tokens=64)
    assert model.is_short(_feed(63))
    assert not model.is_short(_feed(64))
    assert not model.is_short(padded([([101, 2000, 102], [0, 0, 0])] * 32))  # 32 rows of 3 tokens


def test_both_sessions_give_the_same_outputs() -> None:
    """A verdict must not depend on which session scored it: a threshold at the text's own length
    puts the same call on one thread, and one higher on both."""
    path = bundled_guard_dir() / "guard.onnx"
    outputs = ["logits", "keys", "values"]  # the keys and values an answer is read against too
    for tokens in (20, 200):
        feed = _feed(tokens)
        one = CpuModel(path, threads=2, short_tokens=tokens + 1).run(outputs, feed)
        both = CpuModel(path, threads=2, short_tokens=0).run(outputs, feed)
        for a, b in zip(one, both, strict=True):
            assert np.array_equal(a, b)
        answer = {**_feed(tokens), "keys": one[1], "values": one[2]}  # read against this prompt
        response = bundled_guard_dir() / "response.onnx"
        (one_answer,) = CpuModel(response, threads=2, short_tokens=tokens + 1).run(["logits"], answer)
        (both_answer,) = CpuModel(response, threads=2, short_tokens=0).run(["logits"], answer)
        assert np.array_equal(one_answer, both_answer)


def test_one_thread_or_a_zero_threshold_keeps_one_session() -> None:
    path = bundled_guard_dir() / "guard.onnx"
    assert CpuModel(path, threads=1, short_tokens=64).short_tokens == 0
    assert not CpuModel(path, threads=2, short_tokens=0).is_short(_feed(8))


def test_the_gateway_setting_defaults_to_the_models_threshold() -> None:
    assert Settings().scanner_short_tokens == SHORT_CALL_TOKENS


def test_the_pool_rests_when_a_call_returns() -> None:
    """Threads that spin on after a call take the cores from the event loop: the process spends
    next to no CPU while it waits after a call on two threads (with onnxruntime's spinning on,
    some 60 ms in the 200 ms after it)."""
    model = CpuModel(bundled_guard_dir() / "guard.onnx", threads=2, short_tokens=0)
    feed = _feed(128)
    for _ in range(3):
        model.run(["logits"], feed)
    before = time.process_time()
    time.sleep(0.2)
    assert time.process_time() - before < 0.02
