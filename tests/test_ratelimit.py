"""Per-key limits: requests and tokens per minute, shared through Redis, local when it is down."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest
import respx

from gateway.app import create_app
from gateway.auth import Principal, digest
from gateway.errors import RateLimited
from gateway.ratelimit import RateLimiter
from gateway.settings import Settings
from tests.clock import Clock
from tests.conftest import CLIENT_KEY, SMALL_BASE, UPSTREAM_SECRET, chat_body, config_yaml, upstream_calls
from tests.redisserver import RedisServer
from tests.server import serve_in_thread

NOW = 60 * 16_667 + 20  # 20 s into a one-minute window


@pytest.mark.anyio
async def test_requests_per_minute_with_retry_after() -> None:
    """The request over the limit is refused with the seconds left in the window."""
    clock = Clock(NOW)
    limiter = RateLimiter(None, clock=clock)
    key = Principal("k", "t", rpm=2)
    await limiter.admit(key, 1)
    await limiter.admit(key, 1)
    with pytest.raises(RateLimited) as refused:
        await limiter.admit(key, 1)
    assert refused.value.status_code == 429
    assert refused.value.headers["Retry-After"] == "40"
    clock.now += 40  # the next window
    await limiter.admit(key, 1)


@pytest.mark.anyio
async def test_tokens_per_minute_count_prompt_and_completion() -> None:
    """Prompt tokens count at admission, completion tokens afterwards."""
    limiter = RateLimiter(None, clock=Clock(NOW))
    key = Principal("k", "t", tpm=100)
    await limiter.admit(key, 60)
    await limiter.add_tokens(key, 30)
    with pytest.raises(RateLimited, match="100 tokens per minute"):
        await limiter.admit(key, 20)


@pytest.mark.anyio
async def test_unlimited_keys_are_not_counted() -> None:
    """Keys without limits always pass."""
    limiter = RateLimiter(None, clock=Clock(NOW))
    for _ in range(100):
        await limiter.admit(Principal("k", "t"), 10_000)


@pytest.mark.anyio
async def test_replicas_share_counts_through_redis(redis_server: RedisServer) -> None:
    """Two gateways on one Redis share a key's budget."""
    clock = Clock(NOW)
    first, second = RateLimiter(redis_server.url, clock=clock), RateLimiter(redis_server.url, clock=clock)
    key = Principal("shared", "t", rpm=3)
    await first.admit(key, 1)
    await second.admit(key, 1)
    await first.admit(key, 1)
    with pytest.raises(RateLimited):
        await second.admit(key, 1)
    await first.aclose()
    await second.aclose()


@pytest.mark.anyio
async def test_redis_down_falls_back_to_local_counting(redis_server: RedisServer) -> None:
    """With Redis gone, limits still hold per replica and no request fails for it."""
    limiter = RateLimiter(redis_server.url, clock=Clock(NOW), timeout=0.2)
    key = Principal("k", "t", rpm=5)
    await limiter.admit(key, 1)
    redis_server.kill()
    for _ in range(5):
        await limiter.admit(key, 1)  # counted locally from zero: Redis's count is out of reach
    with pytest.raises(RateLimited):
        await limiter.admit(key, 1)
    await limiter.aclose()


def test_gateway_answers_429_over_the_key_limit(tmp_path: Path, upstream: respx.MockRouter) -> None:
    """A key configured with rpm: 2 gets OpenAI's rate-limit error on its third request."""
    config = tmp_path / "gateway.yaml"
    config.write_text(
        config_yaml().replace(f"sha256: {digest(CLIENT_KEY)}", f"sha256: {digest(CLIENT_KEY)}\n    rpm: 2")
    )
    upstream.post(f"{SMALL_BASE}/chat/completions").respond(json=chat_body("ok"))
    app = create_app(Settings(config=config, audit_stdout=False), environ={"UPSTREAM_KEY": UPSTREAM_SECRET})
    with (
        serve_in_thread(app) as url,
        openai.OpenAI(base_url=f"{url}/v1", api_key=CLIENT_KEY, max_retries=0) as sdk,
    ):
        for _ in range(2):
            sdk.chat.completions.create(model="small", messages=[{"role": "user", "content": "hi"}])
        with pytest.raises(openai.RateLimitError) as limited:
            sdk.chat.completions.create(model="small", messages=[{"role": "user", "content": "hi"}])

    assert limited.value.code == "rate_limit_exceeded"
    assert int(limited.value.response.headers["retry-after"]) >= 1
    assert len(upstream_calls(upstream)) == 2
