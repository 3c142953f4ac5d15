"""Tamper evidence: every record carries its sequence number, the previous record's hash and its own.

`hash = sha256(canonical JSON of the record without "hash")`, and the record's `prev_hash` is
the previous record's `hash`, so an edited, deleted or reordered record breaks the chain at
a place `verify` can name.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["GENESIS", "ChainHead", "Problem", "canonical", "seal", "verify_lines"]

GENESIS = "0" * 64


def canonical(record: dict[str, Any]) -> bytes:
    """The bytes that are hashed: sorted keys, no spaces, UTF-8."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@dataclass
class ChainHead:
    """Where the chain stands: the last sequence number written and its hash."""

    seq: int = 0
    hash: str = GENESIS

    @classmethod
    def from_line(cls, line: str) -> ChainHead:
        record = json.loads(line)
        return cls(int(record["seq"]), str(record["hash"]))


def seal(record: dict[str, Any], head: ChainHead) -> dict[str, Any]:
    """`record` with seq, prev_hash and hash added; `head` moves on to it."""
    sealed = {**record, "seq": head.seq + 1, "prev_hash": head.hash}
    sealed["hash"] = hashlib.sha256(canonical(sealed)).hexdigest()
    head.seq, head.hash = sealed["seq"], sealed["hash"]
    return sealed


@dataclass(frozen=True)
class Problem:
    """A break in the chain, located by file and line."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


def verify_lines(lines: Iterable[tuple[Path, int, str]]) -> Iterator[Problem | ChainHead]:
    """Check `(file, line number, text)` in order; yields each problem, then the final head."""
    head: ChainHead | None = None
    for path, number, text in lines:
        try:
            record = json.loads(text)
            claimed = record.pop("hash")
            seq, prev = int(record["seq"]), record["prev_hash"]
        except (ValueError, KeyError, TypeError):
            yield Problem(str(path), number, "not an audit record (unreadable JSON or missing seq/hash)")
            continue
        if hashlib.sha256(canonical(record)).hexdigest() != claimed:
            yield Problem(
                str(path), number, f"record seq {seq} was edited: its content does not match its hash"
            )
        if head is not None:
            if seq <= head.seq:
                yield Problem(str(path), number, f"records out of order: seq {seq} follows seq {head.seq}")
            elif seq != head.seq + 1:
                missing = f"seq {head.seq + 1}" if seq == head.seq + 2 else f"seq {head.seq + 1} to {seq - 1}"
                yield Problem(str(path), number, f"{missing} missing before this line (deleted or moved)")
            elif prev != head.hash:
                yield Problem(
                    str(path), number, f"seq {seq} does not follow the record before it (prev_hash differs)"
                )
        head = ChainHead(seq, claimed)
    yield head or ChainHead()
