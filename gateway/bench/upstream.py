"""What one upstream call costs the gateway's process, by client stack, against the fake upstream.

Sequential non-streamed chat completions from this process to the fake upstream (a separate
process on loopback): a bare httpx POST, the openai SDK, and the gateway's own `Upstream`
(litellm, as every request uses it). Each row gives the wall-clock p50/p99 of a call and the
CPU this process spent per call, which is what a request's upstream leg adds to the gateway's
cores. The floor for the litellm row is the SDK row: litellm calls the openai SDK underneath.
The last row is the same litellm call made right after the guard has judged a prompt and its
answer on the same thread, as a cold request does; only the call is timed, so the difference
from the row before is what the model's passes cost the code that runs after them (the passes
stream megabytes of weights through the core's caches).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import openai

from gateway.bench.guard import percentiles
from gateway.bench.processes import BENCH_KEY, gateway_config, upstream_process
from gateway.config import GatewayConfig
from gateway.fake_upstream import DEFAULT_REPLY
from gateway.guard.model import GuardInput, bundled_guard_dir, load_guard
from gateway.upstream import Upstream

__all__ = ["run"]

MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]


async def _time(
    call: Callable[[], Awaitable[object]],
    requests: int,
    warmup: int,
    before: Callable[[], object] | None = None,
) -> dict[str, float]:
    """Wall-clock percentiles and CPU of `call`; `before` runs ahead of each call, untimed."""
    for _ in range(warmup):
        if before is not None:
            before()
        await call()
    samples, cpu = [], 0.0
    for _ in range(requests):
        if before is not None:
            before()
        cpu_started, started = time.process_time(), time.perf_counter()
        await call()
        samples.append((time.perf_counter() - started) * 1000)
        cpu += time.process_time() - cpu_started
    return {**percentiles(samples), "cpu_ms_per_call": round(cpu / requests * 1000, 2)}


def _guard_passes() -> Callable[[], object]:
    """The two passes of a cold request: the prompt, then an answer with its prompt."""
    guard = load_guard(bundled_guard_dir())
    prompt = MESSAGES[0]["content"]
    items = [GuardInput(prompt), GuardInput(DEFAULT_REPLY, prompt=prompt)]
    return lambda: [guard.score([item]) for item in items]


async def _measure(base_url: str, requests: int, warmup: int) -> dict[str, dict[str, float]]:
    body = {"model": "fake", "messages": MESSAGES}
    upstream = Upstream(
        GatewayConfig.model_validate(gateway_config(base_url)), environ={"BENCH_KEY": BENCH_KEY}
    )
    async with httpx.AsyncClient() as http, openai.AsyncOpenAI(base_url=base_url, api_key=BENCH_KEY) as sdk:

        async def bare() -> object:
            response = await http.post(f"{base_url}/chat/completions", json=body)
            return response.json()

        async def with_sdk() -> object:
            return await sdk.chat.completions.create(model="fake", messages=MESSAGES)  # type: ignore[arg-type]

        async def gateway() -> object:
            return await upstream.chat("small", {"messages": MESSAGES})

        rows: dict[str, dict[str, float]] = {}
        for name, call, before in (
            ("httpx", bare, None),
            ("openai_sdk", with_sdk, None),
            ("gateway_upstream_litellm", gateway, None),
            ("gateway_upstream_litellm_after_guard", gateway, _guard_passes()),
        ):
            rows[name] = await _time(call, requests, warmup, before)
            print(f"{name}: {rows[name]}", flush=True)
        return rows


def run(requests: int, output: Path | None) -> dict[str, Any]:
    with upstream_process(DEFAULT_REPLY, 0.0) as base_url:
        rows = asyncio.run(_measure(base_url, requests, warmup=max(10, requests // 10)))
    results: dict[str, Any] = {"requests": requests, **rows}
    if output is not None:
        output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return results
