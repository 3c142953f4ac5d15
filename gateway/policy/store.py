"""The live policy set of a running gateway, reloaded when its files change.

An edit that does not validate is rejected and logged; the last good set keeps serving.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Collection
from pathlib import Path

import structlog

from gateway.policy.loader import PolicyErrors, PolicySet, load_policies

__all__ = ["PolicyStore"]

log = structlog.get_logger(__name__)


class PolicyStore:
    """Holds the current `PolicySet`; `watch()` polls the directory and swaps in valid edits."""

    def __init__(
        self,
        directory: Path,
        aliases: Collection[str] | None = None,
        on_reload: Callable[[str], None] | None = None,
    ) -> None:
        self._directory = directory
        self._aliases = aliases
        self._on_reload = on_reload
        self._signature = _signature(directory)
        self._current = load_policies(directory, aliases)
        self.reloads = 0
        self.rejections = 0
        log.info("policy.loaded", directory=str(directory), versions=self._current.versions)

    @property
    def current(self) -> PolicySet:
        return self._current

    def reload_if_changed(self) -> bool:
        """Reload when any policy file changed; True when a new set was swapped in."""
        signature = _signature(self._directory)
        if signature == self._signature:
            return False
        self._signature = signature
        try:
            candidate = load_policies(self._directory, self._aliases)
        except PolicyErrors as exc:
            self.rejections += 1
            if self._on_reload is not None:
                self._on_reload("rejected")
            log.error("policy.reload_rejected", problems=exc.lines(), serving=self._current.versions)
            return False
        self._current = candidate
        self.reloads += 1
        if self._on_reload is not None:
            self._on_reload("applied")
        log.info("policy.reloaded", versions=candidate.versions)
        return True

    async def watch(self, interval: float) -> None:
        """Poll every `interval` seconds until cancelled."""
        while True:
            await asyncio.sleep(interval)
            await asyncio.to_thread(self.reload_if_changed)


def _signature(directory: Path) -> str:
    """A hash of every YAML file's name and content in `directory`."""
    digest = hashlib.sha256()
    for path in sorted(directory.glob("*.yaml")):
        digest.update(path.name.encode())
        try:
            digest.update(path.read_bytes())
        except OSError:
            digest.update(b"\0unreadable")
    return digest.hexdigest()
