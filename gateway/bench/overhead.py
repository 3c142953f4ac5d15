"""Latency the gateway adds over calling the upstream directly, beside LiteLLM's own proxy.

One run starts the fake upstream and each target on loopback, then sends a bounded number of
chat completions at several concurrency levels, streamed and not, and reports per target the
added latency over the direct floor (p50/p95/p99), requests per second, the server's CPU time
and its peak memory. LiteLLM's proxy is installed by this script into its own virtualenv.
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
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from gateway.bench.load import load, percentile
from gateway.bench.processes import Usage, free_port, gateway_process, running, upstream_process

__all__ = ["run"]

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


def _measure(
    url: str, pid: int | None, levels: list[int], requests: int, key: str = "sk-bench", distinct: bool = False
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for stream in (False, True):
        asyncio.run(load(url, 4, 20, stream, key, distinct))  # warm up connections and caches
        for concurrency in levels:
            usage = Usage(pid)
            ran = asyncio.run(load(url, concurrency, requests, stream, key, distinct))
            latencies = ran.latencies
            results[f"{'stream' if stream else 'json'}@{concurrency}"] = {
                "p50_ms": round(statistics.median(latencies), 2) if latencies else None,
                "p95_ms": round(percentile(latencies, 0.95), 2),
                "p99_ms": round(percentile(latencies, 0.99), 2),
                "rps": round(len(latencies) / ran.wall_s, 1),
                "blocked": ran.blocked,
                "failed": ran.failed,
                "cpu_s": usage.cpu_seconds() if pid else None,
                "peak_mib": usage.peak_mib() if pid else None,
            }
    return results


def run(levels: list[int], requests: int, litellm: bool, output: Path | None) -> dict[str, Any]:
    """Measure every target, print a table of added latency, and return (and optionally write) it all."""
    targets: dict[str, Any] = {}
    with (
        tempfile.TemporaryDirectory() as workdir,
        upstream_process("The capital of France is Paris.", 0.0) as upstream,
    ):
        targets["direct"] = _measure(upstream, None, levels, requests)
        for name, guardrails, pii, distinct in (
            ("shieldgate (guard, cache cold)", "true", "false", True),
            ("shieldgate (guard, cache warm)", "true", "false", False),
            ("shieldgate (guard + PII model, cold)", "true", "true", True),
            ("shieldgate (scanning off)", "false", "false", False),
        ):
            with gateway_process(upstream, Path(workdir), guardrails=guardrails, pii=pii) as (gateway, pid):
                targets[name] = _measure(gateway, pid, levels, requests, distinct=distinct)
        if litellm:
            with _litellm_proxy(upstream, Path(workdir)) as (proxy, pid):
                targets["litellm proxy"] = _measure(proxy, pid, levels, requests, LITELLM_KEY)
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
    result = {"levels": levels, "requests": requests, "targets": targets}
    if output is not None:
        output.write_text(json.dumps(result, indent=2) + "\n")
    return result
