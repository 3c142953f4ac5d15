"""Where a guarded request's time goes: py-spy samples the gateway under a bounded load.

One run starts the fake upstream and the gateway (its defaults: guard, PII recognizers and
the bundled policy) on loopback, attaches py-spy to the gateway, sends `requests` chat
completions `concurrency` at a time (each a new prompt, so the guard's verdict cache never
has it; with `warm`, one question every time), and sorts the samples of busy threads into a
few parts of the request path. Each part is shown as CPU milliseconds per request (samples /
rate / requests) and as its share of all busy samples; the gateway's CPU time from /proc that
no sample explains (onnxruntime's own threads are not Python threads) is shown apart, and so
is the kernel's share of it all. The raw stacks can be kept (`--output`) for any flame-graph
tool.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from gateway.bench.load import load
from gateway.bench.processes import Usage, gateway_process, upstream_process

__all__ = ["KERNEL", "LOOP", "PARTS", "UNSEEN", "part_of", "py_spy", "run", "tally"]

# In the order they are shown; `part_of` says which one a sample belongs to.
PARTS = (
    "model inference (onnxruntime)",
    "model input and output (tokenizing, padding, scores)",
    "upstream call (litellm, openai SDK, httpx)",
    "scanning and policy on the event loop",
    "audit log",
    "HTTP server and framework (uvicorn, FastAPI)",
    "event loop's native code (uvloop, some of it waiting)",
    "other threads",
)


def py_spy() -> str:
    """The py-spy binary beside this Python, or on PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    found = str(beside) if beside.exists() else shutil.which("py-spy")
    if found is None:
        raise RuntimeError("py-spy is not installed: pip install 'shieldgate[dev]' (or just py-spy)")
    return found


UNSEEN = "not sampled (onnxruntime pool, native code, kernel)"
KERNEL = "of all: kernel time (sockets, waking threads)"
LOOP = "of all: the event loop's thread"

# Leaf frames of a thread that waits; py-spy without blocking the process sometimes counts them busy.
WAITING = (
    "EpollSelector.select (selectors.py",
    "Condition.wait (threading.py",
    "_worker (concurrent/futures/thread.py",
)
# The innermost Python frame while uvloop's loop (compiled) runs its own code, or waits in it:
# py-spy cannot tell the two apart there.
NATIVE_LOOP = ("Runner.run (asyncio/runners.py",)
# py-spy names installed modules from their package (`litellm/utils.py`), deep ones by file alone.
UPSTREAM = ("gateway/upstream.py", "(litellm", "(openai", "(httpx/", "(httpcore/")
SCANNING = ("gateway/pipeline.py", "gateway/scanners.py", "gateway/streamguard.py", "gateway/cache/")


def part_of(thread: str, frames: list[str]) -> str | None:
    """The part of the request path a sampled stack (outermost frame first) belongs to;
    None for a thread that only waits."""
    if not frames or frames[-1].startswith(WAITING):
        return None
    stack = ";".join(frames)
    if "onnxruntime" in stack:
        return PARTS[0]
    if "gateway/guard/model.py" in stack or "gateway/pii/model.py" in stack:
        return PARTS[1]
    if any(marker in stack for marker in UPSTREAM):  # litellm also logs in tasks and threads of its own
        return PARTS[2]
    if "audit" in thread or "gateway/audit/" in stack:
        return PARTS[4]
    if "MainThread" not in thread:
        return PARTS[7]
    if any(marker in stack for marker in SCANNING):
        return PARTS[3]
    if frames[-1].startswith(NATIVE_LOOP):
        return PARTS[6]
    return PARTS[5]


def tally(lines: Iterable[str]) -> Counter[str]:
    """Samples per part, from py-spy's raw output (`thread;frame;...;frame count` per line)."""
    counts: Counter[str] = Counter()
    for line in lines:
        stack, _, count = line.rstrip("\n").rpartition(" ")
        if not stack or not count.isdigit():
            continue
        thread, *frames = stack.split(";")
        part = part_of(thread, frames)
        if part is not None:
            counts[part] += int(count)
    return counts


def run(
    requests: int,
    concurrency: int,
    stream: bool,
    rate: int,
    pii: bool,
    output: Path | None,
    warm: bool = False,
    words: int = 0,
) -> dict[str, float]:
    """Profile the gateway under load; print and return CPU ms per request for each part.
    `words`: words of prose before each prompt's question (gateway.bench.load.question)."""
    binary = py_spy()
    settings = {"guardrails": "true", "pii": str(pii).lower()}
    with (
        tempfile.TemporaryDirectory() as workdir,
        upstream_process("The capital of France is Paris.", 0.0) as upstream,
        gateway_process(upstream, Path(workdir), settings) as (url, pid),
    ):
        # Connections, lazy imports and, when warm, the one question's verdicts.
        asyncio.run(load(url, 4, 20, stream, "sk-bench", distinct=not warm, words=words))
        raw = output or Path(workdir) / "stacks.txt"
        args = [binary, "record", "--pid", str(pid), "--rate", str(rate), "--threads", "--nonblocking"]
        log = Path(workdir) / "py-spy.log"
        with log.open("wb") as said:
            # py-spy with arguments built here
            spy = subprocess.Popen([*args, "--format", "raw", "--output", str(raw)], stdout=said, stderr=said)  # noqa: S603
        time.sleep(1.0)  # py-spy attaches
        if spy.poll() is not None:
            raise RuntimeError(f"py-spy could not attach to the gateway: {log.read_text(errors='replace')}")
        usage = Usage(pid)
        ran = asyncio.run(
            load(url, concurrency, requests, stream, "sk-bench", distinct=not warm, words=words)
        )
        cpu_seconds, system_seconds, loop_seconds = usage.times()
        spy.send_signal(signal.SIGINT)  # py-spy writes its file when interrupted
        spy.wait(timeout=60)
        counts = tally(raw.read_text().splitlines())
    busy = sum(counts.values()) or 1
    served = max(len(ran.latencies), 1)
    per_request = {part: round(counts[part] / rate / served * 1000, 2) for part in PARTS}
    # The process's CPU time (from /proc) that no sample explains: onnxruntime's own pool
    # threads are not Python threads, so py-spy never samples them, and a thread in a system
    # call counts as idle to py-spy while the kernel works for it.
    per_request[UNSEEN] = round(max(cpu_seconds * 1000 / served - sum(per_request.values()), 0.0), 2)
    per_request[KERNEL] = round(system_seconds * 1000 / served, 2)
    # To set against the main thread's samples: the loop also works inside the selector's
    # `select`, whose samples `part_of` counts as waiting (WAITING).
    per_request[LOOP] = round(loop_seconds * 1000 / served, 2)
    mode = ("stream" if stream else "json") + (", cache warm" if warm else "")
    mode += f", {words} words of prose a prompt" if words else ""
    print(
        f"{len(ran.latencies)} requests ({mode}, {concurrency} at a time, {ran.blocked} blocked, "
        f"{ran.failed} failed) in {ran.wall_s:.1f} s, "
        f"{busy} busy samples at {rate} Hz"
    )
    print(f"{'part':54} {'CPU ms/request':>15} {'share':>7}")
    for part in PARTS:
        print(f"{part:54} {per_request[part]:15.2f} {counts[part] / busy:7.1%}")
    print(f"{UNSEEN:54} {per_request[UNSEEN]:15.2f}")
    print(f"{'all (process CPU time from /proc)':54} {cpu_seconds * 1000 / served:15.2f}")
    print(f"{KERNEL:54} {per_request[KERNEL]:15.2f}")
    print(f"{LOOP:54} {per_request[LOOP]:15.2f}")
    if output is not None:
        print(f"raw stacks in {output}")
    return per_request
