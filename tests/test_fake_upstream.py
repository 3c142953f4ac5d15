"""The fake upstream the benchmarks run against: a model's wait before it answers."""

from __future__ import annotations

import time

import httpx
import pytest

from gateway.fake_upstream import create_fake_upstream

BODY = {"model": "fake", "messages": [{"role": "user", "content": "Hi"}]}


def _client(delay: float = 0.0) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_fake_upstream(delay=delay))
    return httpx.AsyncClient(transport=transport, base_url="http://fake")


@pytest.mark.anyio
async def test_a_delay_holds_every_chat_answer_back() -> None:
    async with _client(delay=0.2) as client:
        for stream in (False, True):
            started = time.perf_counter()
            response = await client.post("/v1/chat/completions", json={**BODY, "stream": stream})
            assert response.status_code == 200
            assert time.perf_counter() - started >= 0.2
    async with _client() as client:
        answer = (await client.post("/v1/chat/completions", json=BODY)).json()
    assert answer["choices"][0]["message"]["content"] == "Hello from the fake upstream."
