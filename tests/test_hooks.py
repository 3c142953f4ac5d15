"""The scan hook points: what a hook returns is what goes upstream and back to the client."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator

import openai
import pytest
import respx

from gateway.app import create_app
from gateway.errors import RequestBlocked
from gateway.hooks import Exchange, PassThrough, Payload
from gateway.settings import Settings
from tests.conftest import (
    CLIENT_KEY,
    PRIMARY_BASE,
    SMALL_BASE,
    UPSTREAM_SECRET,
    chat_body,
    text_stream,
    upstream_calls,
)
from tests.server import serve_in_thread


class Recording(PassThrough):
    """Routes 'secret' prompts to `small`, blocks 'forbidden' ones, shouts in responses."""

    def __init__(self) -> None:
        self.exchanges: list[Exchange] = []

    async def before_upstream(self, exchange: Exchange, request: Payload) -> Payload:
        self.exchanges.append(exchange)
        text = json.dumps(request.get("messages", []))
        if "forbidden" in text:
            raise RequestBlocked("This request was blocked by policy.", code="policy_violation")
        if "secret" in text:
            return {**request, "model": "small"}
        return request

    async def after_upstream(self, exchange: Exchange, request: Payload, response: Payload) -> Payload:
        message = response["choices"][0]["message"]
        message["content"] = message["content"].upper()
        return response

    def on_stream(
        self, exchange: Exchange, request: Payload, chunks: AsyncIterator[Payload]
    ) -> AsyncIterator[Payload]:
        async def shout() -> AsyncIterator[Payload]:
            async for chunk in chunks:
                for choice in chunk.get("choices", []):
                    if choice["delta"].get("content"):
                        choice["delta"]["content"] = choice["delta"]["content"].upper()
                yield chunk

        return shout()


@pytest.fixture
def hooks() -> Recording:
    return Recording()


@pytest.fixture
def hooked_sdk(settings: Settings, hooks: Recording) -> Iterator[openai.OpenAI]:
    app = create_app(settings, hooks=hooks, environ={"UPSTREAM_KEY": UPSTREAM_SECRET})
    with (
        serve_in_thread(app) as url,
        openai.OpenAI(base_url=f"{url}/v1", api_key=CLIENT_KEY, max_retries=0) as sdk,
    ):
        yield sdk


def test_hook_sees_the_exchange_and_can_reroute(
    hooked_sdk: openai.OpenAI, hooks: Recording, upstream: respx.MockRouter
) -> None:
    """A hook's choice of alias decides the deployment; it is told who is calling."""
    small = upstream.post(f"{SMALL_BASE}/chat/completions").respond(json=chat_body("routed"))
    large = upstream.post(f"{PRIMARY_BASE}/chat/completions").respond(json=chat_body("not me"))

    answer = hooked_sdk.chat.completions.create(
        model="large", messages=[{"role": "user", "content": "my secret"}]
    )

    assert answer.choices[0].message.content == "ROUTED"
    assert small.call_count == 1
    assert large.call_count == 0
    exchange = hooks.exchanges[0]
    assert (exchange.endpoint, exchange.tenant, exchange.key_id, exchange.model, exchange.stream) == (
        "chat.completions",
        "acme",
        "team-a",
        "large",
        False,
    )


def test_hook_can_block_before_upstream(hooked_sdk: openai.OpenAI, upstream: respx.MockRouter) -> None:
    """A hook raising RequestBlocked stops the request with its stable code; nothing goes upstream."""
    with pytest.raises(openai.BadRequestError) as blocked:
        hooked_sdk.chat.completions.create(model="small", messages=[{"role": "user", "content": "forbidden"}])

    assert blocked.value.code == "policy_violation"
    assert upstream_calls(upstream) == []


def test_hook_transforms_stream_chunks(hooked_sdk: openai.OpenAI, upstream: respx.MockRouter) -> None:
    """The stream hook sees every chunk before the client does."""
    upstream.post(f"{SMALL_BASE}/chat/completions").respond(
        text=text_stream("quiet ", "words"), headers={"content-type": "text/event-stream"}
    )

    stream = hooked_sdk.chat.completions.create(
        model="small", messages=[{"role": "user", "content": "hi"}], stream=True
    )

    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "QUIET WORDS"
