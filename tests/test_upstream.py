"""The gateway's litellm calls: litellm's own bookkeeping runs only when something would read it."""

from __future__ import annotations

import asyncio
import contextvars
import json
import threading
from functools import partial
from typing import Any

import httpx
import litellm
import pytest
import respx
from litellm.integrations.custom_logger import CustomLogger
from structlog.testing import capture_logs

from gateway import upstream as upstream_module
from gateway.upstream import SetUpOnTheLoop, Upstream
from tests.conftest import SMALL_BASE, chat_body, text_stream, upstream_for

MESSAGES = [{"role": "user", "content": "Hi"}]


class _Recorder(CustomLogger):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self.costs: list[Any] = []

    async def async_log_success_event(
        self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        self.costs.append(kwargs.get("response_cost"))


def _register(monkeypatch: pytest.MonkeyPatch) -> _Recorder:
    """A litellm callback for this test only (litellm copies `callbacks` into its other lists)."""
    recorder = _Recorder()
    monkeypatch.setattr(litellm, "callbacks", [recorder])
    monkeypatch.setattr(litellm, "success_callback", [])
    monkeypatch.setattr(litellm, "_async_success_callback", [])
    return recorder


@pytest.fixture
def gateway_upstream() -> Upstream:
    return upstream_for(SMALL_BASE)


@pytest.fixture
def hooks_seen(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What litellm's two hooks did: "asked" each time litellm called one of them (so a litellm
    that stops calling them by these names fails), then the name of litellm's own function when
    the hook went on to it."""
    seen: list[str] = []
    original_schedule = upstream_module._LITELLM_SCHEDULE_SUCCESS_LOGGING
    original_metadata = upstream_module._LITELLM_UPDATE_RESPONSE_METADATA
    original_dispatch = upstream_module._LITELLM_DISPATCH_SUCCESS

    def schedule(**kwargs: Any) -> None:
        seen.append("schedule")
        original_schedule(**kwargs)

    def metadata(**kwargs: Any) -> None:
        seen.append("metadata")
        original_metadata(**kwargs)

    async def dispatch(self: Any, *args: Any, **kwargs: Any) -> None:
        seen.append("dispatch")
        await original_dispatch(self, *args, **kwargs)

    monkeypatch.setattr(upstream_module, "_LITELLM_DISPATCH_SUCCESS", dispatch)
    monkeypatch.setattr(upstream_module, "_LITELLM_SCHEDULE_SUCCESS_LOGGING", schedule)
    monkeypatch.setattr(upstream_module, "_LITELLM_UPDATE_RESPONSE_METADATA", metadata)
    checked = upstream_module._has_success_callbacks

    def asking() -> bool:
        seen.append("asked")
        return checked()

    monkeypatch.setattr(upstream_module, "_has_success_callbacks", asking)
    return seen


def test_a_call_without_litellm_callbacks_skips_pricing_and_success_logging(
    gateway_upstream: Upstream, upstream: respx.MockRouter, hooks_seen: list[str]
) -> None:
    upstream.post(f"{SMALL_BASE}/chat/completions").respond(json=chat_body("Hello there"))
    response = asyncio.run(gateway_upstream.chat("small", {"messages": MESSAGES}))
    assert response["choices"][0]["message"]["content"] == "Hello there"
    assert response["usage"]["total_tokens"] == 5
    assert hooks_seen == ["asked", "asked"]


def test_a_registered_litellm_callback_still_gets_priced_success_events(
    gateway_upstream: Upstream,
    upstream: respx.MockRouter,
    hooks_seen: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recorder = _register(monkeypatch)
    upstream.post(f"{SMALL_BASE}/chat/completions").respond(json=chat_body("Hello there"))

    async def call_and_let_logging_run() -> dict[str, Any]:
        response = await gateway_upstream.chat("small", {"messages": MESSAGES})
        await _logging_done(recorder)
        return response

    response = asyncio.run(call_and_let_logging_run())
    assert response["choices"][0]["message"]["content"] == "Hello there"
    assert hooks_seen == ["asked", "metadata", "asked", "schedule"]
    assert len(recorder.costs) == 1


async def _logging_done(recorder: _Recorder | None) -> None:
    """litellm logs from a task it starts after the call (a stream: at its end): let it run."""
    for _ in range(50):
        if recorder is not None and recorder.costs:
            return
        await asyncio.sleep(0.01)


def _read_stream(gateway_upstream: Upstream, recorder: _Recorder | None = None) -> str:
    async def read() -> str:
        stream = await gateway_upstream.chat_stream("small", {"messages": MESSAGES})
        text = "".join([c["choices"][0]["delta"].get("content") or "" async for c in stream if c["choices"]])
        await _logging_done(recorder)
        return text

    return asyncio.run(read())


def test_a_stream_keeps_its_metadata_and_skips_success_logging(
    gateway_upstream: Upstream, upstream: respx.MockRouter, hooks_seen: list[str]
) -> None:
    upstream.post(f"{SMALL_BASE}/chat/completions").respond(
        content=text_stream("Hel", "lo"), headers={"content-type": "text/event-stream"}
    )
    assert _read_stream(gateway_upstream) == "Hello"
    assert hooks_seen == ["asked", "metadata", "asked"]


def test_a_registered_litellm_callback_still_gets_a_streams_success_event(
    gateway_upstream: Upstream,
    upstream: respx.MockRouter,
    hooks_seen: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recorder = _register(monkeypatch)
    upstream.post(f"{SMALL_BASE}/chat/completions").respond(
        content=text_stream("Hel", "lo"), headers={"content-type": "text/event-stream"}
    )
    assert _read_stream(gateway_upstream, recorder) == "Hello"
    assert "dispatch" in hooks_seen
    assert len(recorder.costs) == 1


def test_litellms_set_up_runs_on_the_loop_and_everything_else_in_threads(
    gateway_upstream: Upstream, upstream: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    upstream.post(f"{SMALL_BASE}/chat/completions").respond(json=chat_body("Hello there"))
    set_up_on: list[int] = []
    completion = litellm.main.completion

    def recording(*args: Any, **kwargs: Any) -> Any:
        set_up_on.append(threading.get_ident())
        return completion(*args, **kwargs)

    monkeypatch.setattr(litellm.main, "completion", recording)

    async def main() -> tuple[int, int, dict[str, Any]]:
        asyncio.get_running_loop().set_default_executor(SetUpOnTheLoop())
        response = await gateway_upstream.chat("small", {"messages": MESSAGES})
        return threading.get_ident(), await asyncio.to_thread(threading.get_ident), response

    loop_thread, worker, response = asyncio.run(main())
    assert response["choices"][0]["message"]["content"] == "Hello there"
    assert set_up_on == [loop_thread]
    assert worker != loop_thread


def test_a_set_up_that_raises_hands_its_error_to_the_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(*args: Any, **kwargs: Any) -> Any:
        raise ValueError("bad request")

    monkeypatch.setattr(litellm.main, "completion", failing)
    executor = SetUpOnTheLoop()
    set_up = partial(contextvars.copy_context().run, partial(litellm.main.completion, acompletion=True))
    future = executor.submit(set_up)
    assert future.done()
    assert isinstance(future.exception(), ValueError)
    executor.shutdown()


def test_warm_up_runs_a_call_and_a_stream_answered_in_process(
    gateway_upstream: Upstream, upstream: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The warm-up's calls go through litellm to answers made in the process: nothing is sent."""
    streamed: list[bool] = []
    answer = upstream_module._warm_up_answer

    def recording(request: httpx.Request) -> httpx.Response:
        streamed.append(bool(json.loads(request.content).get("stream")))
        return answer(request)

    monkeypatch.setattr(upstream_module, "_warm_up_answer", recording)
    with capture_logs() as logs:
        asyncio.run(gateway_upstream.warm_up())

    assert streamed == [False, True]
    assert [entry["event"] for entry in logs] == ["upstream.warmed_up"]
    assert not upstream.calls


async def _broken_acompletion(**kwargs: Any) -> Any:
    raise TypeError("litellm changed its signature")


@pytest.mark.parametrize(
    ("target", "replacement", "error"),
    [
        ("_warm_up_answer", lambda request: httpx.Response(500, json={}), "UpstreamError"),
        ("_acompletion", _broken_acompletion, "TypeError: litellm changed its signature"),
    ],
)
def test_a_warm_up_that_fails_is_logged_and_startup_goes_on(
    gateway_upstream: Upstream, monkeypatch: pytest.MonkeyPatch, target: str, replacement: Any, error: str
) -> None:
    monkeypatch.setattr(upstream_module, target, replacement)
    with capture_logs() as logs:
        asyncio.run(gateway_upstream.warm_up())

    assert [entry["event"] for entry in logs] == ["upstream.warm_up_failed"]
    assert logs[0]["error"].startswith(error)
