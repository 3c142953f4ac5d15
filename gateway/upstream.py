"""The only module that talks to upstream models: litellm calls, fallbacks, error translation."""

from __future__ import annotations

import contextvars
import json
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

import httpx
import openai
import structlog

from gateway.config import GatewayConfig
from gateway.errors import (
    GatewayError,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
)
from gateway.keepalive import KeepAliveClient

# litellm fetches a price map over the network at import unless told otherwise.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm
from litellm import main as litellm_main
from litellm import utils as litellm_utils
from litellm.litellm_core_utils.litellm_logging import Logging as LitellmLogging
from litellm.litellm_core_utils.streaming_handler import CustomStreamWrapper

__all__ = ["SetUpOnTheLoop", "Upstream"]

log = structlog.get_logger(__name__)

Payload = dict[str, Any]
# litellm adds these to what OpenAI returns; clients never asked for them.
_LITELLM_ONLY_FIELDS = frozenset({"provider_specific_fields", "citations", "moderation"})


@dataclass(frozen=True, slots=True)
class _Target:
    """One resolved deployment: what litellm needs to reach it."""

    label: str
    kwargs: Mapping[str, Any]
    missing_key_env: str | None


class Upstream:
    """Calls the deployments behind a model alias, falling back in order when one fails."""

    def __init__(self, config: GatewayConfig, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        # One HTTP stack for tests and production: httpx (respx can see it).
        litellm.disable_aiohttp_transport = True
        litellm.suppress_debug_info = True
        skip_unused_bookkeeping()
        if litellm.aclient_session is None:  # the openai SDK's calls: streams keep their connection
            litellm.aclient_session = KeepAliveClient()
        self._targets: dict[str, list[_Target]] = {}
        for alias, spec in config.models.items():
            targets = []
            for index, dep in enumerate(spec.deployments):
                kwargs: dict[str, Any] = {
                    "model": dep.model,
                    "timeout": dep.timeout or config.upstream.timeout,
                    "num_retries": config.upstream.num_retries,
                }
                if dep.api_base:
                    kwargs["api_base"] = dep.api_base
                key = env.get(dep.api_key_env) if dep.api_key_env else None
                if key:
                    kwargs["api_key"] = key
                missing = dep.api_key_env if dep.api_key_env and not key else None
                if missing:
                    log.warning("upstream.api_key_missing", alias=alias, deployment=index, env=missing)
                targets.append(_Target(f"{alias}[{index}]", kwargs, missing))
            self._targets[alias] = targets

    async def warm_up(self) -> None:
        """One chat completion and one streamed, through litellm's OpenAI path to answers made
        in-process (nothing leaves the process). A first call imports and builds what later
        calls reuse (the openai SDK's resources and types, litellm's provider code, their
        pydantic models): some 700 ms on a 2-core EPYC, which the first client would otherwise
        wait out after the gateway said it was ready. Never raises: a failure is logged, and
        the first request pays as before."""
        started = time.perf_counter()
        http = httpx.AsyncClient(transport=httpx.MockTransport(_warm_up_answer))
        client = openai.AsyncOpenAI(
            api_key="warm-up", base_url=_WARM_UP_BASE, http_client=http, max_retries=0
        )
        params = {
            "model": "openai/warm-up",
            "messages": [{"role": "user", "content": "Hi"}],
            "client": client,
        }
        try:
            with translate_errors():
                _as_openai(await _acompletion(**params))
                stream = await _acompletion(stream=True, **params)
                async for _ in _relay(stream, await anext(stream)):
                    pass
        except Exception as exc:  # noqa: BLE001 - optional: the first request meets whatever broke it
            log.warning("upstream.warm_up_failed", error=f"{type(exc).__name__}: {exc}")
        else:
            log.info("upstream.warmed_up", ms=round(1000 * (time.perf_counter() - started)))
        finally:
            await client.close()

    def aliases(self) -> list[str]:
        """The model aliases clients may ask for, in configuration order."""
        return list(self._targets)

    def has_alias(self, alias: str) -> bool:
        return alias in self._targets

    async def chat(self, alias: str, params: Payload) -> Payload:
        """A non-streamed chat completion in OpenAI's shape."""
        response = await self._with_fallbacks(alias, _acompletion, params)
        return _as_openai(response)

    async def chat_stream(self, alias: str, params: Payload) -> AsyncIterator[Payload]:
        """A streamed chat completion; the first chunk is awaited before this returns,
        so connection errors still fall back and surface as a proper HTTP status."""
        return await self._open_stream(alias, _acompletion, params)

    async def completion(self, alias: str, params: Payload) -> Payload:
        """A legacy text completion."""
        response = await self._with_fallbacks(alias, litellm.atext_completion, params)
        return _as_openai(response)

    async def completion_stream(self, alias: str, params: Payload) -> AsyncIterator[Payload]:
        """A streamed legacy text completion."""
        return await self._open_stream(alias, litellm.atext_completion, params)

    async def embedding(self, alias: str, params: Payload) -> Payload:
        """Embeddings for `params["input"]`."""
        response = await self._with_fallbacks(alias, litellm.aembedding, params)
        return _as_openai(response)

    async def _open_stream(
        self, alias: str, call: Callable[..., Awaitable[Any]], params: Payload
    ) -> AsyncIterator[Payload]:
        async def open_and_peek(**kwargs: Any) -> tuple[Any, Any]:
            stream = await call(stream=True, **kwargs)
            try:
                first = await stream.__anext__()
            except StopAsyncIteration:
                first = None
            return stream, first

        stream, first = await self._with_fallbacks(alias, open_and_peek, params)
        return _relay(stream, first)

    async def _with_fallbacks(self, alias: str, call: Callable[..., Awaitable[Any]], params: Payload) -> Any:
        targets = self._targets[alias]
        for index, target in enumerate(targets):
            is_last = index == len(targets) - 1
            try:
                if target.missing_key_env:
                    raise UpstreamError(
                        f"The deployment {target.label} has no API key: "
                        f"set the environment variable {target.missing_key_env}."
                    )
                with translate_errors():
                    return await call(**params, **target.kwargs)
            except UpstreamRejected:
                raise  # the request itself is at fault; another deployment will not help
            except UpstreamError as exc:
                log.warning(
                    "upstream.failed",
                    deployment=target.label,
                    status=exc.status_code,
                    code=exc.code,
                    cause=type(exc.__cause__).__name__ if exc.__cause__ else None,
                    fallback=not is_last,
                )
                if is_last:
                    raise
        raise AssertionError("unreachable: an alias always has a deployment")


def _has_success_callbacks() -> bool:
    return bool(litellm.callbacks or litellm.success_callback or litellm._async_success_callback)


_LITELLM_SCHEDULE_SUCCESS_LOGGING = litellm_utils._schedule_async_success_logging
_LITELLM_UPDATE_RESPONSE_METADATA = getattr(litellm_utils, "update_response_metadata")  # noqa: B009
_LITELLM_DISPATCH_SUCCESS = LitellmLogging.dispatch_success_handlers


def _schedule_success_logging_if_needed(**kwargs: Any) -> None:
    if _has_success_callbacks():
        _LITELLM_SCHEDULE_SUCCESS_LOGGING(**kwargs)


def _update_metadata_if_needed(**kwargs: Any) -> None:
    if _has_success_callbacks() or isinstance(kwargs.get("result"), CustomStreamWrapper):
        _LITELLM_UPDATE_RESPONSE_METADATA(**kwargs)


async def _dispatch_success_if_needed(self: LitellmLogging, *args: Any, **kwargs: Any) -> None:
    if _has_success_callbacks():
        await _LITELLM_DISPATCH_SUCCESS(self, *args, **kwargs)


def skip_unused_bookkeeping() -> None:
    """After every call litellm prices the response (`response_cost` in its hidden params, and
    again for a stream once it ends) and runs its success callbacks. The gateway reads neither
    (it keeps its own audit log and registers no litellm callback), and together they cost about
    0.9 ms of CPU a non-streamed call (`shieldgate bench upstream`), so they are skipped while no
    litellm success callback is registered; a stream's own metadata is left alone (litellm's
    stream wrapper reads it). The three hooks are `litellm.utils` functions it looks up at each
    call and a method of its logging object, in the range pinned in pyproject.toml
    (tests/test_upstream.py fails if litellm stops calling them)."""
    setattr(litellm_utils, "_schedule_async_success_logging", _schedule_success_logging_if_needed)  # noqa: B010
    setattr(litellm_utils, "update_response_metadata", _update_metadata_if_needed)  # noqa: B010
    setattr(LitellmLogging, "dispatch_success_handlers", _dispatch_success_if_needed)  # noqa: B010


class SetUpOnTheLoop(ThreadPoolExecutor):
    """An event loop's default executor that runs litellm's request set-up where it is called.

    `litellm.acompletion` hands its synchronous `completion()` (which for an async call only
    builds the request and returns a coroutine: no I/O) to the loop's default executor, and
    waits for a worker thread to run it and wake the loop again, on every call. This executor
    runs that one function at once, on the loop; anything else submitted (`asyncio.to_thread`,
    `loop.getaddrinfo`) goes to its threads as usual."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        if not _is_litellm_set_up(fn):
            return super().submit(fn, *args, **kwargs)
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as error:  # noqa: BLE001 -- handed to the awaiting caller
            future.set_exception(error)
        return future


def _is_litellm_set_up(fn: Callable[..., Any]) -> bool:
    """Is `fn` what litellm's acompletion runs in the executor: `partial(context.run,
    partial(completion, ..., acompletion=True))`?"""
    if not (isinstance(fn, partial) and isinstance(getattr(fn.func, "__self__", None), contextvars.Context)):
        return False
    inner = fn.args[0] if fn.args else None
    return (
        isinstance(inner, partial)
        and inner.func is litellm_main.completion
        and inner.keywords.get("acompletion") is True
    )


_WARM_UP_BASE = "http://warm-up.invalid/v1"  # never reached: the transport answers in-process
_WARM_UP_REPLY = {
    "id": "warm-up",
    "object": "chat.completion",
    "created": 0,
    "model": "warm-up",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello."}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
}
_WARM_UP_CHUNKS = [
    {"index": 0, "delta": {"role": "assistant", "content": "Hello"}, "finish_reason": None},
    {"index": 0, "delta": {"content": "."}, "finish_reason": "stop"},
]


def _warm_up_answer(request: httpx.Request) -> httpx.Response:
    """The warm-up's upstream: a chat completion, or its stream of chunks."""
    if not json.loads(request.content).get("stream"):
        return httpx.Response(200, json=_WARM_UP_REPLY)
    events = [
        {
            "id": "warm-up",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "warm-up",
            "choices": [choice],
        }
        for choice in _WARM_UP_CHUNKS
    ]
    body = "".join(f"data: {json.dumps(event)}\n\n" for event in events) + "data: [DONE]\n\n"
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body.encode())


async def _acompletion(**kwargs: Any) -> Any:
    # litellm would otherwise treat any `tools` as a possible MCP bridge request: it
    # imports its proxy extras and may call out to MCP servers a client names. The
    # gateway only relays tools, so that path stays off.
    return await litellm.acompletion(_skip_mcp_handler=True, **kwargs)


async def _relay(stream: Any, first: Any) -> AsyncIterator[Payload]:
    """Yield the peeked chunk, then the rest, translating errors; always close upstream."""
    try:
        if first is None:
            return
        yield _as_openai(first)
        with translate_errors():
            async for chunk in stream:
                yield _as_openai(chunk)
    finally:
        close = getattr(stream, "aclose", None)
        if close is not None:
            with translate_errors():
                await close()


def _as_openai(response: Any) -> Payload:
    """litellm's response object as the plain OpenAI JSON shape."""
    # warnings=False: litellm types embeddings as floats even when base64 strings were asked for.
    data: Payload = response.model_dump(exclude_none=True, warnings=False)
    _strip(data)
    return data


def _strip(value: Any) -> None:
    if isinstance(value, dict):
        for key in _LITELLM_ONLY_FIELDS & value.keys():
            del value[key]
        for item in value.values():
            _strip(item)
    elif isinstance(value, list):
        for item in value:
            _strip(item)


@contextmanager
def translate_errors() -> Iterator[None]:
    """Map litellm/openai exceptions (litellm's subclass openai's) to the gateway's tree."""
    try:
        yield
    except GatewayError:
        raise
    except openai.APITimeoutError as exc:
        raise UpstreamTimeout("The upstream model did not answer in time.") from exc
    except openai.APIConnectionError as exc:
        raise UpstreamError("The upstream model could not be reached.") from exc
    except openai.APIStatusError as exc:
        # litellm keeps the provider's headers aside; only Retry-After is ever read.
        headers = getattr(exc, "litellm_response_headers", None) or exc.response.headers
        raise _from_status(exc.status_code, exc.message, headers) from exc
    except openai.OpenAIError as exc:
        status = getattr(exc, "status_code", None)
        if isinstance(status, int):
            raise _from_status(status, str(exc), {}) from exc
        raise UpstreamError("The upstream model failed.") from exc


def _from_status(status: int, message: str, headers: Mapping[str, str]) -> UpstreamError:
    if status == 408:
        return UpstreamTimeout("The upstream model did not answer in time.")
    if status == 429:
        retry_after = headers.get("retry-after")
        return UpstreamRateLimited(
            "The upstream model is rate limited; retry later.",
            headers={"Retry-After": retry_after} if retry_after else None,
        )
    if status in (400, 413, 422):
        return UpstreamRejected(f"The upstream model rejected the request: {message}")
    if status in (401, 403):
        return UpstreamError("The upstream provider refused the gateway's credentials.")
    return UpstreamError(f"The upstream model failed with status {status}.")
