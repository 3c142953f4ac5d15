"""Latency the gateway adds over calling the upstream directly, beside LiteLLM's own proxy.

One run starts the fake upstream and every target on loopback, then sends a bounded number of
chat completions at several concurrency levels, streamed and not, the targets taking turns in
rounds, and reports per target the added latency over the direct floor (p50/p95/p99),
requests per second, the server's CPU time and its peak memory. LiteLLM's proxy is installed
by this script into its own virtualenv.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gateway.bench.load import LoadResult, load, percentile
from gateway.bench.processes import Usage, free_port, gateway_process, running, upstream_process

__all__ = ["ROUNDS", "Target", "measure", "run"]

LITELLM_VENV = Path.home() / ".cache" / "shieldgate-bench" / "litellm-proxy"
LITELLM_KEY = "sk-bench-" + secrets.token_hex(16)  # the proxy refuses to start without a master key


def _litellm_version() -> str:
    from importlib.metadata import version

    return version("litellm")


def _ensure_litellm_proxy() -> Path:
    """A virtualenv with `litellm[proxy]` at the version the gateway uses; returns its litellm binary."""
    binary = LITELLM_VENV / "bin" / "litellm"
    if not binary.exists():
        print(f"installing litellm[proxy]=={_litellm_version()} into {LITELLM_VENV} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(LITELLM_VENV)], check=True)  # noqa: S603
        pip = [str(LITELLM_VENV / "bin" / "pip"), "install", "-q", f"litellm[proxy]=={_litellm_version()}"]
        subprocess.run(pip, check=True)  # noqa: S603
    return binary


@contextmanager
def _litellm_proxy(upstream: str, workdir: Path) -> Iterator[tuple[str, int]]:
    binary = _ensure_litellm_proxy()
    config = {
        "model_list": [
            {
                "model_name": "small",
                "litellm_params": {"model": "openai/fake", "api_base": upstream, "api_key": "sk-bench"},
            }
        ],
        "litellm_settings": {"drop_params": True},
    }
    path = workdir / "litellm.yaml"
    path.write_text(yaml.safe_dump(config))
    port = free_port()
    env = {
        **os.environ,
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_LOG": "ERROR",
        "LITELLM_MASTER_KEY": LITELLM_KEY,
    }
    args = [
        str(binary),
        "--config",
        str(path),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--num_workers",
        "1",
    ]
    with running(args, f"http://127.0.0.1:{port}/health/liveliness", env, timeout=180) as child:
        yield f"http://127.0.0.1:{port}/v1", child.pid


# Each case's requests go in this many rounds, the targets taking turns, so a target measured
# while the machine was busier than usual is not compared with one measured while it was idle.
ROUNDS = 5


@dataclass
class Target:
    name: str
    url: str
    pid: int | None  # None: nothing of ours to measure (the floor)
    key: str = "sk-bench"
    distinct: bool = False
    words: int = 0  # words of prose before each prompt's question (gateway.bench.load.question)


def measure(
    targets: list[Target],
    levels: list[int],
    requests: int,
    rounds: int = ROUNDS,
    modes: tuple[bool, ...] = (False, True),
) -> dict[str, dict[str, Any]]:
    """Every target at every level and mode (streamed or not), in `rounds` interleaved rounds."""
    results: dict[str, dict[str, Any]] = {target.name: {} for target in targets}
    for stream in modes:
        for target in targets:  # warm up connections and caches
            asyncio.run(load(target.url, 4, 20, stream, target.key, target.distinct, target.words))
        for concurrency in levels:
            case = f"{'stream' if stream else 'json'}@{concurrency}"
            runs = {target.name: LoadResult() for target in targets}
            cpu = dict.fromkeys(runs, 0.0)
            for round_ in range(rounds):
                share = requests // rounds + (1 if round_ < requests % rounds else 0)
                turn = round_ % len(targets)
                for target in targets[turn:] + targets[:turn]:
                    usage = Usage(target.pid)
                    ran = asyncio.run(
                        load(
                            target.url, concurrency, share, stream, target.key, target.distinct, target.words
                        )
                    )
                    cpu[target.name] += usage.cpu_seconds() if target.pid else 0.0
                    runs[target.name].add(ran)
            for target in targets:
                ran = runs[target.name]
                latencies = ran.latencies
                results[target.name][case] = {
                    "p50_ms": round(statistics.median(latencies), 2) if latencies else None,
                    "p95_ms": round(percentile(latencies, 0.95), 2),
                    "p99_ms": round(percentile(latencies, 0.99), 2),
                    "p999_ms": round(percentile(latencies, 0.999), 2),
                    "max_ms": round(max(latencies), 2) if latencies else None,
                    "rps": round(len(latencies) / ran.wall_s, 1),
                    "blocked": ran.blocked,
                    "failed": ran.failed,
                    "failures": dict(ran.failures),
                    "cpu_s": round(cpu[target.name], 2) if target.pid else None,
                    "peak_mib": Usage(target.pid).peak_mib() if target.pid else None,
                }
    return results


GATEWAYS: tuple[tuple[str, dict[str, str], bool], ...] = (  # name, settings, a new prompt every request
    ("shieldgate (guard, cache cold)", {}, True),
    ("shieldgate (guard during call, cold)", {"guard_during_call": "true"}, True),
    ("shieldgate (guard, cache warm)", {}, False),
    ("shieldgate (guard + PII model, cold)", {"pii": "true"}, True),
    ("shieldgate (scanning off)", {"guardrails": "false"}, False),
)


def run(
    levels: list[int],
    requests: int,
    litellm: bool,
    output: Path | None,
    upstream_delay: float = 0.0,
    words: int = 0,
) -> dict[str, Any]:
    """Measure every target, print a table of added latency, and return (and optionally write) it all.

    `upstream_delay`: seconds the fake upstream takes before it answers, as a model would;
    `words`: words of prose before each prompt's question, for every target (the floor too)."""
    with (
        tempfile.TemporaryDirectory() as workdir,
        upstream_process("The capital of France is Paris.", 0.0, upstream_delay) as upstream,
        ExitStack() as running,
    ):
        measured = [Target("direct", upstream, None, words=words)]
        for name, settings, distinct in GATEWAYS:
            gateway, pid = running.enter_context(gateway_process(upstream, Path(workdir), settings))
            measured.append(Target(name, gateway, pid, distinct=distinct, words=words))
        if litellm:
            proxy, pid = running.enter_context(_litellm_proxy(upstream, Path(workdir)))
            measured.append(Target("litellm proxy", proxy, pid, LITELLM_KEY, words=words))
        targets = measure(measured, levels, requests)
    floor = targets["direct"]
    header = ("target", "case", "+p50", "+p95", "+p99", "rps", "blocked", "failed", "cpu s", "MiB")
    print("{:36} {:10} {:>7} {:>7} {:>7} {:>7} {:>7} {:>6} {:>6} {:>6}".format(*header))
    for name, cases in targets.items():
        for case, row in cases.items():
            base = floor[case]
            added = (
                [row[k] - base[k] for k in ("p50_ms", "p95_ms", "p99_ms")] if name != "direct" else [0, 0, 0]
            )
            print(
                f"{name:36} {case:10} {added[0]:7.1f} {added[1]:7.1f} {added[2]:7.1f} {row['rps']:7.1f} "
                f"{row['blocked']:7} {row['failed']:6} {row['cpu_s'] or '':>6} {row['peak_mib'] or '':>6}"
            )
    for name, cases in targets.items():
        for case, row in cases.items():
            for reason, count in row["failures"].items():
                print(f"failed: {name} {case}: {count} x {reason}")
    result = {
        "levels": levels,
        "requests": requests,
        "upstream_delay_s": upstream_delay,
        "prompt_words": words,
        "targets": targets,
    }
    if output is not None:
        output.write_text(json.dumps(result, indent=2) + "\n")
    return result
