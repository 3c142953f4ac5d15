"""The start-up heap kept out of full collections, and the collections timed for /metrics."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client import CollectorRegistry
from starlette.types import Receive, Scope, Send

from gateway.app import create_app
from gateway.bench.processes import gc_pauses
from gateway.heap import FreezeAfterWarmUp, GcPauses, freeze_startup_heap, thaw
from gateway.settings import Settings
from tests.conftest import UPSTREAM_SECRET
from tests.server import serve_in_thread


@pytest.fixture(autouse=True)
def nothing_frozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_freeze_startup_heap_freezes_what_is_alive_and_thaw_gives_it_back() -> None:
    kept = [[index] for index in range(1000)]  # tracked containers, alive

    frozen = freeze_startup_heap()

    assert frozen == gc.get_freeze_count()
    assert frozen > len(kept)
    collected = {id(obj) for obj in gc.get_objects()}  # what the collector's passes walk
    assert not any(id(item) in collected for item in kept)
    thaw()
    assert gc.get_freeze_count() == 0


async def _answer(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


@pytest.mark.anyio
async def test_freeze_after_warm_up_freezes_once_the_requests_are_answered() -> None:
    app = FreezeAfterWarmUp(_answer, requests=2)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
        await client.get("/")
        assert gc.get_freeze_count() == 0

        await client.get("/")
        assert gc.get_freeze_count() > 0

        gc.unfreeze()
        await client.get("/")  # the countdown is spent: nothing is frozen again
        assert gc.get_freeze_count() == 0


def _collections(registry: CollectorRegistry, generation: str) -> float:
    value = registry.get_sample_value("shieldgate_gc_pause_seconds_count", {"generation": generation})
    return value or 0.0


def test_gc_pauses_times_each_collection_until_closed() -> None:
    registry = CollectorRegistry()
    pauses = GcPauses(registry)

    gc.collect(2)
    gc.collect(1)

    assert _collections(registry, "2") == 1
    assert _collections(registry, "1") == 1
    seconds = registry.get_sample_value("shieldgate_gc_pause_seconds_sum", {"generation": "2"})
    assert seconds is not None
    assert seconds > 0
    pauses.close()
    gc.collect(2)
    assert _collections(registry, "2") == 1


def test_the_gateway_freezes_its_heap_while_it_serves_and_exports_its_collections(
    settings: Settings,
) -> None:
    app = create_app(
        settings.model_copy(update={"gc_freeze": True}), environ={"UPSTREAM_KEY": UPSTREAM_SECRET}
    )

    with serve_in_thread(app) as url:
        assert gc.get_freeze_count() > 0
        gc.collect(2)
        pauses = gc_pauses(f"{url}/v1")
        assert pauses is not None
        assert pauses["2"]["count"] >= 1
        assert pauses["2"]["long"] <= pauses["2"]["count"]
        assert set(pauses) == {"0", "1", "2"}

    assert gc.get_freeze_count() == 0  # thawed when it stopped


def test_the_gateway_freezes_nothing_with_gc_freeze_off(settings: Settings) -> None:
    app = create_app(settings, environ={"UPSTREAM_KEY": UPSTREAM_SECRET})  # the fixture's: off

    with serve_in_thread(app) as url:
        assert gc.get_freeze_count() == 0
        assert gc_pauses(f"{url}/v1") is not None


def test_gc_pauses_of_a_server_without_metrics_is_none() -> None:
    with serve_in_thread(_answer_404) as url:
        assert gc_pauses(f"{url}/v1") is None


async def _answer_404(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 404, "headers": []})
    await send({"type": "http.response.body", "body": b"not found"})
