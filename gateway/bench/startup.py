"""How long a new gateway takes to report ready, and to answer its first requests.

`shieldgate serve` is started `runs` times in front of the fake upstream, with its defaults;
each time, once /readyz answers, two non-streamed and two streamed chat completions (new
prompts) go one at a time. A first request pays for whatever nothing did before it: modules
imported on first use, objects built on first use, the models' first passes.
"""

from __future__ import annotations

import json
import secrets
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from gateway.bench.load import chat_body, failure_reason, question
from gateway.bench.processes import gateway_process, upstream_process

__all__ = ["CALLS", "run"]

# (column, streamed): the requests each new gateway answers, in this order.
CALLS = (
    ("first_json_ms", False),
    ("second_json_ms", False),
    ("first_stream_ms", True),
    ("second_stream_ms", True),
)


def run(runs: int, output: Path | None, checkout: Path | None = None) -> dict[str, Any]:
    """Start a gateway `runs` times (from the package in `checkout` when given); prints and
    returns each start's figures and their medians, and writes them to `output` as JSON.
    RuntimeError when a request is not answered."""
    rows: list[dict[str, float]] = []
    with (
        tempfile.TemporaryDirectory() as workdir,
        upstream_process("The capital of France is Paris.", 0.0) as up,
    ):
        for index in range(runs):
            started = time.perf_counter()
            with gateway_process(up, Path(workdir), {}, checkout) as (url, _pid):
                row = {"ready_s": round(time.perf_counter() - started, 2)}
                with httpx.Client(timeout=60) as client:
                    for column, stream in CALLS:
                        row[column] = _answered_ms(client, url, stream)
            rows.append(row)
            print(f"start {index + 1}: " + ", ".join(f"{key} {value:g}" for key, value in row.items()))
    medians = {key: round(statistics.median(row[key] for row in rows), 2) for key in rows[0]}
    print("median: " + ", ".join(f"{key} {value:g}" for key, value in medians.items()))
    result = {"runs": rows, "median": medians, "checkout": str(checkout) if checkout else None}
    if output is not None:
        output.write_text(json.dumps(result, indent=2) + "\n")
    return result


def _answered_ms(client: httpx.Client, url: str, stream: bool) -> float:
    """Milliseconds until a chat completion (streamed: its whole stream) is answered."""
    started = time.perf_counter()
    response = client.post(f"{url}/chat/completions", json=chat_body(question(secrets.token_hex(4)), stream))
    elapsed = round((time.perf_counter() - started) * 1000, 1)
    if response.status_code != 200:
        raise RuntimeError(
            f"the gateway did not answer: {failure_reason(response.status_code, response.text)}"
        )
    return elapsed
