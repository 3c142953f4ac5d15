"""Start the fake upstream and the gateway as processes on loopback ports, and stop them."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import httpx
import yaml

__all__ = [
    "BENCH_KEY",
    "LONG_PAUSE_S",
    "Usage",
    "free_port",
    "gateway_config",
    "gateway_process",
    "gc_pauses",
    "running",
    "upstream_process",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def running(
    args: list[str],
    ready_url: str,
    env: dict[str, str],
    *,
    timeout: float = 60.0,
    log: IO[bytes] | None = None,
    cwd: Path | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """Start `args` (in `cwd`, when given), wait until `ready_url` answers 200, and stop the
    process when the block ends.

    Its output goes to `log` when given (read back in the error if it dies early), else nowhere.
    """
    # Only this package's own modules are started, with arguments built by its callers.
    child = subprocess.Popen(  # noqa: S603
        args, env=env, cwd=cwd, stdout=log or subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if child.poll() is not None:
                output = ""
                if log is not None:
                    log.seek(0)
                    output = log.read().decode(errors="replace")
                raise RuntimeError(f"{args} exited with {child.returncode} before it was ready\n{output}")
            try:
                if httpx.get(ready_url, timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{args} was not ready after {timeout} s")
            time.sleep(0.1)
        yield child
    finally:
        child.terminate()
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


@contextmanager
def upstream_process(reply: str, word_delay: float, delay: float = 0.0) -> Iterator[str]:
    """The fake OpenAI upstream (see gateway.fake_upstream); yields its base URL (ending in /v1)."""
    port = free_port()
    args = [sys.executable, "-m", "gateway.fake_upstream", "--port", str(port), "--reply", reply]
    args += ["--word-delay", str(word_delay), "--delay", str(delay)]
    with running(args, f"http://127.0.0.1:{port}/healthz", dict(os.environ)):
        yield f"http://127.0.0.1:{port}/v1"


BENCH_KEY = "sk-bench"  # the upstream key the benchmarks' gateways send, from $BENCH_KEY


def gateway_config(upstream: str) -> dict[str, Any]:
    """A gateway configuration with one alias, `small`, for the OpenAI-compatible `upstream`;
    its key is read from $BENCH_KEY, and no client key is required."""
    return {
        "models": {
            "small": {
                "deployments": [{"model": "openai/fake", "api_base": upstream, "api_key_env": "BENCH_KEY"}]
            }
        },
        "auth": {"required": False},
    }


@contextmanager
def gateway_process(
    upstream: str, workdir: Path, settings: Mapping[str, str], checkout: Path | None = None
) -> Iterator[tuple[str, int]]:
    """`shieldgate serve` in front of `upstream` with one alias, `small`, and SHIELDGATE_*
    `settings` (lower-case names), from the package in `checkout` when given (else this one);
    yields its base URL and pid."""
    path = workdir / "gateway.yaml"
    path.write_text(yaml.safe_dump(gateway_config(upstream)))
    port = free_port()
    env = {
        **os.environ,
        "BENCH_KEY": BENCH_KEY,
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "SHIELDGATE_LOG_LEVEL": "warning",
        "SHIELDGATE_AUDIT_STDOUT": "false",
        **{f"SHIELDGATE_{name.upper()}": value for name, value in settings.items()},
        **({"PYTHONPATH": str(checkout.resolve())} if checkout is not None else {}),
    }
    args = [sys.executable, "-m", "gateway", "serve", "--config", str(path.resolve()), "--port", str(port)]
    # `python -m` puts its working directory first on the path: the checkout's, for its package.
    with running(args, f"http://127.0.0.1:{port}/readyz", env, cwd=checkout) as child:
        yield f"http://127.0.0.1:{port}/v1", child.pid


LONG_PAUSE_S = 0.05  # a garbage collection longer than this is a long pause (a bound of its histogram)


def gc_pauses(url: str) -> dict[str, dict[str, float]] | None:
    """The garbage collections of the gateway at `url` (its base URL, ending in /v1) since it
    started serving, by generation: how many, their seconds in all, and how many took more than
    LONG_PAUSE_S; None when its /metrics has no `shieldgate_gc_pause_seconds` (an older gateway)."""
    from prometheus_client.parser import text_string_to_metric_families

    response = httpx.get(url.removesuffix("/v1") + "/metrics", timeout=10)
    if response.status_code != 200:
        return None
    counts: dict[str, int] = {}
    seconds: dict[str, float] = {}
    short: dict[str, int] = {}  # collections of at most LONG_PAUSE_S
    for family in text_string_to_metric_families(response.text):
        if family.name != "shieldgate_gc_pause_seconds":
            continue
        for sample in family.samples:
            generation = sample.labels["generation"]
            if sample.name.endswith("_count"):
                counts[generation] = int(sample.value)
            elif sample.name.endswith("_sum"):
                seconds[generation] = sample.value
            elif sample.name.endswith("_bucket") and float(sample.labels["le"]) == LONG_PAUSE_S:
                short[generation] = int(sample.value)
    if not counts:
        return None
    return {
        generation: {
            "count": count,
            "seconds": round(seconds.get(generation, 0.0), 4),
            "long": count - short.get(generation, 0),
        }
        for generation, count in sorted(counts.items())
    }


class Usage:
    """CPU seconds and peak resident memory of a process (and its children), from /proc."""

    def __init__(self, pid: int | None) -> None:
        self.pid = pid
        self._start = self._ticks()

    def _pids(self) -> list[int]:
        if self.pid is None:
            return []
        pids = [self.pid]
        children = Path(f"/proc/{self.pid}/task/{self.pid}/children")
        if children.exists():
            pids += [int(p) for p in children.read_text().split()]
        return pids

    def _ticks(self) -> tuple[int, int, int]:
        """Clock ticks spent in user code and in the kernel, summed over the processes, and
        those of the first process's main thread (the gateway's event loop)."""
        user = system = main = 0
        if self.pid is not None:  # the thread before its process: a tick between reads counts for both
            main = sum(_stat_ticks(Path(f"/proc/{self.pid}/task/{self.pid}/stat")))
        for pid in self._pids():
            user_ticks, system_ticks = _stat_ticks(Path(f"/proc/{pid}/stat"))
            user += user_ticks
            system += system_ticks
        return user, system, main

    def times(self) -> tuple[float, float, float]:
        """Seconds since this object was made, read at one instant: all CPU (user and
        kernel), the kernel's share (system calls: sockets, waking threads), and the main
        thread's share (in the gateway, the event loop's)."""
        now, tick = self._ticks(), os.sysconf("SC_CLK_TCK")
        user, system, main = (now[i] - self._start[i] for i in range(3))
        main = min(main, user + system)  # the kernel rounds a thread's and its process's time apart
        return round((user + system) / tick, 3), round(system / tick, 3), round(main / tick, 3)

    def cpu_seconds(self) -> float:
        """CPU time since this object was made, user and kernel."""
        return self.times()[0]

    def peak_mib(self) -> float:
        peak = 0
        for pid in self._pids():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak += int(line.split()[1])
        return round(peak / 1024, 1)


def _stat_ticks(stat: Path) -> tuple[int, int]:
    """(utime, stime) in clock ticks from a /proc stat file."""
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return int(fields[11]), int(fields[12])
