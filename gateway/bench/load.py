"""Bounded load on loopback: `requests` chat completions, `concurrency` at a time."""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

__all__ = ["LoadResult", "chat_body", "load", "outcome", "percentile", "question"]

_FILTERED = re.compile(r'"finish_reason":\s*"content_filter"')

# Words that lengthen a prompt (`load(words=...)`), as a document pasted before the question does:
# plain prose with no personal data, so that every pass reads it and no policy acts on it.
PROSE = (
    "The quarterly planning meeting covered the budget for the coming year, the hiring plan for "
    "the support team, the move to the new office on the third floor and the schedule for the "
    "training sessions. The team agreed to review the supplier contracts before the end of the "
    "month and to share a summary of the customer survey with every department."
)
_PROSE_WORDS = PROSE.split()


@dataclass
class LoadResult:
    """What a load run saw: latencies (ms) of the answered requests, and the rest counted."""

    latencies: list[float] = field(default_factory=list)
    wall_s: float = 0.0
    blocked: int = 0  # a policy said no: an error answer or a `content_filter` finish
    # No answer (an error status, a broken connection, a stream cut short), counted by reason.
    failures: Counter[str] = field(default_factory=Counter)

    @property
    def failed(self) -> int:
        return sum(self.failures.values())

    def add(self, other: LoadResult) -> None:
        """Count `other` (another round of the same case) into this one."""
        self.latencies += other.latencies
        self.wall_s += other.wall_s
        self.blocked += other.blocked
        self.failures += other.failures


def failure_reason(status: int, text: str) -> str:
    """A failed request in a few words: its status and error code, or how its stream ended."""
    if status != 200:
        code = re.search(r'"code":\s*"([^"]+)"', text)
        return f"status {status}" + (f" {code.group(1)}" if code else "")
    return "stream cut short: " + (text.rstrip()[-60:] or "empty")


def outcome(status: int, text: str, stream: bool) -> Literal["answered", "blocked", "failed"]:
    """How one benchmark request ended, from its status and body.

    The benchmark's requests are well formed, so a 400 is a policy block, not a bad request.
    """
    if status == 400:
        return "blocked"
    if status != 200 or (stream and not text.rstrip().endswith("[DONE]")):
        return "failed"
    return "blocked" if _FILTERED.search(text) else "answered"


def question(tag: str, words: int = 0) -> str:
    """The benchmark's question, after `words` words of PROSE (repeated as needed); a `tag`
    (a request's own) makes it a new prompt."""
    context = " ".join(_PROSE_WORDS[i % len(_PROSE_WORDS)] for i in range(words))
    asked = f"What is the capital of France? (request {tag})" if tag else "What is the capital of France?"
    return f"{context}\n\n{asked}" if context else asked


def chat_body(content: str, stream: bool) -> dict[str, Any]:
    """A chat completion asking `content` of the benchmarks' alias, `small`."""
    return {"model": "small", "stream": stream, "messages": [{"role": "user", "content": content}]}


async def load(
    url: str,
    concurrency: int,
    requests: int,
    stream: bool,
    key: str,
    distinct: bool = False,
    words: int = 0,
) -> LoadResult:
    """`requests` calls made `concurrency` at a time: latencies of the answered ones, blocks, failures.

    With `distinct`, every prompt is new (the guard's verdict cache never has it); otherwise
    every request asks the same question. `words` lengthens each prompt by that many words of
    prose before the question (a long prompt's passes run on every core).
    """
    salt = secrets.token_hex(4)

    def body(i: int) -> dict[str, Any]:
        return chat_body(question(f"{salt}-{i}" if distinct else "", words), stream)

    result = LoadResult()
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(requests):
        queue.put_nowait(i)

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            i = queue.get_nowait()
            started = time.perf_counter()
            try:
                response = await client.post(
                    f"{url}/chat/completions", json=body(i), headers={"Authorization": f"Bearer {key}"}
                )
                ended = outcome(response.status_code, response.text, stream)
                reason = failure_reason(response.status_code, response.text) if ended == "failed" else ""
            except httpx.HTTPError as exc:
                ended, reason = "failed", type(exc).__name__
            if ended == "answered":
                result.latencies.append((time.perf_counter() - started) * 1000)
            elif ended == "blocked":
                result.blocked += 1
            else:
                result.failures[reason] += 1

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        result.wall_s = time.perf_counter() - started
    return result


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")
