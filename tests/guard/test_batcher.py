"""The micro-batcher: concurrent callers share calls, a lone caller is not kept waiting."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import pytest

from gateway.guard import MicroBatcher
from gateway.guard.batcher import LoopShare

pytestmark = pytest.mark.anyio


class Doubler:
    """Records each call's items and the thread it ran on."""

    def __init__(self, delay: float = 0.0) -> None:
        self.calls: list[list[int]] = []
        self.threads: set[int] = set()
        self.delay = delay

    def __call__(self, items: Sequence[int]) -> list[int]:
        self.calls.append(list(items))
        self.threads.add(threading.get_ident())
        if self.delay:
            threading.Event().wait(self.delay)
        return [2 * item for item in items]


async def test_a_lone_caller_gets_its_answer_from_one_call() -> None:
    run = Doubler()
    batcher = MicroBatcher(run)
    assert await batcher.submit(21) == 42
    assert run.calls == [[21]]


async def test_concurrent_callers_share_calls_and_each_gets_its_own_answer() -> None:
    run = Doubler(delay=0.02)
    batcher = MicroBatcher(run, max_batch=8)
    results = await asyncio.gather(*(batcher.submit(i) for i in range(20)))
    assert results == [2 * i for i in range(20)]
    assert len(run.calls) < 20
    assert max(len(call) for call in run.calls) <= 8
    assert sorted(item for call in run.calls for item in call) == list(range(20))


async def test_the_model_runs_off_the_event_loop_thread() -> None:
    run = Doubler()
    await MicroBatcher(run).submit(1)
    assert threading.get_ident() not in run.threads


async def test_a_lone_cheap_item_runs_on_the_loop_and_others_in_a_thread() -> None:
    run = Doubler()
    batcher = MicroBatcher(run, size=lambda item: item, inline_size=9)
    assert await batcher.submit(3) == 6
    assert run.threads == {threading.get_ident()}
    assert batcher.inline_batches == 1
    run.threads.clear()
    assert await batcher.submit(30) == 60  # not cheap
    assert threading.get_ident() not in run.threads
    run.threads.clear()
    assert await asyncio.gather(batcher.submit(1), batcher.submit(2)) == [2, 4]  # not alone
    assert run.calls[-1] == [1, 2]
    assert threading.get_ident() not in run.threads
    assert (batcher.batches, batcher.inline_batches) == (3, 1)


async def test_batchers_sharing_the_loop_run_two_lone_items_side_by_side() -> None:
    """One item each, submitted together: one runs on the loop, the other on a thread beside it
    (both on the loop, one after the other, without a share)."""
    for share, threads in ((LoopShare(), 2), (None, 1)):
        first, second = Doubler(delay=0.05), Doubler(delay=0.05)
        a = MicroBatcher(first, size=lambda item: item, inline_size=9, share=share)
        b = MicroBatcher(second, size=lambda item: item, inline_size=9, share=share)
        assert await asyncio.gather(a.submit(1), b.submit(2)) == [2, 4]
        assert len(first.threads | second.threads) == threads
        assert threading.get_ident() in first.threads | second.threads
        assert a.inline_batches + b.inline_batches == (1 if share else 2)
    alone = Doubler()
    c = MicroBatcher(alone, size=lambda item: item, inline_size=9, share=LoopShare())
    assert await c.submit(3) == 6
    assert alone.threads == {threading.get_ident()}  # nobody else waiting: the loop


async def test_a_failing_inline_call_fails_its_caller_only() -> None:
    def failing(items: Sequence[int]) -> list[int]:
        raise RuntimeError("model exploded")

    batcher = MicroBatcher(failing, size=lambda item: item, inline_size=1)
    with pytest.raises(RuntimeError, match="model exploded"):
        await batcher.submit(1)


async def test_a_failing_call_fails_its_callers_and_the_next_batch_still_runs() -> None:
    calls = 0

    def flaky(items: Sequence[int]) -> list[int]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("model exploded")
        return list(items)

    batcher = MicroBatcher(flaky)
    with pytest.raises(RuntimeError, match="model exploded"):
        await batcher.submit(1)
    assert await batcher.submit(2) == 2


async def test_a_cancelled_caller_does_not_disturb_the_others() -> None:
    batcher = MicroBatcher(Doubler(delay=0.05))
    first = asyncio.create_task(batcher.submit(1))
    await asyncio.sleep(0.01)  # the first batch is running
    waiting = [asyncio.create_task(batcher.submit(i)) for i in (2, 3)]
    await asyncio.sleep(0)
    waiting[0].cancel()
    assert await first == 2
    assert await waiting[1] == 6
    assert waiting[0].cancelled()


def test_max_batch_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_batch"):
        MicroBatcher(Doubler(), max_batch=0)
