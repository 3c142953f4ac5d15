"""The objects the gateway starts with, kept out of the garbage collector's full passes.

Once started, the process holds some 420,000 objects that live as long as it does: litellm,
FastAPI, pydantic, the models' Python side, and what the upstream's warm-up imports (the openai
SDK's resources and types, litellm's provider code: `Upstream.warm_up`). CPython's full
collection walks every tracked object, and it runs whenever enough new objects have outlived
the younger generations (two in 6,000 cold requests): on a 2-core EPYC each took about 220 ms,
during which the event loop, and every request in flight, stood still.

`freeze_startup_heap` collects once at start-up, before the first request, and moves the
survivors to the collector's permanent generation (`gc.freeze`); `FreezeAfterWarmUp` freezes
again once the first requests are answered (what the paths the warm-up did not take import:
embeddings, legacy completions, other providers), so that a full pass walks only what was
created since. Reference counting frees frozen objects as before; only cycles among them wait
for `thaw`, which the gateway calls when it stops (measured in the README, under Where the time
goes). `GcPauses` times every collection for /metrics.
"""

from __future__ import annotations

import gc
import time
from typing import Any

from prometheus_client import CollectorRegistry, Histogram
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["WARM_UP_REQUESTS", "FreezeAfterWarmUp", "GcPauses", "freeze_startup_heap", "thaw"]

WARM_UP_REQUESTS = 100  # answered requests after which what they imported is frozen too
_PAUSE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


def freeze_startup_heap() -> int:
    """Collect the garbage start-up left, then freeze every object still tracked; returns how many."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def thaw() -> None:
    """Give the frozen objects back to the collector (the oldest generation)."""
    gc.unfreeze()


class FreezeAfterWarmUp:
    """ASGI middleware: once `requests` HTTP requests have been answered, freeze every object
    tracked then (no collection first: a pause of its own; what is garbage at that moment
    stays, a few thousand objects at most, until `thaw`). Then only a countdown at zero."""

    def __init__(self, app: ASGIApp, requests: int = WARM_UP_REQUESTS) -> None:
        self.app = app
        self._left = requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)
        if self._left > 0 and scope["type"] == "http":
            self._left -= 1
            if self._left == 0:
                gc.freeze()


class GcPauses:
    """`shieldgate_gc_pause_seconds{generation}`: how long each garbage collection held the
    process (and its event loop) still, timed from `gc.callbacks`; `close` stops the timing."""

    def __init__(self, registry: CollectorRegistry) -> None:
        histogram = Histogram(
            "shieldgate_gc_pause_seconds",
            "Garbage collections by generation (2: a full pass), and how long each held the process.",
            ["generation"],
            buckets=_PAUSE_BUCKETS,
            registry=registry,
        )
        self._by_generation = [histogram.labels(str(generation)) for generation in range(3)]
        self._started = 0.0
        gc.callbacks.append(self._timed)

    def _timed(self, phase: str, info: dict[str, Any]) -> None:
        # Collections never overlap: each "start" is followed by its own "stop".
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self._by_generation[info["generation"]].observe(time.perf_counter() - self._started)

    def close(self) -> None:
        gc.callbacks.remove(self._timed)
