"""A deterministic OpenAI-compatible server for end-to-end tests and benchmarks.

It answers chat (streamed or not, with a tool call when tools are offered), text
completions and embeddings without any model: `python -m gateway.fake_upstream --port 9000`.
A chat prompt starting with `upstream-error:` or `upstream-reject:` gets a 500 or a 400
whose message echoes the prompt, as some providers do; one starting with `slow-stream:` is
streamed a word every 0.3 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

__all__ = ["create_fake_upstream"]

Payload = dict[str, Any]


DEFAULT_REPLY = "Hello from the fake upstream."


def _reply_to(body: Payload, reply: str = DEFAULT_REPLY) -> Payload:
    """The assistant message: a tool call when tools are offered and none has run yet."""
    messages = body.get("messages", [])
    last = messages[-1] if messages else {}
    if body.get("tools") and last.get("role") != "tool":
        tool = body["tools"][0]["function"]["name"]
        return {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": tool, "arguments": '{"city": "Paris"}'},
                }
            ],
        }
    if last.get("role") == "tool":
        return {"role": "assistant", "content": f"The tool said: {last.get('content')}"}
    return {"role": "assistant", "content": reply}


def _usage() -> Payload:
    return {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10}


def _last_text(body: Payload) -> str:
    messages = body.get("messages") or [{}]
    content = messages[-1].get("content")
    return content if isinstance(content, str) else ""


def _scripted_failure(body: Payload) -> Response | None:
    """A prompt starting with `upstream-error:` or `upstream-reject:` gets a 500 or a 400 that echoes it."""
    text = _last_text(body)
    for prefix, status in (("upstream-error:", 500), ("upstream-reject:", 400)):
        if text.startswith(prefix):
            return JSONResponse(
                {"error": {"message": f"cannot handle: {text}", "type": "x"}}, status_code=status
            )
    return None


async def _chat(request: Request) -> Response:
    body = await request.json()
    failure = _scripted_failure(body)
    if failure is not None:
        return failure
    if request.app.state.delay:  # a model's time before it answers
        await asyncio.sleep(request.app.state.delay)
    message = _reply_to(body, request.app.state.reply)
    finish = "tool_calls" if message.get("tool_calls") else "stop"
    if body.get("stream"):
        slow = _last_text(body).startswith("slow-stream:")
        delay = 0.3 if slow else request.app.state.word_delay
        chunks = _chat_chunks(body["model"], message, finish, delay)
        return StreamingResponse(chunks, media_type="text/event-stream")
    return JSONResponse(
        {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
            "usage": _usage(),
        }
    )


async def _chat_chunks(model: str, message: Payload, finish: str, delay: float) -> AsyncIterator[bytes]:
    def chunk(delta: Payload, finish_reason: str | None = None) -> bytes:
        payload = {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        }
        return b"data: " + json.dumps(payload).encode() + b"\n\n"

    yield chunk({"role": "assistant", "content": ""})
    if message.get("tool_calls"):
        call = message["tool_calls"][0]
        yield chunk({"tool_calls": [{"index": 0, **call, "function": {**call["function"], "arguments": ""}}]})
        yield chunk({"tool_calls": [{"index": 0, "function": {"arguments": call["function"]["arguments"]}}]})
    else:
        for word in message["content"].split(" "):
            await asyncio.sleep(delay)
            yield chunk({"content": word + " "})
    yield chunk({}, finish)
    yield b"data: [DONE]\n\n"


async def _completions(request: Request) -> Response:
    body = await request.json()
    return JSONResponse(
        {
            "id": "cmpl-fake",
            "object": "text_completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [
                {"index": 0, "text": " from the fake upstream.", "finish_reason": "stop", "logprobs": None}
            ],
            "usage": _usage(),
        }
    )


async def _embeddings(request: Request) -> Response:
    body = await request.json()
    inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
    data = [{"object": "embedding", "index": i, "embedding": [0.1, 0.2, 0.3]} for i in range(len(inputs))]
    return JSONResponse({"object": "list", "data": data, "model": body["model"], "usage": _usage()})


async def _healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


def create_fake_upstream(
    reply: str = DEFAULT_REPLY, word_delay: float = 0.0, delay: float = 0.0
) -> Starlette:
    """The fake upstream as an ASGI app; a chat answer starts after `delay` seconds, and streamed
    replies send a word every `word_delay` seconds."""
    app = Starlette(
        routes=[
            Route("/healthz", _healthz),
            Route("/v1/chat/completions", _chat, methods=["POST"]),
            Route("/v1/completions", _completions, methods=["POST"]),
            Route("/v1/embeddings", _embeddings, methods=["POST"]),
        ]
    )
    app.state.reply = reply
    app.state.word_delay = word_delay
    app.state.delay = delay
    return app


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--reply", default=DEFAULT_REPLY, help="the assistant's answer")
    parser.add_argument("--word-delay", type=float, default=0.0, help="seconds between streamed words")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before a chat answer starts")
    args = parser.parse_args()
    app = create_fake_upstream(args.reply, args.word_delay, args.delay)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
