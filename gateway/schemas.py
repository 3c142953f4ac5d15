"""Request bodies the gateway accepts, as OpenAI defines them.

Only OpenAI's own parameters are accepted (`extra="forbid"`): anything else could be a
litellm option such as `api_base` that must never come from a client. The validated
body is forwarded as the client sent it; these models only check it.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.errors import InvalidRequest

__all__ = [
    "ChatCompletionRequest",
    "CompletionRequest",
    "EmbeddingRequest",
    "ModerationRequest",
    "parse_body",
]

Payload = dict[str, Any]


class _OpenAIRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1)


class ChatMessage(BaseModel):
    """One message; fields beyond role and content (tool_calls, name, ...) pass through."""

    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[dict[str, Any]] | None = None


class ChatCompletionRequest(_OpenAIRequest):
    """`POST /v1/chat/completions`."""

    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    functions: list[dict[str, Any]] | None = None
    function_call: str | dict[str, Any] | None = None
    response_format: dict[str, Any] | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    n: int | None = None
    stop: str | list[str] | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    logit_bias: dict[str, float] | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    seed: int | None = None
    user: str | None = None
    reasoning_effort: str | None = None
    modalities: list[str] | None = None
    audio: dict[str, Any] | None = None
    prediction: dict[str, Any] | None = None
    service_tier: str | None = None
    web_search_options: dict[str, Any] | None = None


class CompletionRequest(_OpenAIRequest):
    """`POST /v1/completions` (legacy text completions)."""

    prompt: str | list[str] | list[int] | list[list[int]]
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    n: int | None = None
    stop: str | list[str] | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    logit_bias: dict[str, float] | None = None
    logprobs: int | None = None
    echo: bool | None = None
    best_of: int | None = None
    suffix: str | None = None
    seed: int | None = None
    user: str | None = None


class EmbeddingRequest(_OpenAIRequest):
    """`POST /v1/embeddings`."""

    input: str | list[str] | list[int] | list[list[int]]
    encoding_format: Literal["float", "base64"] | None = None
    dimensions: int | None = None
    user: str | None = None


class ModerationTextInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["text"]
    text: str


class ModerationRequest(BaseModel):
    """`POST /v1/moderations`: text only (image inputs are refused with a clear message)."""

    model_config = ConfigDict(extra="forbid")

    input: str | list[str] | list[ModerationTextInput]
    model: str | None = None


def parse_body(raw: bytes, schema: type[BaseModel]) -> Payload:
    """Decode and check a JSON body; returns it as sent, or raises `InvalidRequest`."""
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidRequest(
            "We could not parse the JSON body of your request: "
            f"{getattr(exc, 'msg', 'not UTF-8')} (position {getattr(exc, 'pos', 0)})."
        ) from exc
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    try:
        schema.model_validate(body)
    except ValidationError as exc:
        raise _invalid(exc) from exc
    return body


def _invalid(exc: ValidationError) -> InvalidRequest:
    error = exc.errors()[0]
    param = ".".join(str(part) for part in error["loc"]) or None
    if error["type"] == "extra_forbidden":
        message = f"Unrecognized request argument supplied: {param}"
    elif error["type"] == "missing":
        message = f"Missing required parameter: '{param}'."
    else:
        # pydantic's message only, never the offending value: it may be a prompt.
        message = f"Invalid value for '{param}': {error['msg']}."
    more = len(exc.errors()) - 1
    if more:
        message += f" ({more} more problem{'s' if more > 1 else ''} in the request.)"
    return InvalidRequest(message, param=param)
