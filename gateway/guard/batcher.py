"""Micro-batching: concurrent callers share one trip to a worker thread, off the event loop.

A lone caller is served at once (no waiting for company); callers that arrive while a batch
is running are collected and served together by the next one, so batching grows with load
and adds no latency when there is none.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

__all__ = ["MicroBatcher"]

I = TypeVar("I")  # noqa: E741 -- item
O = TypeVar("O")  # noqa: E741 -- outcome


class MicroBatcher(Generic[I, O]):
    """Runs `run(items) -> outcomes` (same order) in a worker thread, one batch at a time."""

    def __init__(self, run: Callable[[Sequence[I]], list[O]], *, max_batch: int = 16) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._run = run
        self._max_batch = max_batch
        self._pending: list[tuple[I, asyncio.Future[O]]] = []
        self._worker: asyncio.Task[None] | None = None
        self.batches = 0  # how many model calls were made, for tests and benchmarks

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
            try:
                outcomes = await asyncio.to_thread(self._run, [item for item, _ in batch])
            except Exception as exc:  # noqa: BLE001 -- handed to every caller of this batch
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if not future.done():
                    future.set_result(outcome)
