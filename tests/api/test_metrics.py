"""`GET /metrics` exposes the process's metrics in Prometheus' text format."""

from __future__ import annotations

import httpx


def test_metrics_expose_verdict_cache_series(gateway_url: str) -> None:
    """The cache's counters, histogram and circuit gauge are scrapeable without a key."""
    response = httpx.get(f"{gateway_url}/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert "# TYPE shieldgate_verdict_cache_lookups_total counter" in text
    assert "# TYPE shieldgate_verdict_cache_writes_total counter" in text
    assert "# TYPE shieldgate_verdict_cache_latency_seconds histogram" in text
    assert "shieldgate_verdict_cache_redis_circuit_open 0.0" in text
