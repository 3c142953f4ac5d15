"""The verdict cache scanners use: in-process LRU first, then Redis when one is configured.

Redis is an optimisation, never a dependency: a slow or failed Redis call counts as a miss,
repeated failures open a circuit breaker so Redis is left alone for a while, and a trial
call after the cool-down closes it again. Scanning then simply runs fresh.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from gateway.cache.breaker import CircuitBreaker
from gateway.cache.memory import MemoryStore
from gateway.cache.metrics import CacheMetrics
from gateway.cache.redisstore import RedisStore

__all__ = ["Verdict", "VerdictCache"]

log = structlog.get_logger(__name__)

Verdict = dict[str, Any]  # scores, labels, span offsets: never the scanned text


class VerdictCache:
    """Two tiers: `memory` always, `redis` when given (behind `breaker`)."""

    def __init__(
        self,
        memory: MemoryStore,
        metrics: CacheMetrics,
        *,
        ttl: float,
        redis: RedisStore | None = None,
        breaker: CircuitBreaker | None = None,
        redis_timeout: float = 0.05,
    ) -> None:
        self._memory = memory
        self._redis = redis
        self._breaker = breaker or CircuitBreaker(failure_threshold=3, reset_after=5.0)
        self._metrics = metrics
        self._ttl = ttl
        self._redis_timeout = redis_timeout
        metrics.circuit_open.set(0)

    async def get(self, key: str) -> Verdict | None:
        """The cached verdict for `key`, from memory or else Redis; None on a miss."""
        started = time.perf_counter()
        raw = self._memory.get(key)
        self._metrics.latency.labels("memory", "get").observe(time.perf_counter() - started)
        self._metrics.lookups.labels("memory", "hit" if raw is not None else "miss").inc()
        if raw is None and self._redis is not None:
            raw = await self._redis_get(key)
            if raw is not None:
                self._memory.set(key, raw, self._ttl)
        return None if raw is None else _decode(key, raw)

    async def put(self, key: str, verdict: Verdict) -> None:
        """Store `verdict` in every tier that is up."""
        raw = json.dumps(verdict, separators=(",", ":")).encode("utf-8")
        self._memory.set(key, raw, self._ttl)
        self._metrics.writes.labels("memory", "ok").inc()
        if self._redis is not None:
            await self._redis_set(key, raw)

    async def get_or_compute(
        self, key: str, compute: Callable[[], Awaitable[Verdict]]
    ) -> tuple[Verdict, bool]:
        """The cached verdict, or a fresh one from `compute` (then cached); and whether it was a hit."""
        cached = await self.get(key)
        if cached is not None:
            return cached, True
        verdict = await compute()
        await self.put(key, verdict)
        return verdict, False

    async def aclose(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()

    async def _redis_get(self, key: str) -> bytes | None:
        assert self._redis is not None
        if not self._breaker.allow():
            self._metrics.lookups.labels("redis", "skipped").inc()
            return None
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self._redis_timeout):
                raw = await self._redis.get(key)
        except Exception as exc:  # noqa: BLE001 -- fail open: Redis trouble is a miss, never a failed request
            self._on_failure("get", exc)
            self._metrics.lookups.labels("redis", "error").inc()
            return None
        self._on_success()
        self._metrics.latency.labels("redis", "get").observe(time.perf_counter() - started)
        self._metrics.lookups.labels("redis", "hit" if raw is not None else "miss").inc()
        return raw

    async def _redis_set(self, key: str, raw: bytes) -> None:
        assert self._redis is not None
        if not self._breaker.allow():
            self._metrics.writes.labels("redis", "skipped").inc()
            return
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self._redis_timeout):
                await self._redis.set(key, raw, self._ttl)
        except Exception as exc:  # noqa: BLE001 -- fail open, as above
            self._on_failure("set", exc)
            self._metrics.writes.labels("redis", "error").inc()
            return
        self._on_success()
        self._metrics.latency.labels("redis", "set").observe(time.perf_counter() - started)
        self._metrics.writes.labels("redis", "ok").inc()

    def _on_failure(self, op: str, exc: BaseException) -> None:
        log.debug("cache.redis_error", op=op, error=type(exc).__name__)
        if self._breaker.record_failure():
            self._metrics.circuit_open.set(1)
            log.warning("cache.redis_circuit_opened", op=op, error=type(exc).__name__)

    def _on_success(self) -> None:
        if self._breaker.record_success():
            self._metrics.circuit_open.set(0)
            log.info("cache.redis_circuit_closed")


def _decode(key: str, raw: bytes) -> Verdict | None:
    """The stored verdict; an entry that is not a JSON object reads as a miss."""
    try:
        verdict = json.loads(raw)
    except ValueError:
        verdict = None
    if not isinstance(verdict, dict):
        log.warning("cache.corrupt_entry", key=key)
        return None
    return verdict
