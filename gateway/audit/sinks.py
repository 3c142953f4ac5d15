"""Where audit lines go: a file rotated by size, and standard output."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Protocol

__all__ = ["FileSink", "Sink", "StdoutSink", "audit_files"]


class Sink(Protocol):
    """Writes whole lines; raises OSError when it cannot."""

    def write(self, lines: list[str]) -> None: ...

    def close(self) -> None: ...


class StdoutSink:
    """JSON lines on standard output, beside the logs (each record has `"type": "audit"`)."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self._stream = stream

    def write(self, lines: list[str]) -> None:
        stream = self._stream or sys.stdout
        stream.write("".join(f"{line}\n" for line in lines))
        stream.flush()

    def close(self) -> None:
        return None


class FileSink:
    """Appends to `path`; past `max_bytes` the file is renamed with a timestamp and a new one begun.

    Rotation happens between two lines in the writer thread, so no record is split or lost.
    """

    def __init__(self, path: Path, max_bytes: int) -> None:
        self.path = path
        self._max_bytes = max_bytes
        self._file: IO[str] | None = None

    def last_line(self) -> str | None:
        """The newest record on disk (to continue the chain after a restart)."""
        for path in reversed(audit_files(self.path)):
            lines = path.read_text(encoding="utf-8").splitlines()
            if lines:
                return lines[-1]
        return None

    def write(self, lines: list[str]) -> None:
        for line in lines:
            data = f"{line}\n"
            if self._needs_rotation(len(data.encode("utf-8"))):
                self._rotate()
            file = self._open()
            file.write(data)
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _open(self) -> IO[str]:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("a", encoding="utf-8")
        return self._file

    def _needs_rotation(self, size: int) -> bool:
        try:
            current = self.path.stat().st_size
        except FileNotFoundError:
            return False
        if self._file is not None:
            current = max(current, self._file.tell())
        return current > 0 and current + size > self._max_bytes

    def _rotate(self) -> None:
        self.close()
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        self.path.rename(self.path.with_name(f"{self.path.stem}.{stamp}{self.path.suffix}"))


def audit_files(path: Path) -> list[Path]:
    """The rotated files of `path`, oldest first, then `path` itself if it exists."""
    rotated = sorted(path.parent.glob(f"{path.stem}.*{path.suffix}"))
    return [*rotated, *([path] if path.exists() else [])]
