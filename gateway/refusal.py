"""The gateway's own answer when a policy refuses a request: a normal completion, no upstream."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

__all__ = ["refusal_chunks", "refusal_completion"]

Payload = dict[str, Any]


def refusal_completion(endpoint: str, model: str, message: str) -> Payload:
    """A chat or text completion whose only choice is `message`, finished by the content filter."""
    if endpoint == "chat.completions":
        choice: Payload = {"index": 0, "message": {"role": "assistant", "content": message}}
        kind, prefix = "chat.completion", "chatcmpl"
    else:
        choice = {"index": 0, "text": message, "logprobs": None}
        kind, prefix = "text_completion", "cmpl"
    choice["finish_reason"] = "content_filter"
    return {
        "id": f"{prefix}-{uuid.uuid4().hex}",
        "object": kind,
        "created": int(time.time()),
        "model": model,
        "choices": [choice],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
    }


async def refusal_chunks(endpoint: str, model: str, message: str) -> AsyncIterator[Payload]:
    """The same answer as a stream: the text in one chunk, then the finish reason."""
    whole = refusal_completion(endpoint, model, message)
    base = {key: whole[key] for key in ("id", "created", "model")}
    if endpoint == "chat.completions":
        base["object"] = "chat.completion.chunk"
        yield {
            **base,
            "choices": [
                {"index": 0, "delta": {"role": "assistant", "content": message}, "finish_reason": None}
            ],
        }
        yield {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "content_filter"}]}
    else:
        base["object"] = "text_completion"
        yield {**base, "choices": [{"index": 0, "text": message, "finish_reason": None, "logprobs": None}]}
        yield {
            **base,
            "choices": [{"index": 0, "text": "", "finish_reason": "content_filter", "logprobs": None}],
        }
