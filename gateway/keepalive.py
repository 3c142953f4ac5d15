"""The HTTP client under the openai SDK's calls: it keeps a streamed answer's connection for
the next call.

The SDK stops reading a stream at its `data: [DONE]` event and closes the response; the end of
HTTP/1.1's chunked body (a few bytes after that event) is then still unread, so the connection
is dropped rather than pooled, and the next streamed call opens a new one (against a provider:
a new TCP and TLS handshake). `KeepAliveClient` reads that rest before the response is closed,
when the last bytes seen end an event stream's `[DONE]`, for at most `DRAIN_SECONDS`; a stream
closed before its end (a client gone, a guard block) is closed at once as before, so the
provider stops generating.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import openai

__all__ = ["DRAIN_SECONDS", "KEEPALIVE_SECONDS", "KeepAliveClient"]

DRAIN_SECONDS = 0.05
# Idle connections are not reused after this long: under the 5 s after which uvicorn, Node and
# other servers close an idle connection, so the pool never hands out one the server is closing.
KEEPALIVE_SECONDS = 4.0
_DONE = b"[DONE]"
_TAIL = len(_DONE) + 8  # room for the event's line ends after it


class KeepAliveClient(openai.DefaultAsyncHttpxClient):
    """The openai SDK's default client (its limits, timeout and redirects), with event streams
    read to their end before they are closed."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault(
            "limits",
            httpx.Limits(
                max_connections=openai.DEFAULT_CONNECTION_LIMITS.max_connections,
                max_keepalive_connections=openai.DEFAULT_CONNECTION_LIMITS.max_keepalive_connections,
                keepalive_expiry=KEEPALIVE_SECONDS,
            ),
        )
        super().__init__(**kwargs)

    async def send(self, request: httpx.Request, *, stream: bool = False, **kwargs: Any) -> httpx.Response:
        response = await super().send(request, stream=stream, **kwargs)
        if stream and response.headers.get("content-type", "").startswith("text/event-stream"):
            response.stream = _ReadToEndAfterDone(response.stream)
        return response


class _ReadToEndAfterDone(httpx.AsyncByteStream):
    def __init__(self, stream: httpx.SyncByteStream | httpx.AsyncByteStream) -> None:
        if not isinstance(stream, httpx.AsyncByteStream):
            raise TypeError("an async client's response has an async stream")
        self._stream = stream
        self._chunks = stream.__aiter__()
        self._tail = b""
        self._ended = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._chunks:
            self._tail = (self._tail + chunk[-_TAIL:])[-_TAIL:]  # never a whole chunk copied
            yield chunk
        self._ended = True

    async def aclose(self) -> None:
        if not self._ended and self._tail.rstrip().endswith(_DONE):
            with contextlib.suppress(httpx.HTTPError, TimeoutError):
                async with asyncio.timeout(DRAIN_SECONDS):
                    async for _ in self._chunks:
                        pass
        await self._stream.aclose()
