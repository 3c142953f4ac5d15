"""Each request gets an id, returned to the client and bound to its log lines."""

from __future__ import annotations

import time

import httpx
import pytest
import structlog
from structlog.testing import capture_logs


def test_request_id_is_generated_and_logged(client: httpx.Client) -> None:
    """A request without X-Request-ID gets a fresh one, echoed and logged on completion."""
    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        response = client.get("/v1/models")
        # The line is written once the response has gone out, so it may trail the response.
        deadline = time.monotonic() + 5
        while (
            not any(entry["event"] == "request.completed" for entry in logs) and time.monotonic() < deadline
        ):
            time.sleep(0.01)

    request_id = response.headers["x-request-id"]
    assert len(request_id) == 32
    done = [entry for entry in logs if entry["event"] == "request.completed"]
    assert done == [
        {
            "event": "request.completed",
            "log_level": "info",
            "request_id": request_id,
            "method": "GET",
            "path": "/v1/models",
            "status": 200,
            "duration_ms": done[0]["duration_ms"],
        }
    ]


@pytest.mark.parametrize(
    ("sent", "kept"), [("trace-123.abc", True), ("bad id with spaces", False), ("x" * 65, False)]
)
def test_client_request_id_is_kept_only_when_sane(client: httpx.Client, sent: str, kept: bool) -> None:
    """A well-formed client id is reused; anything else is replaced."""
    response = client.get("/healthz", headers={"X-Request-ID": sent})

    assert (response.headers["x-request-id"] == sent) is kept
