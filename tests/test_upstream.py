"""The gateway's litellm calls: litellm's own bookkeeping runs only when something would read it."""

from __future__ import annotations

import asyncio
from typing import Any

import litellm
import pytest
import respx
from litellm.integrations.custom_logger import CustomLogger

from gateway import upstream as upstream_module
from gateway.config import GatewayConfig
from gateway.upstream import Upstream
from tests.conftest import SMALL_BASE, chat_body, text_stream

MESSAGES = [{"role": "user", "content": "Hi"}]


class _Recorder(CustomLogger):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self.costs: list[Any] = []

    async def async_log_success_event(
        self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        self.costs.append(kwargs.get("response_cost"))


@pytest.fixture
def gateway_upstream() -> Upstream:
    config = GatewayConfig.model_validate(
        {
            "models": {
                "small": {
                    "deployments": [
                        {"model": "openai/small-model", "api_base": SMALL_BASE, "api_key_env": "KEY"}
                    ]
                }
            },
            "auth": {"required": False},
        }
    )
    return Upstream(config, environ={"KEY": "sk-test"})


@pytest.fixture
def hooks_seen(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What litellm's two hooks did: "asked" each time litellm called one of them (so a litellm
    that stops calling them by these names fails), then the name of litellm's own function when
    the hook went on to it."""
    seen: list[str] = []
    original_schedule = upstream_module._LITELLM_SCHEDULE_SUCCESS_LOGGING
    original_metadata = upstream_module._LITELLM_UPDATE_RESPONSE_METADATA

    def schedule(**kwargs: Any) -> None:
        seen.append("schedule")
        original_schedule(**kwargs)

    def metadata(**kwargs: Any) -> None:
        seen.append("metadata")
        original_metadata(**kwargs)

    monkeypatch.setattr(upstream_module, "_LITELLM_SCHEDULE_SUCCESS_LOGGING", schedule)
    monkeypatch.setattr(upstream_module, "_LITELLM_UPDATE_RESPONSE_METADATA", metadata)
    checked = upstream_module._has_success_callbacks

    def asking() -> bool:
        seen.append("asked")
        return checked()

    monkeypatch.setattr(upstream_module, "_has_success_callbacks", asking)
    return seen


def test_a_call_without_litellm_callbacks_skips_pricing_and_success_logging(
    gateway_upstream: Upstream, upstream: respx.MockRouter, hooks_seen: list[str]
) -> None:
    upstream.post(f"{SMALL_BASE}/chat/completions").respond(json=chat_body("Hello there"))
    response = asyncio.run(gateway_upstream.chat("small", {"messages": MESSAGES}))
    assert response["choices"][0]["message"]["content"] == "Hello there"
    assert response["usage"]["total_tokens"] == 5
    assert hooks_seen == ["asked", "asked"]


def test_a_registered_litellm_callback_still_gets_priced_success_events(
    gateway_upstream: Upstream,
    upstream: respx.MockRouter,
    hooks_seen: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recorder = _Recorder()
    monkeypatch.setattr(litellm, "callbacks", [recorder])
    upstream.post(f"{SMALL_BASE}/chat/completions").respond(json=chat_body("Hello there"))

    async def call_and_let_logging_run() -> dict[str, Any]:
        response = await gateway_upstream.chat("small", {"messages": MESSAGES})
        for _ in range(50):
            if recorder.costs:
                break
            await asyncio.sleep(0.01)
        return response

    response = asyncio.run(call_and_let_logging_run())
    assert response["choices"][0]["message"]["content"] == "Hello there"
    assert hooks_seen == ["asked", "metadata", "asked", "schedule"]
    assert len(recorder.costs) == 1


def test_a_stream_keeps_its_metadata_and_streams_whole(
    gateway_upstream: Upstream, upstream: respx.MockRouter, hooks_seen: list[str]
) -> None:
    upstream.post(f"{SMALL_BASE}/chat/completions").respond(
        content=text_stream("Hel", "lo"), headers={"content-type": "text/event-stream"}
    )

    async def read() -> list[dict[str, Any]]:
        stream = await gateway_upstream.chat_stream("small", {"messages": MESSAGES})
        return [chunk async for chunk in stream]

    chunks = asyncio.run(read())
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "Hello"
    assert hooks_seen == ["asked", "metadata"]  # litellm logs a stream from its wrapper, at its end
