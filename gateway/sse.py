"""Server-sent events in the shape OpenAI's streaming clients read."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import structlog
from starlette.responses import StreamingResponse

from gateway.errors import GatewayError

__all__ = ["event_stream", "sse_response"]

log = structlog.get_logger(__name__)

DONE = b"data: [DONE]\n\n"


def _event(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode("utf-8") + b"\n\n"


async def event_stream(chunks: AsyncIterator[dict[str, Any]]) -> AsyncIterator[bytes]:
    """Encode chunks as SSE; an error mid-stream becomes an error event, then the stream ends."""
    try:
        async for chunk in chunks:
            yield _event(chunk)
    except GatewayError as exc:
        log.warning("stream.failed", status=exc.status_code, code=exc.code)
        yield _event(exc.body())
        return
    yield DONE


def sse_response(
    chunks: AsyncIterator[dict[str, Any]], headers: dict[str, str] | None = None
) -> StreamingResponse:
    """A streaming HTTP response for `chunks`."""
    return StreamingResponse(
        event_stream(chunks),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no", **(headers or {})},
    )
