"""The scanning hook points of the request path; guards and policies plug in here.

A `ScanHooks` sees the request before the upstream call, the call itself, the response
after it, and a streamed response chunk by chunk. Each hook returns what goes on (possibly
changed: a redacted message, another model alias) or raises a `GatewayError` such as
`RequestBlocked` to stop the request. `before_upstream` and `during_upstream` may also raise
`Refusal` to answer with an assistant message of the gateway's own instead of the upstream's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from gateway.audit.entry import AuditEntry

__all__ = ["Exchange", "PassThrough", "Payload", "Refusal", "ScanHooks"]

Payload = dict[str, Any]
T = TypeVar("T")


class Refusal(Exception):
    """Answer the request with `message` as the assistant's reply, without calling upstream."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class Exchange:
    """What the hooks know about the request besides its body."""

    request_id: str
    endpoint: str  # "chat.completions", "completions" or "embeddings"
    tenant: str
    key_id: str
    model: str  # the alias the client asked for
    stream: bool
    audit: AuditEntry | None = None  # where hooks record their decisions for the audit log
    notes: dict[str, Any] = field(default_factory=dict)  # the hooks' own state for this request


class ScanHooks(Protocol):
    """Inspect and transform traffic at the three points of the request path."""

    async def before_upstream(self, exchange: Exchange, request: Payload) -> Payload:
        """The request to send upstream; `request["model"]` picks the alias."""
        ...

    async def during_upstream(self, exchange: Exchange, upstream: Awaitable[T]) -> T:
        """The upstream call's result (the response, or the opened stream); the hooks may run
        checks of their own beside the call and stop the request by raising."""
        ...

    async def after_upstream(self, exchange: Exchange, request: Payload, response: Payload) -> Payload:
        """The response to return to the client."""
        ...

    def on_stream(
        self, exchange: Exchange, request: Payload, chunks: AsyncIterator[Payload]
    ) -> AsyncIterator[Payload]:
        """The chunks to send to the client, drawn from the upstream's `chunks`."""
        ...


class PassThrough:
    """Hooks that change nothing: the gateway as a plain proxy."""

    async def before_upstream(self, exchange: Exchange, request: Payload) -> Payload:
        return request

    async def during_upstream(self, exchange: Exchange, upstream: Awaitable[T]) -> T:
        return await upstream

    async def after_upstream(self, exchange: Exchange, request: Payload, response: Payload) -> Payload:
        return response

    def on_stream(
        self, exchange: Exchange, request: Payload, chunks: AsyncIterator[Payload]
    ) -> AsyncIterator[Payload]:
        return chunks
