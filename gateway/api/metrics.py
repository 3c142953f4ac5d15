"""`GET /metrics`: the process's metrics in Prometheus' text format."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway.api.deps import ServicesDep

__all__ = ["router"]

router = APIRouter()


@router.get("/metrics")
async def metrics(services: ServicesDep) -> Response:
    """Every metric registered on this app's registry (scraped without a client key)."""
    return Response(generate_latest(services.registry), media_type=CONTENT_TYPE_LATEST)
