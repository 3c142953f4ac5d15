"""Shared fixtures: a gateway app on a test config, and respx standing in for the upstreams."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import httpx
import openai
import pytest
import respx
from fastapi import FastAPI

from gateway.app import create_app
from gateway.auth import digest
from gateway.bench.processes import BENCH_KEY, gateway_config
from gateway.config import GatewayConfig
from gateway.settings import Settings
from gateway.upstream import Upstream
from tests.redisserver import RedisServer
from tests.server import serve_in_thread

CLIENT_KEY = "sg-test-client-key"
OTHER_KEY = "sg-test-other-key"
UPSTREAM_SECRET = "sk-upstream-secret-never-shown"
SMALL_BASE = "http://small.upstream.test/v1"
PRIMARY_BASE = "http://primary.upstream.test/v1"
FALLBACK_BASE = "http://fallback.upstream.test/v1"


def config_yaml() -> str:
    return f"""
models:
  small:
    deployments:
      - model: openai/small-model
        api_base: {SMALL_BASE}
        api_key_env: UPSTREAM_KEY
  large:
    deployments:
      - model: openai/large-model
        api_base: {PRIMARY_BASE}
        api_key_env: UPSTREAM_KEY
      - model: openai/large-fallback
        api_base: {FALLBACK_BASE}
        api_key_env: UPSTREAM_KEY
keys:
  - id: team-a
    tenant: acme
    sha256: {digest(CLIENT_KEY)}
  - id: team-b
    tenant: globex
    sha256: {digest(OTHER_KEY)}
upstream:
  timeout: 5
"""


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    path = tmp_path / "gateway.yaml"
    path.write_text(config_yaml())
    return path


@pytest.fixture
def settings(config_path: Path) -> Settings:
    # A test process starts hundreds of gateways: freezing its heap at each start costs a full
    # collection every time (tests/test_heap.py starts gateways that freeze it).
    return Settings(config=config_path, max_body_bytes=64 * 1024, audit_stdout=False, gc_freeze=False)


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings, environ={"UPSTREAM_KEY": UPSTREAM_SECRET})


@pytest.fixture
def gateway_url(app: FastAPI) -> Iterator[str]:
    """The gateway served by uvicorn on a loopback port."""
    with serve_in_thread(app) as url:
        yield url


@pytest.fixture
def client(gateway_url: str) -> Iterator[httpx.Client]:
    """A plain HTTP client holding a valid gateway key."""
    with httpx.Client(base_url=gateway_url, headers={"Authorization": f"Bearer {CLIENT_KEY}"}) as http:
        yield http


@pytest.fixture
def sdk(gateway_url: str) -> Iterator[openai.OpenAI]:
    """The official OpenAI SDK pointed at the gateway."""
    with openai.OpenAI(base_url=f"{gateway_url}/v1", api_key=CLIENT_KEY, max_retries=0) as sdk_client:
        yield sdk_client


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A real Redis server for this test only."""
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def upstream() -> Iterator[respx.MockRouter]:
    """Fakes every upstream; an upstream call no route expects fails the request.

    Calls to loopback (the gateway under test) go through for real.
    """
    with respx.mock(assert_all_called=False) as router:
        router.route(host="127.0.0.1").pass_through()
        yield router


def chat_body(content: str = "Hello!", model: str = "small-model", **message: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, **message},
                "finish_reason": "tool_calls" if message.get("tool_calls") else "stop",
                "logprobs": None,
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }


def chunk(delta: dict[str, Any], finish: str | None = None, model: str = "small-model") -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def sse(chunks: list[dict[str, Any]]) -> str:
    """An upstream's streamed answer: one event per chunk, then [DONE]."""
    return "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"


def text_stream(*pieces: str) -> str:
    """A streamed assistant answer made of `pieces`."""
    chunks = [chunk({"role": "assistant", "content": ""})]
    chunks += [chunk({"content": piece}) for piece in pieces]
    return sse([*chunks, chunk({}, "stop")])


def upstream_for(api_base: str) -> Upstream:
    """The gateway's `Upstream` with one alias, `small`, for the OpenAI-compatible `api_base`."""
    return Upstream(GatewayConfig.model_validate(gateway_config(api_base)), environ={"BENCH_KEY": BENCH_KEY})


def upstream_calls(router: respx.MockRouter) -> list[httpx.Request]:
    """Requests that went to a faked upstream (not to the gateway on loopback)."""
    return [call.request for call in router.calls if call.request.url.host != "127.0.0.1"]
