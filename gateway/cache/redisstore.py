"""The shared tier: verdicts in Redis, through redis-py's asyncio client and connection pool."""

from __future__ import annotations

import redis.asyncio as redis

__all__ = ["RedisStore"]


class RedisStore:
    """Get and set with a per-call timeout; every failure surfaces as an exception to the caller."""

    def __init__(self, url: str, *, timeout: float, max_connections: int = 32) -> None:
        self._client = redis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            max_connections=max_connections,
            retry_on_timeout=False,
        )

    async def get(self, key: str) -> bytes | None:
        value = await self._client.get(key)
        return value.encode("utf-8") if isinstance(value, str) else value

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        await self._client.set(key, value, px=max(1, int(ttl * 1000)))

    async def aclose(self) -> None:
        await self._client.aclose()
