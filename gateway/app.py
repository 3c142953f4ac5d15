"""`create_app(settings)`: the FastAPI application with its services built in the lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry
from starlette.exceptions import HTTPException

from gateway import __version__
from gateway.api import (
    admin_router,
    health_router,
    inference_router,
    metrics_router,
    models_router,
    moderations_router,
)
from gateway.audit import AuditLog, AuditTrail, FileSink, Sink, StdoutSink
from gateway.auth import KeyStore
from gateway.bodylimit import BodyLimit
from gateway.cache import CacheMetrics, MemoryStore, RedisStore, VerdictCache
from gateway.config import GatewayConfig, load_config
from gateway.errors import (
    GatewayError,
    RequestBlocked,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
)
from gateway.guard import Guard, bundled_guard_dir, load_guard
from gateway.guard.batcher import LoopShare
from gateway.heap import FreezeAfterWarmUp, GcPauses, freeze_startup_heap, thaw
from gateway.hooks import PassThrough, ScanHooks
from gateway.metrics import GatewayMetrics
from gateway.pii.model import bundled_pii_dir, load_pii_model
from gateway.pii.service import PiiFinder
from gateway.pipeline import PolicyHooks, Scan
from gateway.policy import PolicyStore, default_policy_dir
from gateway.ratelimit import RateLimiter
from gateway.requestlog import RequestLog
from gateway.scanners import Scanners, policy_model_labels
from gateway.services import Services
from gateway.settings import Settings
from gateway.upstream import SetUpOnTheLoop, Upstream

__all__ = [
    "build_audit_log",
    "build_guard",
    "build_pii",
    "build_services",
    "build_verdict_cache",
    "create_app",
]

log = structlog.get_logger(__name__)


def build_services(
    settings: Settings,
    config: GatewayConfig,
    registry: CollectorRegistry,
    *,
    hooks: ScanHooks | None = None,
    scan: Scan | None = None,
    environ: Mapping[str, str] | None = None,
) -> Services:
    """Wire the gateway's services from the settings and a loaded configuration.

    Without `hooks`, the tenant policies of `settings.policy_dir` decide on what `scan` finds;
    without `scan`, on what the PII recognizers and the guard (when enabled) find.
    """
    keys = KeyStore(config.keys, required=config.auth.required)
    if not keys.required:
        log.warning("auth.disabled", reason="auth.required is false: every caller is served")
    metrics = GatewayMetrics(registry, aliases=list(config.models))
    verdicts = build_verdict_cache(settings, registry)
    share = LoopShare()  # the two models' short passes of one request overlap
    guard = build_guard(settings, verdicts, share)
    pii = (
        build_pii(settings, verdicts, share)
        if hooks is None and scan is None and settings.guardrails
        else None
    )
    policies = None
    if hooks is None and not settings.guardrails:
        log.warning("guardrails.disabled", reason="SHIELDGATE_GUARDRAILS is false: a plain proxy")
        hooks = PassThrough()
    if hooks is None:
        policies = PolicyStore(
            settings.policy_dir or default_policy_dir(),
            aliases=list(config.models),
            on_reload=lambda result: metrics.policy_reloads.labels(result).inc(),
        )
        key = settings.redaction_hash_key
        scanners = _scanners(guard, pii, policies)
        hooks = PolicyHooks(
            policies,
            scan or scanners,
            hash_key=key.get_secret_value().encode() if key else secrets.token_bytes(32),
            stream_hold=settings.stream_hold,
            stream_tail=settings.stream_tail_chars,
            guard_during_call=settings.guard_during_call,
            read_ahead=scanners.read_ahead if scan is None else None,
        )
    return Services(
        config=config,
        keys=keys,
        upstream=Upstream(config, environ),
        hooks=hooks,
        verdicts=verdicts,
        guard=guard,
        registry=registry,
        metrics=metrics,
        limiter=RateLimiter(
            settings.redis_url.get_secret_value() if settings.redis_url else None,
            timeout=settings.redis_timeout_ms / 1000,
        ),
        policies=policies,
    )


def build_guard(
    settings: Settings, verdicts: VerdictCache | None, share: LoopShare | None = None
) -> Guard | None:
    """The safety guard on the configured model (loaded once per process), or None when disabled."""
    if not settings.guard:
        log.warning("guard.disabled", reason="SHIELDGATE_GUARD is false: no safety scores")
        return None
    model = load_guard(
        settings.guard_model or bundled_guard_dir(),
        settings.scanner_threads,
        settings.scanner_parallel,
        settings.scanner_short_tokens,
    )
    log.info("guard.loaded", model=str(model.directory), version=model.version)
    return Guard(
        model,
        verdicts,
        max_batch=settings.scanner_max_batch,
        inline_chars=settings.scanner_inline_chars,
        share=share,
    )


def build_pii(
    settings: Settings, verdicts: VerdictCache | None, share: LoopShare | None = None
) -> PiiFinder | None:
    """The PII model (loaded once per process), or None when only the recognizers should run."""
    if not settings.pii:
        log.info("pii_model.off", reason="SHIELDGATE_PII is false: the recognizers alone find PII")
        return None
    model = load_pii_model(
        settings.pii_model or bundled_pii_dir(),
        settings.scanner_threads,
        settings.scanner_parallel,
        settings.scanner_short_tokens,
    )
    log.info("pii_model.loaded", model=str(model.directory), version=model.version)
    return PiiFinder(
        model,
        verdicts,
        max_batch=settings.scanner_max_batch,
        inline_chars=settings.scanner_inline_chars,
        share=share,
    )


def _scanners(guard: Guard | None, pii: PiiFinder | None, policies: PolicyStore) -> Scanners:
    """The default scanner: asks the PII model for what the current policies name."""
    descriptions = pii.model.descriptions if pii is not None else {}
    last: list[Any] = [None, {}]  # the policy set the labels were worked out for, and them

    def labels() -> dict[str, str]:
        current = policies.current
        if last[0] is not current:  # once per policy reload, not once per request
            last[:] = [current, policy_model_labels(current, descriptions)]
        asked: dict[str, str] = last[1]
        return asked

    return Scanners(guard, pii, labels)


def build_audit_log(settings: Settings, registry: CollectorRegistry) -> AuditLog:
    """The audit log on the sinks the settings name (stdout and/or a rotated file)."""
    sinks: list[Sink] = []
    if settings.audit_path is not None:
        sinks.append(FileSink(settings.audit_path, settings.audit_max_bytes))
    if settings.audit_stdout:
        sinks.append(StdoutSink())
    if not sinks:
        log.warning("audit.disabled", reason="no audit_path and audit_stdout is false")
    return AuditLog(sinks, registry, fail_closed=settings.audit_fail_closed)


def build_verdict_cache(settings: Settings, registry: CollectorRegistry) -> VerdictCache:
    """The in-process LRU, with Redis behind it when `settings.redis_url` is set."""
    timeout = settings.redis_timeout_ms / 1000
    redis = RedisStore(settings.redis_url.get_secret_value(), timeout=timeout) if settings.redis_url else None
    log.info("cache.configured", redis=redis is not None, ttl_seconds=settings.cache_ttl_seconds)
    return VerdictCache(
        MemoryStore(settings.cache_max_entries),
        CacheMetrics(registry),
        ttl=settings.cache_ttl_seconds,
        redis=redis,
        redis_timeout=timeout,
    )


def create_app(
    settings: Settings,
    *,
    hooks: ScanHooks | None = None,
    scan: Scan | None = None,
    environ: Mapping[str, str] | None = None,
) -> FastAPI:
    """The gateway as an ASGI app; configuration is loaded when the app starts."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # litellm's per-call set-up runs on the loop instead of a thread (gateway.upstream).
        asyncio.get_running_loop().set_default_executor(SetUpOnTheLoop())
        config = load_config(settings.config)
        services = build_services(settings, config, registry, hooks=hooks, scan=scan, environ=environ)
        app.state.services = services
        audit.start()
        watcher = None
        if services.policies is not None:
            watcher = asyncio.create_task(services.policies.watch(settings.policy_reload_seconds))
        await services.upstream.warm_up()
        frozen = freeze_startup_heap() if settings.gc_freeze else 0
        pauses = GcPauses(registry)  # from here on: the collections that hold requests up
        log.info("gateway.started", aliases=list(config.models), keys=len(config.keys), frozen_objects=frozen)
        try:
            yield
        finally:
            if settings.gc_freeze:
                thaw()
            pauses.close()
            app.state.services = None
            if watcher is not None:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
            await services.aclose()
            await asyncio.to_thread(audit.stop)
            log.info("gateway.stopped")

    registry = CollectorRegistry()
    audit = build_audit_log(settings, registry)
    app = FastAPI(title="Shieldgate", version=__version__, lifespan=lifespan)
    app.state.services = None
    app.state.settings = settings
    app.include_router(admin_router)
    app.include_router(health_router)
    app.include_router(metrics_router)
    app.include_router(models_router)
    app.include_router(inference_router)
    app.include_router(moderations_router)
    app.add_exception_handler(GatewayError, _gateway_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
    # Outermost first: the request id is bound before anything else runs.
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(AuditTrail, audit=audit)
    app.add_middleware(RequestLog)
    if settings.gc_freeze:
        app.add_middleware(FreezeAfterWarmUp)
    return app


async def _gateway_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, GatewayError)
    log.info("request.rejected", status=exc.status_code, code=exc.code)
    audit = getattr(request.state, "audit", None)
    if audit is not None:
        audit.set_outcome(
            _OUTCOMES.get(type(exc), "client_error" if exc.status_code < 500 else "error"), exc.code
        )
    return JSONResponse(exc.body(), status_code=exc.status_code, headers=exc.headers)


_OUTCOMES: dict[type[GatewayError], str] = {
    RequestBlocked: "blocked",
    UpstreamError: "upstream_error",
    UpstreamTimeout: "upstream_error",
    UpstreamRateLimited: "upstream_error",
    UpstreamRejected: "upstream_error",
}


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    messages = {404: "Unknown request URL.", 405: "Method not allowed for this URL."}
    error = GatewayError(messages.get(exc.status_code, str(exc.detail)), code=None)
    body = error.body()
    body["error"]["type"] = "invalid_request_error"
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    # The outermost handler: log the failure's type, never the request's content.
    log.error("request.failed", error=type(exc).__name__, exc_info=exc)
    error = GatewayError("The gateway failed to handle the request.")
    return JSONResponse(error.body(), status_code=500)
