"""`POST /v1/moderations`, answered by the gateway's own guard in OpenAI's format."""

from __future__ import annotations

import asyncio
import uuid

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from gateway.api.deps import Caller, ServicesDep
from gateway.errors import GatewayError
from gateway.guard import GuardInput
from gateway.guard.moderation import moderation_result
from gateway.schemas import ModerationRequest, parse_body

__all__ = ["router"]

router = APIRouter()


class GuardUnavailable(GatewayError):
    status_code = 503
    error_type = "server_error"
    default_code = "guard_disabled"


@router.post("/v1/moderations")
async def moderations(request: Request, services: ServicesDep, principal: Caller) -> JSONResponse:
    """Each input text judged as a prompt; `model` is accepted and ignored (there is one guard)."""
    body = parse_body(await request.body(), ModerationRequest)
    request.state.audit.tenant, request.state.audit.key_id = principal.tenant, principal.key_id
    request.state.audit.endpoint = "moderations"
    if services.guard is None:
        raise GuardUnavailable("Moderation needs the safety guard, which is disabled on this gateway.")
    raw = body["input"]
    texts = (
        [raw] if isinstance(raw, str) else [item if isinstance(item, str) else item["text"] for item in raw]
    )
    scores = await asyncio.gather(*(services.guard.score(GuardInput(text)) for text in texts))
    thresholds = services.guard.model.thresholds
    return JSONResponse(
        {
            "id": f"modr-{uuid.uuid4().hex}",
            "model": f"shieldgate-guard-{services.guard.model.version}",
            "results": [moderation_result(s, thresholds) for s in scores],
        }
    )
