"""Latency and throughput of the guard alone, in process, with no HTTP around it.

Batch 1 on one onnxruntime thread (one CPU core) and on every thread (a call of any length,
not only from SHORT_CALL_TOKENS on as the gateway does); the two passes of a request whose
verdicts are not cached, a new prompt and then the fake upstream's answer to it, on one thread;
a batch of 8 prompts scored one after
the other and side by side (one a core); then concurrent callers through the micro-batcher the
gateway uses, for prompts of `tokens` tokens.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from gateway.fake_upstream import DEFAULT_REPLY
from gateway.guard import Guard, GuardInput, GuardModel, bundled_guard_dir

__all__ = ["percentiles", "prompt_of", "run", "time_calls"]

BATCH = 8  # texts of the batch timed one after the other and side by side

WORDS = [
    "please",
    "summarise",
    "the",
    "quarterly",
    "report",
    "for",
    "the",
    "board",
    "and",
    "list",
    "every",
    "risk",
    "the",
    "finance",
    "team",
    "raised",
    "about",
    "supplier",
    "contracts",
    "currency",
    "exposure",
    "hiring",
    "plans",
    "and",
    "the",
    "new",
    "office",
    "lease",
]


def prompt_of(model: GuardModel, tokens: int, salt: int = 0) -> str:
    """A prompt of exactly `tokens` tokens with [CLS] and [SEP], different for each `salt`."""
    words = [str(salt), *WORDS]
    text = ""
    i = 0
    while model.count_tokens(text) < tokens:
        text = f"{text} {words[i % len(words)]}".strip()
        i += 1
    return text


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    return {
        "p50_ms": round(statistics.median(ordered), 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 2),
    }


def time_calls(call: Callable[[], object], runs: int, warmup: int) -> dict[str, float]:
    """p50 and p99 of `runs` calls to `call`, after `warmup` untimed ones, and the process's
    CPU a call (every thread's: onnxruntime's pool included)."""
    for _ in range(warmup):
        call()
    samples = []
    cpu_started = time.process_time()
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    cpu_ms = (time.process_time() - cpu_started) * 1000 / runs
    return {**percentiles(samples), "cpu_ms": round(cpu_ms, 2)}


async def _concurrent(guard: Guard, texts: list[str], level: int) -> dict[str, Any]:
    queue = list(texts)
    samples: list[float] = []

    async def caller() -> None:
        while queue:
            text = queue.pop()
            started = time.perf_counter()
            await guard.score(GuardInput(text))
            samples.append((time.perf_counter() - started) * 1000)

    batches_before = guard.batches
    started = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(level)))
    elapsed = time.perf_counter() - started
    return {
        "concurrency": level,
        **percentiles(samples),
        "texts_per_second": round(len(samples) / elapsed, 1),
        "mean_batch": round(len(samples) / max(guard.batches - batches_before, 1), 1),
    }


def run(
    tokens: int, runs: int, levels: list[int], output: Path | None, model_dir: Path | None = None
) -> dict[str, Any]:
    directory = model_dir or bundled_guard_dir()
    single = GuardModel(directory, threads=1)
    text = prompt_of(single, tokens)
    results: dict[str, Any] = {"tokens": tokens, "runs": runs}
    results["batch1_one_thread"] = time_calls(lambda: single.score([GuardInput(text)]), runs, warmup=10)
    print(f"batch 1, 1 thread, {tokens} tokens: {results['batch1_one_thread']}", flush=True)
    prompts = iter([prompt_of(single, tokens, salt) for salt in range(runs + 10)])

    def prompt_then_response() -> None:
        prompt = next(prompts)
        single.score([GuardInput(prompt)])
        single.score([GuardInput(DEFAULT_REPLY, prompt=prompt)])

    results["prompt_then_response_one_thread"] = time_calls(prompt_then_response, runs, warmup=10)
    print(
        f"a new prompt of {tokens} tokens, then a response to it, 1 thread: "
        f"{results['prompt_then_response_one_thread']}",
        flush=True,
    )
    every_thread = GuardModel(directory, short_tokens=0)
    results["batch1_all_threads"] = time_calls(
        lambda: every_thread.score([GuardInput(text)]), runs, warmup=10
    )
    print(f"batch 1, all threads, {tokens} tokens: {results['batch1_all_threads']}", flush=True)
    model = GuardModel(directory)  # as the gateway has it
    batch = [GuardInput(prompt_of(model, tokens, salt)) for salt in range(BATCH)]
    for name, scorer in (("one_after_another", GuardModel(directory, parallel=1)), ("side_by_side", model)):
        figures = time_calls(partial(scorer.score, batch), max(runs // BATCH, 1), warmup=2)
        figures["texts_per_second"] = round(BATCH * 1000 / figures["p50_ms"], 1)
        results[f"batch{BATCH}_{name}"] = figures
        print(f"batch of {BATCH}, {name.replace('_', ' ')}, {tokens} tokens: {figures}", flush=True)
    guard = Guard(model)
    results["concurrent"] = []
    for level in levels:
        texts = [prompt_of(model, tokens, salt) for salt in range(runs)]
        row = asyncio.run(_concurrent(guard, texts, level))
        results["concurrent"].append(row)
        print(f"concurrency {level}: {row}", flush=True)
    if output is not None:
        output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return results
