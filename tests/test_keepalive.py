"""A streamed answer read to its [DONE] leaves its connection for the next call; one closed
early does not wait for the rest."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator

import httpx
import openai
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

from gateway.keepalive import KeepAliveClient
from tests.conftest import chunk, upstream_for
from tests.server import serve_in_thread

MESSAGES = [{"role": "user", "content": "Hi"}]


def _streaming_upstream(ports: list[int]) -> Starlette:
    """Streams "Hello" in two chunks, or 200 chunks 10 ms apart when asked for "long"; records
    the client port of each request (one port, one connection)."""

    async def chat(request: Request) -> StreamingResponse:
        body = await request.json()
        assert request.client is not None
        ports.append(request.client.port)
        long = body["messages"][0]["content"] == "long"

        async def events() -> AsyncIterator[str]:
            for piece in ["word "] * 200 if long else ["Hel", "lo"]:
                yield f"data: {json.dumps(chunk({'content': piece}))}\n\n"
                if long:
                    await asyncio.sleep(0.01)
            yield f"data: {json.dumps(chunk({}, 'stop'))}\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])


@pytest.fixture
def upstream_ports() -> Iterator[tuple[str, list[int]]]:
    ports: list[int] = []
    with serve_in_thread(_streaming_upstream(ports)) as url:
        yield f"{url}/v1", ports


async def _stream_twice(base_url: str, http_client: httpx.AsyncClient, first: str = "Hi") -> str:
    async with openai.AsyncOpenAI(base_url=base_url, api_key="sk-test", http_client=http_client) as sdk:
        text = ""
        for content in (first, "Hi"):
            stream = await sdk.chat.completions.create(
                model="m", messages=[{"role": "user", "content": content}], stream=True
            )
            async for event in stream:
                text += event.choices[0].delta.content or ""
                if content == "long":
                    break  # a client that goes away mid-answer
            await stream.close()
        return text


def test_a_stream_read_to_done_leaves_its_connection_for_the_next(
    upstream_ports: tuple[str, list[int]],
) -> None:
    base_url, ports = upstream_ports
    text = asyncio.run(_stream_twice(base_url, KeepAliveClient()))
    assert text == "HelloHello"
    assert len(ports) == 2
    assert ports[0] == ports[1]


def test_without_it_the_sdk_opens_a_connection_per_stream(upstream_ports: tuple[str, list[int]]) -> None:
    """What KeepAliveClient is for: the SDK's own client drops the connection after [DONE]."""
    base_url, ports = upstream_ports
    asyncio.run(_stream_twice(base_url, openai.DefaultAsyncHttpxClient()))
    assert len(ports) == 2
    assert ports[0] != ports[1]


def test_a_stream_closed_before_its_end_is_dropped_at_once(upstream_ports: tuple[str, list[int]]) -> None:
    base_url, ports = upstream_ports

    async def timed() -> tuple[str, float]:
        loop = asyncio.get_running_loop()
        started = loop.time()
        text = await _stream_twice(base_url, KeepAliveClient(), first="long")
        return text, loop.time() - started

    text, seconds = asyncio.run(timed())
    assert text == "word Hello"
    assert ports[0] != ports[1]  # not waited for: the 2-second answer was cut off
    assert seconds < 1.5


def test_the_gateways_streamed_upstream_calls_share_one_connection(
    upstream_ports: tuple[str, list[int]],
) -> None:
    base_url, ports = upstream_ports
    upstream = upstream_for(base_url)

    async def twice() -> str:
        text = ""
        for _ in range(2):
            stream = await upstream.chat_stream("small", {"messages": MESSAGES})
            async for piece in stream:
                text += piece["choices"][0]["delta"].get("content") or "" if piece["choices"] else ""
        return text

    assert asyncio.run(twice()) == "HelloHello"
    assert len(ports) == 2
    assert ports[0] == ports[1]
