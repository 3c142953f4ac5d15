"""Liveness and readiness probes."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from gateway.app import create_app
from gateway.settings import Settings


def test_probes_answer_when_running(client: httpx.Client) -> None:
    """A started gateway is both alive and ready, without a key."""
    bare = httpx.Client(base_url=str(client.base_url))
    assert bare.get("/healthz").json() == {"status": "ok"}
    assert bare.get("/readyz").json() == {"status": "ready"}
    bare.close()


def test_not_ready_before_start(settings: Settings) -> None:
    """Before the lifespan has built the services, readiness is 503."""
    app: FastAPI = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    import anyio

    async def probe() -> int:
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
            return (await http.get("/readyz")).status_code

    assert anyio.run(probe) == 503
