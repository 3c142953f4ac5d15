"""Verdict caching: keys, an in-process LRU, Redis behind a circuit breaker, and metrics."""

from gateway.cache.breaker import CircuitBreaker, CircuitState
from gateway.cache.keys import normalize_text, verdict_key
from gateway.cache.memory import MemoryStore
from gateway.cache.metrics import CacheMetrics
from gateway.cache.redisstore import RedisStore
from gateway.cache.verdicts import Verdict, VerdictCache

__all__ = [
    "CacheMetrics",
    "CircuitBreaker",
    "CircuitState",
    "MemoryStore",
    "RedisStore",
    "Verdict",
    "VerdictCache",
    "normalize_text",
    "verdict_key",
]
