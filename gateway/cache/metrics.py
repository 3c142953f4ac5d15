"""Prometheus metrics of the verdict cache."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["CacheMetrics"]


class CacheMetrics:
    """Lookups and writes per tier and result, their latency, and the Redis circuit state."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.lookups = Counter(
            "shieldgate_verdict_cache_lookups",
            "Verdict cache lookups by tier (memory, redis) and result (hit, miss, error, skipped).",
            ["tier", "result"],
            registry=registry,
        )
        self.writes = Counter(
            "shieldgate_verdict_cache_writes",
            "Verdict cache writes by tier and result (ok, error, skipped).",
            ["tier", "result"],
            registry=registry,
        )
        self.latency = Histogram(
            "shieldgate_verdict_cache_latency_seconds",
            "Time spent in a verdict cache tier, by operation.",
            ["tier", "op"],
            buckets=(0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25),
            registry=registry,
        )
        self.circuit_open = Gauge(
            "shieldgate_verdict_cache_redis_circuit_open",
            "1 while Redis is being skipped after repeated failures, else 0.",
            registry=registry,
        )
