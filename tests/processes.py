"""Server processes for end-to-end tests: started, waited for, and always stopped."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

from gateway.bench.processes import running

SHIELDGATE = [sys.executable, "-m", "gateway"]


def env(**extra: str) -> dict[str, str]:
    """The test environment for child processes: offline litellm and the fake upstream's key."""
    return {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "FAKE_UPSTREAM_KEY": "sk-fake", **extra}


def run_shieldgate(*args: str, timeout: float = 60, check: bool = False) -> subprocess.CompletedProcess[str]:
    """`shieldgate ARGS` run to its end in the test environment, its output captured as text."""
    return subprocess.run(
        [*SHIELDGATE, *args], env=env(), capture_output=True, text=True, timeout=timeout, check=check
    )


@contextmanager
def process(
    args: list[str],
    ready_url: str,
    *,
    timeout: float = 60.0,
    environ: dict[str, str] | None = None,
    log: Path | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """A server process, ready; its output goes to `log` when given, else to a temporary file."""
    with (
        log.open("w+b") if log else tempfile.TemporaryFile() as output,
        running(args, ready_url, environ or env(), timeout=timeout, log=output) as child,
    ):
        yield child


def new_key_entry() -> tuple[str, dict[str, str]]:
    """Run `shieldgate keys new` and return the key and its config entry."""
    result = subprocess.run(
        [*SHIELDGATE, "keys", "new", "--id", "e2e", "--tenant", "acme"],
        env=env(),
        capture_output=True,
        text=True,
        check=True,
    )
    key = next(line.split(": ", 1)[1] for line in result.stderr.splitlines() if line.startswith("key: "))
    entries = yaml.safe_load(result.stdout)
    return key, entries[0]
