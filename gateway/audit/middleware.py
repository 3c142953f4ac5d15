"""ASGI middleware that opens an audit entry for each API request and submits its record at the end.

The same record feeds the request metrics, so logs, audit and metrics never disagree.
"""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.audit.entry import AuditEntry
from gateway.audit.writer import AuditLog, AuditUnavailable

__all__ = ["AuditTrail"]


class AuditTrail:
    """Every request under `/v1/` leaves exactly one record, whatever its outcome."""

    def __init__(self, app: ASGIApp, audit: AuditLog) -> None:
        self.app = app
        self.audit = audit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        entry = AuditEntry(request_id=state.get("request_id", ""), path=scope["path"])
        state["audit"] = entry
        status = 500

        async def send_and_watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            self.audit.admit()
        except AuditUnavailable as exc:
            entry.set_outcome("refused_audit_unavailable", exc.code)
            await JSONResponse(exc.body(), status_code=exc.status_code)(scope, receive, send_and_watch)
            self._finish(scope, entry, status)
            return
        try:
            await self.app(scope, receive, send_and_watch)
        finally:
            self._finish(scope, entry, status)

    def _finish(self, scope: Scope, entry: AuditEntry, status: int) -> None:
        record = entry.record(status)
        self.audit.submit(record)
        services = getattr(scope["app"].state, "services", None)
        if services is not None:
            services.metrics.observe(record)
