"""What one upstream call costs the gateway's process, by client stack, against the fake upstream.

Sequential non-streamed chat completions from this process to the fake upstream (a separate
process on loopback): a bare httpx POST, the openai SDK, and the gateway's own `Upstream`
(litellm, as every request uses it). Each row gives the wall-clock p50/p99 of a call and the
CPU this process spent per call, which is what a request's upstream leg adds to the gateway's
cores. The floor for the last row is the SDK row: litellm calls the openai SDK underneath.
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
from gateway.bench.processes import upstream_process
from gateway.config import GatewayConfig
from gateway.fake_upstream import DEFAULT_REPLY
from gateway.upstream import Upstream

__all__ = ["run"]

MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]


async def _time(call: Callable[[], Awaitable[object]], requests: int, warmup: int) -> dict[str, float]:
    for _ in range(warmup):
        await call()
    samples = []
    cpu = time.process_time()
    for _ in range(requests):
        started = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - started) * 1000)
    return {
        **percentiles(samples),
        "cpu_ms_per_call": round((time.process_time() - cpu) / requests * 1000, 2),
    }


async def _measure(base_url: str, requests: int, warmup: int) -> dict[str, dict[str, float]]:
    body = {"model": "fake", "messages": MESSAGES}
    config = GatewayConfig.model_validate(
        {
            "models": {
                "small": {
                    "deployments": [
                        {"model": "openai/fake", "api_base": base_url, "api_key_env": "BENCH_KEY"}
                    ]
                }
            },
            "auth": {"required": False},
        }
    )
    upstream = Upstream(config, environ={"BENCH_KEY": "sk-bench"})
    async with httpx.AsyncClient() as http, openai.AsyncOpenAI(base_url=base_url, api_key="sk-bench") as sdk:

        async def bare() -> object:
            response = await http.post(f"{base_url}/chat/completions", json=body)
            return response.json()

        async def with_sdk() -> object:
            return await sdk.chat.completions.create(model="fake", messages=MESSAGES)  # type: ignore[arg-type]

        async def gateway() -> object:
            return await upstream.chat("small", {"messages": MESSAGES})

        rows: dict[str, dict[str, float]] = {}
        for name, call in (("httpx", bare), ("openai_sdk", with_sdk), ("gateway_upstream_litellm", gateway)):
            rows[name] = await _time(call, requests, warmup)
            print(f"{name}: {rows[name]}", flush=True)
        return rows


def run(requests: int, output: Path | None) -> dict[str, Any]:
    with upstream_process(DEFAULT_REPLY, 0.0) as base_url:
        rows = asyncio.run(_measure(base_url, requests, warmup=max(10, requests // 10)))
    results: dict[str, Any] = {"requests": requests, **rows}
    if output is not None:
        output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return results
