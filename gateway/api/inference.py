"""OpenAI's inference endpoints: chat completions, text completions and embeddings.

Each request is authenticated, checked against OpenAI's schema, passed through the scan
hooks, sent upstream under the alias the hooks chose (the hooks see the call too, and may stop
it), and its answer passed back through the hooks (chunk by chunk for streams).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from gateway.api.deps import Caller, ServicesDep
from gateway.audit.entry import AuditEntry
from gateway.auth import Principal
from gateway.errors import GatewayError, ModelNotFound
from gateway.hooks import Exchange, Refusal
from gateway.messages import request_slots
from gateway.pipeline import estimate_tokens
from gateway.refusal import refusal_chunks, refusal_completion
from gateway.schemas import ChatCompletionRequest, CompletionRequest, EmbeddingRequest, parse_body
from gateway.services import Services
from gateway.sse import sse_response
from gateway.upstream import Upstream

__all__ = ["router"]

router = APIRouter()

Payload = dict[str, Any]
T = TypeVar("T")
Call = Callable[[Upstream, str, Payload], Awaitable[Payload]]
StreamCall = Callable[[Upstream, str, Payload], Awaitable[AsyncIterator[Payload]]]


@router.post("/v1/chat/completions")
async def chat_completions(
    request: Request,
    services: ServicesDep,
    principal: Caller,
) -> Response:
    """Chat completions, streamed or not; tools and tool results pass through."""
    body = parse_body(await request.body(), ChatCompletionRequest)
    return await _proxy(
        request, services, principal, "chat.completions", body, Upstream.chat, Upstream.chat_stream
    )


@router.post("/v1/completions")
async def completions(
    request: Request,
    services: ServicesDep,
    principal: Caller,
) -> Response:
    """Legacy text completions, streamed or not."""
    body = parse_body(await request.body(), CompletionRequest)
    return await _proxy(
        request, services, principal, "completions", body, Upstream.completion, Upstream.completion_stream
    )


@router.post("/v1/embeddings")
async def embeddings(
    request: Request,
    services: ServicesDep,
    principal: Caller,
) -> Response:
    """Embeddings; the input is scanned like a prompt."""
    body = parse_body(await request.body(), EmbeddingRequest)
    return await _proxy(request, services, principal, "embeddings", body, Upstream.embedding, None)


async def _proxy(
    request: Request,
    services: Services,
    principal: Principal,
    endpoint: str,
    body: Payload,
    call: Call,
    stream_call: StreamCall | None,
) -> Response:
    stream = bool(body.get("stream")) and stream_call is not None
    audit: AuditEntry = request.state.audit  # opened by the AuditTrail middleware
    audit.tenant, audit.key_id, audit.endpoint, audit.stream = (
        principal.tenant,
        principal.key_id,
        endpoint,
        stream,
    )
    _require_alias(services, body["model"])
    audit.model_requested = body["model"]  # only a configured alias: a made-up name is client text
    if principal.limited:  # the token estimate is only needed against a limit
        prompt_tokens = sum(estimate_tokens(slot.text) for slot in request_slots(endpoint, body))
        await services.limiter.admit(principal, prompt_tokens)
    exchange = Exchange(
        request_id=request.state.request_id,
        endpoint=endpoint,
        tenant=principal.tenant,
        key_id=principal.key_id,
        model=body["model"],
        stream=stream,
        audit=audit,
    )
    hooks = services.hooks
    try:
        outgoing = await hooks.before_upstream(exchange, body)
        alias = outgoing["model"]
        _require_alias(services, alias)
        audit.model_routed = alias
        params = {key: value for key, value in outgoing.items() if key not in ("model", "stream")}
        if stream and stream_call is not None:
            opened = _timed(audit, stream_call(services.upstream, alias, params))
            chunks = await hooks.during_upstream(exchange, opened)
            return sse_response(_audited(hooks.on_stream(exchange, outgoing, chunks), audit))
        response = await hooks.during_upstream(
            exchange, _timed(audit, call(services.upstream, alias, params))
        )
    except Refusal as refusal:
        if stream:
            return sse_response(refusal_chunks(endpoint, exchange.model, refusal.message))
        return JSONResponse(refusal_completion(endpoint, exchange.model, refusal.message))
    await services.limiter.add_tokens(principal, (response.get("usage") or {}).get("completion_tokens") or 0)
    return JSONResponse(await hooks.after_upstream(exchange, outgoing, response))


async def _timed(audit: AuditEntry, upstream_call: Awaitable[T]) -> T:
    """Await the upstream call, noting its time and status in the audit entry."""
    started = time.perf_counter()
    try:
        result = await upstream_call
    except GatewayError as exc:
        audit.upstream_status = exc.status_code
        raise
    finally:
        audit.upstream_ms = (time.perf_counter() - started) * 1000
    audit.upstream_status = 200
    return result


async def _audited(chunks: AsyncIterator[Payload], audit: AuditEntry) -> AsyncIterator[Payload]:
    """Pass chunks on, noting in the audit entry how a stream that did not finish ended."""
    try:
        async for chunk in chunks:
            yield chunk
    except GatewayError as exc:
        audit.set_outcome("upstream_error", exc.code)
        raise
    except (asyncio.CancelledError, GeneratorExit):
        audit.set_outcome("client_disconnected")
        raise


def _require_alias(services: Services, alias: str) -> None:
    if not services.upstream.has_alias(alias):
        raise ModelNotFound(
            f"The model '{alias}' does not exist or you do not have access to it.", param="model"
        )
