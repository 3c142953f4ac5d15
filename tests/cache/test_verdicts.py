"""The two-tier verdict cache against a real Redis server, including Redis failing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest
import redis.asyncio as redis
import structlog
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from gateway.cache import (
    CacheMetrics,
    CircuitBreaker,
    MemoryStore,
    RedisStore,
    Verdict,
    VerdictCache,
    verdict_key,
)
from tests.redisserver import RedisServer

pytestmark = pytest.mark.anyio

VERDICT: Verdict = {"unsafe": 0.91, "harm": {"violence_and_weapons": 0.88}, "spans": [[3, 8, "person", 0.97]]}


def _cache(
    server: RedisServer | None, registry: CollectorRegistry, *, ttl: float = 60, reset_after: float = 5
) -> VerdictCache:
    return VerdictCache(
        MemoryStore(1000),
        CacheMetrics(registry),
        ttl=ttl,
        redis=RedisStore(server.url, timeout=0.2) if server else None,
        breaker=CircuitBreaker(failure_threshold=3, reset_after=reset_after),
        redis_timeout=0.2,
    )


def _sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


class Scanner:
    """Counts how often the expensive computation really runs."""

    def __init__(self) -> None:
        self.runs = 0

    def compute(self, verdict: Verdict = VERDICT) -> Callable[[], Awaitable[Verdict]]:
        async def run() -> Verdict:
            self.runs += 1
            return verdict

        return run


async def test_memory_only_cache_computes_once() -> None:
    """Without Redis the in-process tier serves repeats, and counts hits and misses."""
    registry = CollectorRegistry()
    cache = _cache(None, registry)
    scanner = Scanner()
    key = verdict_key("guard", "1", "hello")

    first = await cache.get_or_compute(key, scanner.compute())
    second = await cache.get_or_compute(key, scanner.compute())

    assert first == (VERDICT, False)
    assert second == (VERDICT, True)
    assert scanner.runs == 1
    assert _sample(registry, "shieldgate_verdict_cache_lookups_total", tier="memory", result="hit") == 1
    assert _sample(registry, "shieldgate_verdict_cache_lookups_total", tier="memory", result="miss") == 1


async def test_replicas_share_verdicts_through_redis(redis_server: RedisServer) -> None:
    """A verdict computed by one replica is a hit for another replica's empty memory."""
    registry_a, registry_b = CollectorRegistry(), CollectorRegistry()
    replica_a, replica_b = _cache(redis_server, registry_a), _cache(redis_server, registry_b)
    scanner = Scanner()
    key = verdict_key("pii", "1", "call Alice", ["person"])

    await replica_a.get_or_compute(key, scanner.compute())
    verdict, hit = await replica_b.get_or_compute(key, scanner.compute())

    assert (verdict, hit) == (VERDICT, True)
    assert scanner.runs == 1
    assert _sample(registry_b, "shieldgate_verdict_cache_lookups_total", tier="redis", result="hit") == 1
    await replica_a.aclose()
    await replica_b.aclose()


async def test_redis_stores_no_text_and_honours_ttl(redis_server: RedisServer) -> None:
    """Only the verdict is stored, under a hashed key, and it expires after the TTL."""
    cache = _cache(redis_server, CollectorRegistry(), ttl=0.3)
    text = "my card is 4111 1111 1111 1111"
    key = verdict_key("pii", "1", text)
    await cache.put(key, VERDICT)
    raw = redis.Redis.from_url(redis_server.url)

    stored = await raw.get(key)
    keys = await raw.keys("*")
    assert stored is not None
    assert b"4111" not in stored
    assert all(b"4111" not in k for k in keys)
    await asyncio.sleep(0.4)
    assert await raw.get(key) is None
    fresh = _cache(redis_server, CollectorRegistry())
    assert await fresh.get(key) is None
    await fresh.aclose()
    await raw.aclose()
    await cache.aclose()


async def test_new_model_version_never_reads_old_verdicts(redis_server: RedisServer) -> None:
    """Bumping the model version makes the same text a miss."""
    cache = _cache(redis_server, CollectorRegistry())
    scanner = Scanner()
    await cache.get_or_compute(verdict_key("guard", "1.0", "same text"), scanner.compute())

    _, hit = await cache.get_or_compute(verdict_key("guard", "1.1", "same text"), scanner.compute())

    assert not hit
    assert scanner.runs == 2
    await cache.aclose()


async def test_corrupt_entry_reads_as_a_miss(redis_server: RedisServer) -> None:
    """Garbage under a verdict key is ignored and logged, not raised."""
    key = verdict_key("guard", "1", "x")
    raw = redis.Redis.from_url(redis_server.url)
    await raw.set(key, b"not json")
    cache = _cache(redis_server, CollectorRegistry())

    with capture_logs() as logs:
        assert await cache.get(key) is None

    assert [entry["event"] for entry in logs] == ["cache.corrupt_entry"]
    await raw.aclose()
    await cache.aclose()


async def test_hung_redis_costs_at_most_the_timeout(redis_server: RedisServer) -> None:
    """While Redis hangs, a lookup gives up after its timeout and the scan runs fresh."""
    cache = _cache(redis_server, CollectorRegistry())
    scanner = Scanner()
    blocker = redis.Redis.from_url(redis_server.url)
    hang = asyncio.create_task(blocker.execute_command("DEBUG", "SLEEP", "2"))
    await asyncio.sleep(0.1)

    started = time.monotonic()
    verdict, hit = await cache.get_or_compute(verdict_key("guard", "1", "y"), scanner.compute())
    elapsed = time.monotonic() - started

    assert (verdict, hit) == (VERDICT, False)
    assert elapsed < 1.5  # two 0.2 s timeouts (get, set), far below the 2 s hang
    await hang
    await blocker.aclose()
    await cache.aclose()


async def test_redis_killed_and_restarted_under_traffic(redis_server: RedisServer) -> None:
    """Requests never fail while Redis dies; the breaker opens, then closes once Redis is back."""
    registry = CollectorRegistry()
    cache = _cache(redis_server, registry, reset_after=0.3)
    scanner = Scanner()
    failures: list[BaseException] = []
    served = 0

    async def traffic(phase: str, count: int) -> None:
        nonlocal served
        for i in range(count):
            try:
                await cache.get_or_compute(verdict_key("guard", "1", f"{phase}-{i}"), scanner.compute())
                served += 1
            except Exception as exc:  # noqa: BLE001 -- the property under test: nothing escapes
                failures.append(exc)
            await asyncio.sleep(0.005)

    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        await traffic("before", 20)
        redis_server.kill()
        await traffic("down", 40)
        assert _sample(registry, "shieldgate_verdict_cache_redis_circuit_open") == 1
        redis_server.start()
        await asyncio.sleep(0.35)
        await traffic("after", 20)

    assert failures == []
    assert served == 80
    events = [entry["event"] for entry in logs]
    assert events.count("cache.redis_circuit_opened") == 1
    assert events.count("cache.redis_circuit_closed") == 1
    assert _sample(registry, "shieldgate_verdict_cache_redis_circuit_open") == 0
    assert _sample(registry, "shieldgate_verdict_cache_lookups_total", tier="redis", result="error") >= 1
    assert _sample(registry, "shieldgate_verdict_cache_lookups_total", tier="redis", result="skipped") >= 1
    # After recovery, writes reach Redis again: a fresh replica sees the last verdict.
    other = _cache(redis_server, CollectorRegistry())
    assert await other.get(verdict_key("guard", "1", "after-19")) == VERDICT
    await other.aclose()
    await cache.aclose()
