"""Wiring of the app's services from settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from gateway.app import build_verdict_cache
from gateway.cache import verdict_key
from gateway.settings import Settings
from tests.redisserver import RedisServer

pytestmark = pytest.mark.anyio


async def test_redis_url_setting_shares_verdicts(redis_server: RedisServer, tmp_path: Path) -> None:
    """With SHIELDGATE_REDIS_URL set, two gateways' caches share verdicts through Redis."""
    settings = Settings(config=tmp_path / "unused.yaml", redis_url=SecretStr(redis_server.url))
    first = build_verdict_cache(settings, CollectorRegistry())
    second = build_verdict_cache(settings, CollectorRegistry())
    key = verdict_key("guard", "1", "shared")

    await first.put(key, {"unsafe": 0.1})

    assert await second.get(key) == {"unsafe": 0.1}
    await first.aclose()
    await second.aclose()


async def test_without_redis_url_verdicts_stay_in_process(tmp_path: Path) -> None:
    """The embedded default keeps verdicts in one process's memory only."""
    settings = Settings(config=tmp_path / "unused.yaml")
    first = build_verdict_cache(settings, CollectorRegistry())
    second = build_verdict_cache(settings, CollectorRegistry())
    key = verdict_key("guard", "1", "local")

    await first.put(key, {"unsafe": 0.1})

    assert await first.get(key) == {"unsafe": 0.1}
    assert await second.get(key) is None
