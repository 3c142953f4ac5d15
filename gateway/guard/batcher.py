"""Micro-batching: concurrent callers share one trip to a worker thread, off the event loop.

A lone caller is served at once (no waiting for company); callers that arrive while a batch
is running are collected and served together by the next one, so batching grows with load
and adds no latency when there is none.

A lone item of `size` at most `inline_size` (a short text; 0: none) runs on the event loop
itself, when no other caller is waiting: handing it to a worker thread and back costs a good part of the pass
(on a 2-core EPYC, a short guard pass is about 1 ms and the hand-off added 0.3 to 0.7 ms to a
request's p50, json one at a time; see the README's Where the time goes). A long pass stays off
the loop, so it never holds up the other requests for long.

Batchers of one `LoopShare` (the guard's and the PII model's) take turns at the loop: a lone
short item runs there only when no other batcher of the share has an item waiting, and otherwise
on a thread, so that the other batcher's pass runs on the loop beside it. A request's two passes
then overlap on two cores instead of queueing on the loop one after the other.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

__all__ = ["INLINE_CHARS", "LoopShare", "MicroBatcher"]

# The scanners' default `inline_size`: a lone text this short (an answer's with its prompt's) is
# scored on the event loop; some 55 tokens of English, a 2 ms guard pass on one thread.
INLINE_CHARS = 256

I = TypeVar("I")  # noqa: E741 -- item
O = TypeVar("O")  # noqa: E741 -- outcome


class LoopShare:
    """Batchers that run their short items on the same event loop (see the module's doc)."""

    def __init__(self) -> None:
        self._members: list[MicroBatcher[Any, Any]] = []

    def join(self, batcher: MicroBatcher[Any, Any]) -> None:
        self._members.append(batcher)

    def others_waiting(self, batcher: MicroBatcher[Any, Any]) -> bool:
        """Whether a batcher of the share other than `batcher` has an item waiting."""
        return any(member is not batcher and member.waiting for member in self._members)

    def busy(self) -> bool:
        """Whether a batcher of the share has a batch running or an item waiting."""
        return any(member.busy for member in self._members)


class MicroBatcher(Generic[I, O]):
    """Runs `run(items) -> outcomes` (same order) in a worker thread, one batch at a time; a
    lone item whose `size(item)` is at most `inline_size`, on the event loop, unless a batcher of
    its `share` has an item waiting."""

    def __init__(
        self,
        run: Callable[[Sequence[I]], list[O]],
        *,
        max_batch: int = 16,
        size: Callable[[I], int] = lambda _: 0,
        inline_size: int = 0,
        share: LoopShare | None = None,
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._run = run
        self._max_batch = max_batch
        self._size = size
        self._inline_size = inline_size
        self._share = share
        if share is not None:
            share.join(self)
        self._pending: list[tuple[I, asyncio.Future[O]]] = []
        self._worker: asyncio.Task[None] | None = None
        self.batches = 0  # how many model calls were made, for tests and benchmarks
        self.inline_batches = 0  # how many of them ran on the event loop

    @property
    def waiting(self) -> bool:
        """Whether an item is waiting for its batch."""
        return bool(self._pending)

    @property
    def busy(self) -> bool:
        """Whether a batch is running or an item waiting."""
        return self._worker is not None and not self._worker.done()

    async def submit(self, item: I) -> O:
        future: asyncio.Future[O] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        await asyncio.sleep(0)  # callers submitting in this same loop turn join the first batch
        while self._pending:
            batch = [entry for entry in self._pending[: self._max_batch] if not entry[1].done()]
            del self._pending[: self._max_batch]
            if not batch:
                continue
            self.batches += 1
            items = [item for item, _ in batch]
            try:
                # Alone: no caller waits here, nor at another batcher of the share (whose item then
                # takes the loop, and this one a thread).
                alone = (
                    len(items) == 1
                    and not self._pending
                    and not (self._share is not None and self._share.others_waiting(self))
                )
                if alone and self._inline_size and self._size(items[0]) <= self._inline_size:
                    self.inline_batches += 1
                    outcomes = self._run(items)
                else:
                    outcomes = await asyncio.to_thread(self._run, items)
            except Exception as exc:  # noqa: BLE001 -- handed to every caller of this batch
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if not future.done():
                    future.set_result(outcome)
