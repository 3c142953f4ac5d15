"""The read-only audit review page and its JSON API, behind the admin key."""

from __future__ import annotations

import asyncio
import hmac
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from pydantic import SecretStr

from gateway.audit.review import RecordFilter, parse_time, read_records, summarize
from gateway.errors import AuthenticationFailed, GatewayError, InvalidRequest
from gateway.settings import Settings

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

MAX_ROWS = 500


class AdminDisabled(GatewayError):
    """The audit page needs both SHIELDGATE_ADMIN_KEY and SHIELDGATE_AUDIT_PATH."""

    status_code = 404
    error_type = "invalid_request_error"
    default_code = "admin_disabled"


@router.get("/admin/audit")
async def audit_page(request: Request) -> HTMLResponse:
    """The page; it holds no data and asks the API below for records with the admin key."""
    _enabled(request)
    page = resources.files("gateway") / "admin" / "audit.html"
    return HTMLResponse(page.read_text(encoding="utf-8"), headers={"Cache-Control": "no-store"})


@router.get("/admin/api/audit")
async def audit_records(request: Request) -> dict[str, Any]:
    """The newest matching records (at most 500) and the actions per time bucket of all matches."""
    admin_key, audit_path = _enabled(request)
    presented = request.headers.get("authorization", "").removeprefix("Bearer ").encode()
    if not hmac.compare_digest(presented, admin_key.get_secret_value().encode()):
        raise AuthenticationFailed("The admin key is missing or wrong.")
    params = request.query_params
    keep = RecordFilter(
        since=_time(params.get("since")),
        until=_time(params.get("until")),
        **{
            name: params.get(name) or None
            for name in ("tenant", "action", "outcome", "category", "label", "rule", "model")
        },
    )
    bucket = params.get("bucket", "hour")
    if bucket not in ("minute", "hour", "day"):
        raise InvalidRequest("bucket must be minute, hour or day.", param="bucket")
    return await asyncio.to_thread(_collect, audit_path, keep, bucket)


def _collect(path: Path, keep: RecordFilter, bucket: str) -> dict[str, Any]:
    matched = [record for record in read_records([path]) if keep(record)] if path.exists() else []
    summary = summarize(matched, bucket)
    return {"matched": len(matched), "records": matched[::-1][:MAX_ROWS], "timeline": summary["timeline"]}


def _enabled(request: Request) -> tuple[SecretStr, Path]:
    """The admin key and audit file, or 404 when the page is not configured."""
    settings: Settings = request.app.state.settings
    if settings.admin_key is None or settings.audit_path is None:
        raise AdminDisabled("The audit page is off: set SHIELDGATE_ADMIN_KEY and SHIELDGATE_AUDIT_PATH.")
    return settings.admin_key, settings.audit_path


def _time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return parse_time(text)
    except ValueError as exc:
        raise InvalidRequest(f"not an ISO 8601 time: {text!r}", param="since/until") from exc
