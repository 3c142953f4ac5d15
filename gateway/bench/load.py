"""Bounded load on loopback: `requests` chat completions, `concurrency` at a time."""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

import httpx

__all__ = ["load", "percentile"]


async def load(
    url: str, concurrency: int, requests: int, stream: bool, key: str, distinct: bool = False
) -> tuple[list[float], float, int]:
    """Latencies (ms) of `requests` calls made `concurrency` at a time; wall seconds; failures.

    With `distinct`, every prompt is new (the guard's verdict cache never has it); otherwise
    every request asks the same question.
    """
    salt = secrets.token_hex(4)

    def body(i: int) -> dict[str, Any]:
        question = (
            f"What is the capital of France? (request {salt}-{i})"
            if distinct
            else "What is the capital of France?"
        )
        return {"model": "small", "stream": stream, "messages": [{"role": "user", "content": question}]}

    latencies: list[float] = []
    failures = 0
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(requests):
        queue.put_nowait(i)

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal failures
        while not queue.empty():
            i = queue.get_nowait()
            started = time.perf_counter()
            try:
                response = await client.post(
                    f"{url}/chat/completions", json=body(i), headers={"Authorization": f"Bearer {key}"}
                )
                ok = response.status_code == 200 and (not stream or response.text.rstrip().endswith("[DONE]"))
            except httpx.HTTPError:
                ok = False
            if ok:
                latencies.append((time.perf_counter() - started) * 1000)
            else:
                failures += 1

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        wall = time.perf_counter() - started
    return latencies, wall, failures


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")
