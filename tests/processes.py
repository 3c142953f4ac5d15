"""Server processes for end-to-end tests: started, waited for, and always stopped."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx
import yaml

SHIELDGATE = [sys.executable, "-m", "gateway"]


def env(**extra: str) -> dict[str, str]:
    """The test environment for child processes: offline litellm and the fake upstream's key."""
    return {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "FAKE_UPSTREAM_KEY": "sk-fake", **extra}


@contextmanager
def process(
    args: list[str],
    ready_url: str,
    *,
    timeout: float = 60.0,
    environ: dict[str, str] | None = None,
    log: Path | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """Start a server process, wait until `ready_url` answers 200, and stop it afterwards.

    Its output goes to `log` when given (kept for the test to read), else to a temporary file.
    """
    with log.open("wb") if log else tempfile.TemporaryFile() as output:
        child = subprocess.Popen(args, env=environ or env(), stdout=output, stderr=subprocess.STDOUT)
        try:
            _wait_ready(child, output, ready_url, timeout)
            yield child
        finally:
            child.terminate()
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def _wait_ready(child: subprocess.Popen[bytes], output: IO[bytes], url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if child.poll() is not None:
            output.seek(0)
            raise AssertionError(f"{child.args} exited with {child.returncode}:\n{output.read().decode()}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{child.args} was not ready after {timeout}s")
        time.sleep(0.1)


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
