"""Oversized request bodies are refused with 413 in OpenAI's error shape."""

from __future__ import annotations

from collections.abc import Iterator

import httpx


def test_declared_oversized_body_is_413(client: httpx.Client) -> None:
    """A Content-Length over the limit (64 KiB in the test settings) is refused up front."""
    response = client.post("/v1/chat/completions", content=b"x" * (65 * 1024))

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"


def test_streamed_oversized_body_is_413(client: httpx.Client) -> None:
    """A chunked body with no Content-Length is counted as it arrives."""

    def body() -> Iterator[bytes]:
        for _ in range(80):
            yield b"y" * 1024

    response = client.post("/v1/chat/completions", content=body())

    assert response.status_code == 413
    assert response.json()["error"]["type"] == "invalid_request_error"
