"""Streamed answers are guarded as they flow: split PII, split unsafe sentences, placeholders, tools.

The upstream is faked with respx; scanners are stood in for by `marker_scan` (emails are PII,
the word UNSAFE is unsafe). Each text is split into two chunks at every possible offset.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import openai
import pytest
import respx

from gateway.app import create_app
from gateway.settings import Settings
from tests.conftest import CLIENT_KEY, SMALL_BASE, UPSTREAM_SECRET, chunk, sse
from tests.server import serve_in_thread
from tests.test_pipeline import marker_scan

POLICY = """
rules:
  - id: email-placeholders
    stage: input
    when: {pii: [email]}
    action: redact
    redact: {operator: placeholder}
  - id: mask-email-in-answers
    stage: output
    when: {pii: [email]}
    action: redact
    redact: {operator: mask}
  - id: cut-unsafe
    stage: output
    when: {unsafe_above: 0.9}
    action: block
"""


@pytest.fixture(params=["sentence", "tail"])
def sdk(request: pytest.FixtureRequest, config_path: Path, tmp_path: Path) -> Iterator[openai.OpenAI]:
    """The SDK on a guarded gateway, once per hold-back mode."""
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "default.yaml").write_text(POLICY)
    settings = Settings(
        config=config_path, policy_dir=policies, audit_stdout=False, stream_hold=request.param
    )
    app = create_app(settings, scan=marker_scan, environ={"UPSTREAM_KEY": UPSTREAM_SECRET})
    with (
        serve_in_thread(app) as url,
        openai.OpenAI(base_url=f"{url}/v1", api_key=CLIENT_KEY, max_retries=0) as client,
    ):
        yield client


def _split_stream(text: str, offset: int) -> str:
    pieces = [text[:offset], text[offset:]]
    return sse(
        [
            chunk({"role": "assistant", "content": ""}),
            *(chunk({"content": p}) for p in pieces if p),
            chunk({}, "stop"),
        ]
    )


def _read(sdk: openai.OpenAI, prompt: str = "hi") -> tuple[str, str | None, list[str]]:
    """The streamed text, the last finish reason, and each content piece as received."""
    pieces: list[str] = []
    finish = None
    for part in sdk.chat.completions.create(
        model="small", messages=[{"role": "user", "content": prompt}], stream=True
    ):
        for choice in part.choices:
            pieces.append(choice.delta.content or "")
            finish = choice.finish_reason or finish
    return "".join(pieces), finish, pieces


def test_split_email_is_masked_at_every_offset(sdk: openai.OpenAI, upstream: respx.MockRouter) -> None:
    """Wherever the chunk boundary falls, the email never reaches the client."""
    text = "Write to bob@corp.io today. All good here."
    route = upstream.post(f"{SMALL_BASE}/chat/completions")
    for offset in range(len(text) + 1):
        route.respond(text=_split_stream(text, offset), headers={"content-type": "text/event-stream"})
        received, finish, _ = _read(sdk)
        assert (received, finish) == ("Write to [EMAIL] today. All good here.", "stop"), offset


def test_unsafe_sentence_is_cut_at_every_offset(sdk: openai.OpenAI, upstream: respx.MockRouter) -> None:
    """The stream ends with content_filter before any part of the unsafe sentence is sent.

    (In tail mode this holds because the unsafe word comes within the tail of its sentence.)
    """
    text = "Fine start. Then UNSAFE details follow. More text."
    route = upstream.post(f"{SMALL_BASE}/chat/completions")
    for offset in range(len(text) + 1):
        route.respond(text=_split_stream(text, offset), headers={"content-type": "text/event-stream"})
        received, finish, _ = _read(sdk)
        assert (received, finish) == ("Fine start. ", "content_filter"), offset


def test_prompt_placeholders_are_restored_at_every_offset(
    sdk: openai.OpenAI, upstream: respx.MockRouter
) -> None:
    """The model sees <EMAIL_1>; the client reads its own address back, wherever the split falls."""
    text = "I will mail <EMAIL_1> now. Done."
    route = upstream.post(f"{SMALL_BASE}/chat/completions")
    for offset in range(len(text) + 1):
        route.respond(text=_split_stream(text, offset), headers={"content-type": "text/event-stream"})
        received, _, _ = _read(sdk, "please mail ana@example.com")
        assert received == "I will mail ana@example.com now. Done.", offset
        assert (
            json.loads(route.calls.last.request.content)["messages"][0]["content"] == "please mail <EMAIL_1>"
        )


def test_text_flows_before_the_stream_ends(sdk: openai.OpenAI, upstream: respx.MockRouter) -> None:
    """Text is sent as it completes, not held to the end of the stream."""
    pieces = ["One sentence here. ", "Another sentence follows. ", "Three."]
    upstream.post(f"{SMALL_BASE}/chat/completions").respond(
        text=sse(
            [
                chunk({"role": "assistant", "content": ""}),
                *(chunk({"content": p}) for p in pieces),
                chunk({}, "stop"),
            ]
        ),
        headers={"content-type": "text/event-stream"},
    )
    _, _, received = _read(sdk)
    sent = [p for p in received if p]
    assert len(sent) >= 2
    assert "".join(sent) == "".join(pieces)


def test_streamed_tool_call_arguments_are_scanned(sdk: openai.OpenAI, upstream: respx.MockRouter) -> None:
    """Tool-call arguments split across chunks are redacted before the client sees them."""
    start = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "send", "arguments": ""}}
    upstream.post(f"{SMALL_BASE}/chat/completions").respond(
        text=sse(
            [
                chunk({"role": "assistant", "content": None, "tool_calls": [start]}),
                chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"to": "bob@co'}}]}),
                chunk({"tool_calls": [{"index": 0, "function": {"arguments": 'rp.io"}'}}]}),
                chunk({}, "tool_calls"),
            ]
        ),
        headers={"content-type": "text/event-stream"},
    )
    stream = sdk.chat.completions.create(
        model="small", messages=[{"role": "user", "content": "x"}], stream=True
    )
    arguments = "".join(
        call.function.arguments or ""
        for part in stream
        for choice in part.choices
        for call in choice.delta.tool_calls or []
        if call.function is not None
    )
    assert arguments == '{"to": "[EMAIL]"}'


class _SlowUpstream(httpx.AsyncByteStream):
    """A stream that sends a sentence every 0.2 s and notes when the gateway closes it."""

    def __init__(self) -> None:
        self.sent = 0
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield sse([chunk({"role": "assistant", "content": ""})]).removesuffix("data: [DONE]\n\n").encode()
        for _ in range(50):
            await asyncio.sleep(0.2)
            self.sent += 1
            yield sse([chunk({"content": "Still going. "})]).removesuffix("data: [DONE]\n\n").encode()

    async def aclose(self) -> None:
        self.closed = True


def test_client_disconnect_cancels_the_upstream(sdk: openai.OpenAI, upstream: respx.MockRouter) -> None:
    """When the client goes away mid-stream, the gateway closes its upstream call."""
    slow = _SlowUpstream()
    upstream.post(f"{SMALL_BASE}/chat/completions").respond(
        stream=slow, headers={"content-type": "text/event-stream"}
    )
    stream = sdk.chat.completions.create(
        model="small", messages=[{"role": "user", "content": "x"}], stream=True
    )
    for part in stream:
        if part.choices and part.choices[0].delta.content:
            break
    stream.close()
    deadline = time.monotonic() + 5
    while not slow.closed and time.monotonic() < deadline:
        time.sleep(0.05)
    assert slow.closed
    assert slow.sent < 20


def test_cut_stream_is_audited_as_filtered(
    config_path: Path, tmp_path: Path, upstream: respx.MockRouter
) -> None:
    """The audit record of a stream cut by the output guard says so, with the rule that fired."""
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "default.yaml").write_text(POLICY)
    audit_path = tmp_path / "audit.jsonl"
    settings = Settings(config=config_path, policy_dir=policies, audit_path=audit_path, audit_stdout=False)
    upstream.post(f"{SMALL_BASE}/chat/completions").respond(
        text=_split_stream("Fine start. Then UNSAFE details.", 20),
        headers={"content-type": "text/event-stream"},
    )
    app = create_app(settings, scan=marker_scan, environ={"UPSTREAM_KEY": UPSTREAM_SECRET})
    with (
        serve_in_thread(app) as url,
        openai.OpenAI(base_url=f"{url}/v1", api_key=CLIENT_KEY, max_retries=0) as client,
    ):
        _read(client)

    (record,) = [json.loads(line) for line in audit_path.read_text().splitlines()]
    assert (record["stream"], record["outcome"], record["action"]) == (True, "filtered", "block")
    assert record["rules"] == ["cut-unsafe"]


def test_legacy_completion_streams_are_guarded(sdk: openai.OpenAI, upstream: respx.MockRouter) -> None:
    """Streamed text completions get the same treatment: the split email is masked."""

    def event(text: str, finish: str | None = None) -> dict[str, object]:
        choice = {"index": 0, "text": text, "finish_reason": finish, "logprobs": None}
        return {
            "id": "cmpl-1",
            "object": "text_completion",
            "created": 1,
            "model": "small-model",
            "choices": [choice],
        }

    text = "Mail bob@corp.io now. Thanks."
    route = upstream.post(f"{SMALL_BASE}/completions")
    for offset in (0, 8, 12, len(text)):
        pieces = [p for p in (text[:offset], text[offset:]) if p]
        route.respond(
            text=sse([*(event(p) for p in pieces), event("", "stop")]),
            headers={"content-type": "text/event-stream"},
        )
        stream = sdk.completions.create(model="small", prompt="hi", stream=True)
        received = "".join(choice.text for part in stream for choice in part.choices)
        assert received == "Mail [EMAIL] now. Thanks.", offset
