"""Per-key limits on requests and tokens per minute, counted in Redis so replicas share them.

Counts live in fixed one-minute windows. Without Redis, or while it fails (behind a circuit
breaker), each replica counts on its own: the limits then hold per replica, and no request
fails because of Redis.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import redis.asyncio as redis
import structlog

from gateway.auth import Principal
from gateway.cache.breaker import CircuitBreaker
from gateway.errors import RateLimited

__all__ = ["RateLimiter"]

log = structlog.get_logger(__name__)

WINDOW_SECONDS = 60


class RateLimiter:
    """`admit` before the upstream call, `add_tokens` with the completion's tokens after it."""

    def __init__(
        self, redis_url: str | None, *, timeout: float = 0.05, clock: Callable[[], float] = time.time
    ) -> None:
        self._redis = (
            redis.Redis.from_url(redis_url, socket_timeout=timeout, socket_connect_timeout=timeout)
            if redis_url
            else None
        )
        self._timeout = timeout
        self._clock = clock
        self._breaker = CircuitBreaker(failure_threshold=3, reset_after=5.0)
        self._local: dict[str, int] = {}

    async def admit(self, principal: Principal, prompt_tokens: int) -> None:
        """Count the request and its prompt tokens; raise `RateLimited` over either limit."""
        if not principal.limited:
            return
        now = self._clock()
        window = int(now // WINDOW_SECONDS)
        headers = {"Retry-After": str(max(1, int(WINDOW_SECONDS - now % WINDOW_SECONDS)))}
        if principal.rpm is not None:
            count = await self._add(_key(principal, window, "requests"), 1, window)
            if count > principal.rpm:
                raise RateLimited(
                    f"Rate limit of {principal.rpm} requests per minute reached for key {principal.key_id}.",
                    headers={**headers, "x-ratelimit-limit-requests": str(principal.rpm)},
                )
        if principal.tpm is not None:
            used = await self._add(_key(principal, window, "tokens"), prompt_tokens, window)
            if used > principal.tpm:
                raise RateLimited(
                    f"Rate limit of {principal.tpm} tokens per minute reached for key {principal.key_id}.",
                    headers={**headers, "x-ratelimit-limit-tokens": str(principal.tpm)},
                )

    async def add_tokens(self, principal: Principal, tokens: int) -> None:
        """Count the tokens of a completion against the key's tokens per minute."""
        if principal.tpm is not None and tokens > 0:
            window = int(self._clock() // WINDOW_SECONDS)
            await self._add(_key(principal, window, "tokens"), tokens, window)

    async def aclose(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()

    async def _add(self, key: str, amount: int, window: int) -> int:
        if self._redis is not None and self._breaker.allow():
            try:
                async with asyncio.timeout(self._timeout):
                    pipe = self._redis.pipeline(transaction=True)
                    pipe.incrby(key, amount)
                    pipe.expire(key, WINDOW_SECONDS * 2)
                    count, _ = await pipe.execute()
            except Exception as exc:  # noqa: BLE001 -- fail open to local counting, logged
                if self._breaker.record_failure():
                    log.warning("ratelimit.redis_circuit_opened", error=type(exc).__name__)
            else:
                if self._breaker.record_success():
                    log.info("ratelimit.redis_circuit_closed")
                return int(count)
        return self._add_local(key, amount, window)

    def _add_local(self, key: str, amount: int, window: int) -> int:
        if len(self._local) > 10_000:
            self._local = {k: v for k, v in self._local.items() if int(k.rsplit(":", 2)[1]) >= window}
        self._local[key] = self._local.get(key, 0) + amount
        return self._local[key]


def _key(principal: Principal, window: int, kind: str) -> str:
    return f"shieldgate:ratelimit:{principal.key_id}:{window}:{kind}"
