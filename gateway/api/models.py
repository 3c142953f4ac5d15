"""`GET /v1/models`: the configured aliases, as OpenAI lists models."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from gateway.api.deps import Caller, ServicesDep

__all__ = ["router"]

router = APIRouter()


@router.get("/v1/models")
async def list_models(services: ServicesDep, _: Caller) -> dict[str, Any]:
    """Every alias clients may name in `model`."""
    return {
        "object": "list",
        "data": [
            {"id": alias, "object": "model", "created": 0, "owned_by": "shieldgate"}
            for alias in services.upstream.aliases()
        ],
    }
