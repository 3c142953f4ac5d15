"""The OpenAI endpoints, driven by the official OpenAI SDK against respx upstreams."""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import AsyncIterator

import httpx
import openai
import pytest
import respx

from tests.conftest import (
    FALLBACK_BASE,
    PRIMARY_BASE,
    SMALL_BASE,
    UPSTREAM_SECRET,
    chat_body,
    chunk,
    sse,
    text_stream,
    upstream_calls,
)


def test_chat_completion_round_trip(sdk: openai.OpenAI, upstream: respx.MockRouter) -> None:
    """A chat completion reaches the alias's deployment with the provider key and comes back."""
    route = upstream.post(f"{SMALL_BASE}/chat/completions").respond(json=chat_body("Hi there"))

    answer = sdk.chat.completions.create(model="small", messages=[{"role": "user", "content": "Hello"}])

    assert answer.choices[0].message.content == "Hi there"
    assert answer.choices[0].finish_reason == "stop"
    assert answer.usage is not None
    assert answer.usage.total_tokens == 5
    sent = route.calls.last.request
    assert sent.headers["authorization"] == f"Bearer {UPSTREAM_SECRET}"
    body = json.loads(sent.content)
    assert body["model"] == "small-model"
    assert body["messages"] == [{"role": "user", "content": "Hello"}]


def test_chat_completion_streams(sdk: openai.OpenAI, upstream: respx.MockRouter) -> None:
    """A streamed chat completion arrives chunk by chunk with its finish reason."""
    upstream.post(f"{SMALL_BASE}/chat/completions").respond(
        text=text_stream("Hel", "lo ", "world"), headers={"content-type": "text/event-stream"}
    )

    stream = sdk.chat.completions.create(
        model="small", messages=[{"role": "user", "content": "Hi"}], stream=True
    )
    chunks = list(stream)

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello world"
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_tool_call_round_trip(sdk: openai.OpenAI, upstream: respx.MockRouter) -> None:
    """Tools go up untouched, a tool call comes back, and the tool result is passed on."""
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather for a city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ]
    tool_call = {
        "id": "call_9",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
    }
    route = upstream.post(f"{SMALL_BASE}/chat/completions")
    route.side_effect = [
        httpx.Response(200, json=chat_body(None, tool_calls=[tool_call])),  # type: ignore[arg-type]
        httpx.Response(200, json=chat_body("It is 3 degrees in Oslo.")),
    ]
    messages: list[dict[str, object]] = [{"role": "user", "content": "Weather in Oslo?"}]

    first = sdk.chat.completions.create(model="small", messages=messages, tools=tools, tool_choice="auto")  # type: ignore[arg-type]
    call = first.choices[0].message.tool_calls
    assert call is not None
    assert call[0].function.name == "get_weather"
    assert first.choices[0].finish_reason == "tool_calls"
    messages += [
        {"role": "assistant", "content": None, "tool_calls": [tool_call]},
        {"role": "tool", "tool_call_id": "call_9", "content": '{"celsius": 3}'},
    ]
    second = sdk.chat.completions.create(model="small", messages=messages, tools=tools)  # type: ignore[arg-type]

    assert second.choices[0].message.content == "It is 3 degrees in Oslo."
    first_sent = json.loads(route.calls[0].request.content)
    assert first_sent["tools"] == tools
    assert first_sent["tool_choice"] == "auto"
    second_sent = json.loads(route.calls[1].request.content)
    assert second_sent["messages"][1]["tool_calls"] == [tool_call]
    assert second_sent["messages"][2] == {
        "role": "tool",
        "tool_call_id": "call_9",
        "content": '{"celsius": 3}',
    }


def test_streamed_tool_call_arguments_pass_through(sdk: openai.OpenAI, upstream: respx.MockRouter) -> None:
    """Tool-call deltas in a stream reach the client and reassemble to the full arguments."""
    call = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": ""}}
    upstream.post(f"{SMALL_BASE}/chat/completions").respond(
        text=sse(
            [
                chunk({"role": "assistant", "content": None, "tool_calls": [call]}),
                chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"a":'}}]}),
                chunk({"tool_calls": [{"index": 0, "function": {"arguments": " 1}"}}]}),
                chunk({}, "tool_calls"),
            ]
        ),
        headers={"content-type": "text/event-stream"},
    )

    stream = sdk.chat.completions.create(
        model="small", messages=[{"role": "user", "content": "x"}], stream=True
    )
    chunks = list(stream)

    arguments = "".join(
        tc.function.arguments or ""
        for c in chunks
        if c.choices
        for tc in c.choices[0].delta.tool_calls or []
        if tc.function is not None
    )
    assert arguments == '{"a": 1}'
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_text_completion(sdk: openai.OpenAI, upstream: respx.MockRouter) -> None:
    """The legacy completions endpoint proxies to the alias's deployment."""
    upstream.post(f"{SMALL_BASE}/completions").respond(
        json={
            "id": "cmpl-1",
            "object": "text_completion",
            "created": 1,
            "model": "small-model",
            "choices": [{"index": 0, "text": " world", "finish_reason": "stop", "logprobs": None}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }
    )

    answer = sdk.completions.create(model="small", prompt="Hello")

    assert answer.choices[0].text == " world"


def test_embeddings(sdk: openai.OpenAI, upstream: respx.MockRouter) -> None:
    """Embeddings come back in OpenAI's list shape."""
    route = upstream.post(f"{SMALL_BASE}/embeddings").respond(
        json={
            "object": "list",
            "data": [{"object": "embedding", "index": 0, "embedding": [0.25, -0.5]}],
            "model": "small-model",
            "usage": {"prompt_tokens": 2, "total_tokens": 2},
        }
    )

    answer = sdk.embeddings.create(model="small", input="some text", encoding_format="float")

    assert answer.data[0].embedding == [0.25, -0.5]
    assert json.loads(route.calls.last.request.content)["input"] == "some text"


def test_embeddings_with_sdk_default_encoding(sdk: openai.OpenAI, upstream: respx.MockRouter) -> None:
    """The SDK's default base64 encoding round-trips to floats."""
    encoded = base64.b64encode(struct.pack("<2f", 0.25, -0.5)).decode()
    route = upstream.post(f"{SMALL_BASE}/embeddings").respond(
        json={
            "object": "list",
            "data": [{"object": "embedding", "index": 0, "embedding": encoded}],
            "model": "small-model",
            "usage": {"prompt_tokens": 2, "total_tokens": 2},
        }
    )

    answer = sdk.embeddings.create(model="small", input=["a", "b"])

    assert answer.data[0].embedding == [0.25, -0.5]
    assert json.loads(route.calls.last.request.content)["encoding_format"] == "base64"


def test_fallback_to_second_deployment_on_500(sdk: openai.OpenAI, upstream: respx.MockRouter) -> None:
    """When the first deployment answers 500, the second one serves the request."""
    primary = upstream.post(f"{PRIMARY_BASE}/chat/completions").respond(
        500, json={"error": {"message": "boom"}}
    )
    fallback = upstream.post(f"{FALLBACK_BASE}/chat/completions").respond(json=chat_body("from fallback"))

    answer = sdk.chat.completions.create(model="large", messages=[{"role": "user", "content": "Hi"}])

    assert answer.choices[0].message.content == "from fallback"
    assert primary.call_count == 1
    assert json.loads(fallback.calls.last.request.content)["model"] == "large-fallback"


def test_stream_falls_back_before_first_chunk(sdk: openai.OpenAI, upstream: respx.MockRouter) -> None:
    """A stream whose first deployment fails to open is served by the fallback."""
    upstream.post(f"{PRIMARY_BASE}/chat/completions").respond(503, json={"error": {"message": "down"}})
    upstream.post(f"{FALLBACK_BASE}/chat/completions").respond(
        text=text_stream("ok"), headers={"content-type": "text/event-stream"}
    )

    stream = sdk.chat.completions.create(
        model="large", messages=[{"role": "user", "content": "Hi"}], stream=True
    )

    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "ok"


@pytest.mark.parametrize(
    ("upstream_status", "client_status", "code"),
    [
        (500, 502, "upstream_error"),
        (503, 502, "upstream_error"),
        (429, 429, "rate_limit_exceeded"),
        (400, 400, "upstream_bad_request"),
        (401, 502, "upstream_error"),
    ],
)
def test_upstream_status_is_translated(
    client: httpx.Client, upstream: respx.MockRouter, upstream_status: int, client_status: int, code: str
) -> None:
    """Upstream failures reach the client with the documented status and a stable code."""
    upstream.post(f"{SMALL_BASE}/chat/completions").respond(
        upstream_status,
        json={"error": {"message": "upstream says no", "type": "x"}},
        headers={"retry-after": "7"},
    )

    response = client.post(
        "/v1/chat/completions", json={"model": "small", "messages": [{"role": "user", "content": "Hi"}]}
    )

    assert response.status_code == client_status
    error = response.json()["error"]
    assert error["code"] == code
    assert UPSTREAM_SECRET not in response.text
    if client_status == 429:
        assert response.headers["retry-after"] == "7"


def test_upstream_timeout_is_504(client: httpx.Client, upstream: respx.MockRouter) -> None:
    """An upstream that times out answers 504 upstream_timeout."""
    upstream.post(f"{SMALL_BASE}/chat/completions").mock(side_effect=httpx.ReadTimeout("slow"))

    response = client.post(
        "/v1/chat/completions", json={"model": "small", "messages": [{"role": "user", "content": "Hi"}]}
    )

    assert response.status_code == 504
    assert response.json()["error"]["code"] == "upstream_timeout"


def test_upstream_unreachable_is_502(client: httpx.Client, upstream: respx.MockRouter) -> None:
    """An upstream that refuses connections answers 502."""
    upstream.post(f"{SMALL_BASE}/chat/completions").mock(side_effect=httpx.ConnectError("refused"))

    response = client.post(
        "/v1/chat/completions", json={"model": "small", "messages": [{"role": "user", "content": "Hi"}]}
    )

    assert response.status_code == 502
    assert response.json()["error"]["type"] == "upstream_error"


def test_sdk_raises_typed_errors(sdk: openai.OpenAI, upstream: respx.MockRouter) -> None:
    """The SDK maps the gateway's errors to its own exception classes."""
    with pytest.raises(openai.NotFoundError) as not_found:
        sdk.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "Hi"}])
    assert not_found.value.code == "model_not_found"

    bad_key = sdk.with_options(api_key="sg-wrong")
    with pytest.raises(openai.AuthenticationError):
        bad_key.chat.completions.create(model="small", messages=[{"role": "user", "content": "Hi"}])


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (b"{not json", None),
        (b"[1, 2]", None),
        (b'{"messages": [{"role": "user", "content": "x"}]}', "model"),
        (b'{"model": "small"}', "messages"),
        (b'{"model": "small", "messages": []}', "messages"),
        (b'{"model": "small", "messages": [{"role": "wizard", "content": "x"}]}', "messages.0.role"),
        (
            b'{"model": "small", "messages": [{"role": "user", "content": "x"}], "api_base": "http://evil"}',
            "api_base",
        ),
        (
            b'{"model": "small", "messages": [{"role": "user", "content": "x"}], "temperature": "hot"}',
            "temperature",
        ),
    ],
)
def test_malformed_requests_are_400(
    client: httpx.Client, upstream: respx.MockRouter, body: bytes, param: str | None
) -> None:
    """Bad JSON, schema violations and non-OpenAI arguments are refused before any upstream call."""
    response = client.post("/v1/chat/completions", content=body, headers={"content-type": "application/json"})

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert upstream_calls(upstream) == []


def test_embedding_and_completion_schemas_are_checked(client: httpx.Client) -> None:
    """The other endpoints validate their own required fields."""
    assert client.post("/v1/embeddings", json={"model": "small"}).json()["error"]["param"] == "input"
    assert client.post("/v1/completions", json={"model": "small"}).json()["error"]["param"] == "prompt"


def test_unknown_route_is_openai_shaped_404(client: httpx.Client) -> None:
    """Even a wrong URL answers in OpenAI's error shape."""
    response = client.get("/v1/nothing-here")

    assert response.status_code == 404
    assert response.json()["error"]["message"] == "Unknown request URL."


class _BreaksMidStream(httpx.AsyncByteStream):
    """An upstream body that sends two chunks, then loses the connection."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield (
            sse([chunk({"role": "assistant", "content": ""}), chunk({"content": "partial"})])
            .removesuffix("data: [DONE]\n\n")
            .encode()
        )
        raise httpx.ReadError("connection lost")


def test_upstream_failure_mid_stream_ends_with_error_event(
    sdk: openai.OpenAI, upstream: respx.MockRouter
) -> None:
    """Chunks already received reach the client, then an OpenAI-shaped error event ends the stream."""
    upstream.post(f"{SMALL_BASE}/chat/completions").respond(
        stream=_BreaksMidStream(), headers={"content-type": "text/event-stream"}
    )
    received: list[str] = []

    def read_all() -> None:
        stream = sdk.chat.completions.create(
            model="small", messages=[{"role": "user", "content": "Hi"}], stream=True
        )
        received.extend(part.choices[0].delta.content or "" for part in stream)

    with pytest.raises(openai.APIError) as failed:
        read_all()

    assert "".join(received) == "partial"
    assert failed.value.code == "upstream_error"
