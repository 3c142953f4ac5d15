"""The long-lived objects one gateway process runs on, built once at start."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry

from gateway.auth import KeyStore
from gateway.cache import VerdictCache
from gateway.config import GatewayConfig
from gateway.guard import Guard
from gateway.hooks import ScanHooks
from gateway.metrics import GatewayMetrics
from gateway.policy import PolicyStore
from gateway.ratelimit import RateLimiter
from gateway.upstream import Upstream

__all__ = ["Services"]


@dataclass(frozen=True)
class Services:
    """Everything a request handler may use; passed down, never global."""

    config: GatewayConfig
    keys: KeyStore
    upstream: Upstream
    hooks: ScanHooks
    verdicts: VerdictCache
    registry: CollectorRegistry
    metrics: GatewayMetrics
    limiter: RateLimiter
    policies: PolicyStore | None  # None when the caller supplied its own hooks
    guard: Guard | None = None  # None when SHIELDGATE_GUARD is false

    async def aclose(self) -> None:
        """Release connections held by the services."""
        if self.guard is not None:
            await self.guard.aclose()
        await self.verdicts.aclose()
        await self.limiter.aclose()
