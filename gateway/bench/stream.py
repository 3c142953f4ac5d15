"""Time to first token added by the gateway to a streamed chat completion.

Runs the fake upstream (streaming its answer a word at a time) and `shieldgate serve` in front
of it on loopback, then sends the same streamed request to each, one at a time, and reports
the time to the first content token and to the end of the stream.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from gateway.bench.load import chat_body
from gateway.bench.processes import gateway_process, upstream_process

__all__ = ["run"]

REPLY = (
    "Here is a short answer to your question. It has three sentences, like many answers do. "
    "The last one ends the stream."
)


def _one(client: httpx.Client, url: str) -> tuple[float, float]:
    body = chat_body("Tell me something.", stream=True)
    started = time.perf_counter()
    first: float | None = None
    with client.stream("POST", f"{url}/chat/completions", json=body) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if first is None and line.startswith("data: {"):
                choices = json.loads(line[6:]).get("choices") or [{}]
                if choices[0].get("delta", {}).get("content"):
                    first = time.perf_counter()
    end = time.perf_counter()
    return ((first or end) - started) * 1000, (end - started) * 1000


def _measure(url: str, requests: int, warmup: int) -> dict[str, float]:
    with httpx.Client(timeout=60) as client:
        for _ in range(warmup):
            _one(client, url)
        samples = [_one(client, url) for _ in range(requests)]
    ttft = sorted(s[0] for s in samples)
    total = sorted(s[1] for s in samples)
    return {
        "ttft_p50_ms": round(statistics.median(ttft), 2),
        "ttft_p95_ms": round(ttft[int(0.95 * (len(ttft) - 1))], 2),
        "total_p50_ms": round(statistics.median(total), 2),
    }


def run(
    requests: int = 50, warmup: int = 5, word_delay: float = 0.02, tail: int = 32, output: Path | None = None
) -> dict[str, Any]:
    """Measure direct and through the gateway in each hold mode; print a table, return the figures."""
    rows: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as workdir, upstream_process(REPLY, word_delay) as upstream:
        rows["direct"] = _measure(upstream, requests, warmup)
        for hold in ("sentence", "tail"):
            settings = {"stream_hold": hold, "stream_tail_chars": str(tail)}
            with gateway_process(upstream, Path(workdir), settings) as (gateway, _):
                rows[f"gateway ({hold})"] = _measure(gateway, requests, warmup)
    print(f"{'':18} {'TTFT p50':>9} {'TTFT p95':>9} {'total p50':>10}   (ms, {requests} requests)")
    for name, row in rows.items():
        added = (
            "" if name == "direct" else f"   +{row['ttft_p50_ms'] - rows['direct']['ttft_p50_ms']:.1f} TTFT"
        )
        print(f"{name:18} {row['ttft_p50_ms']:>9} {row['ttft_p95_ms']:>9} {row['total_p50_ms']:>10}{added}")
    result = {
        "requests": requests,
        "word_delay_ms": word_delay * 1000,
        "tail": tail,
        "reply": REPLY,
        "results": rows,
    }
    if output is not None:
        output.write_text(json.dumps(result, indent=2) + "\n")
    return result
