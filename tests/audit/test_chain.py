"""The hash chain: sealing records and finding edits, deletions and reorderings."""

from __future__ import annotations

import json
from pathlib import Path

from gateway.audit import GENESIS, ChainHead, Problem, seal, verify_lines

FILE = Path("audit.jsonl")


def _chain(count: int) -> list[str]:
    head = ChainHead()
    return [json.dumps(seal({"type": "audit", "n": i}, head)) for i in range(count)]


def _problems(lines: list[str]) -> list[str]:
    return [
        str(p)
        for p in verify_lines((FILE, i + 1, line) for i, line in enumerate(lines))
        if isinstance(p, Problem)
    ]


def test_sealed_records_link_to_each_other() -> None:
    """Each record names the previous record's hash; the first names the genesis hash."""
    first, second = (json.loads(line) for line in _chain(2))
    assert (first["seq"], first["prev_hash"]) == (1, GENESIS)
    assert (second["seq"], second["prev_hash"]) == (2, first["hash"])
    assert _problems(_chain(5)) == []


def test_edited_record_is_found() -> None:
    """Changing any field breaks that record's hash."""
    lines = _chain(4)
    record = json.loads(lines[2])
    record["n"] = 99
    lines[2] = json.dumps(record)
    assert _problems(lines) == ["audit.jsonl:3: record seq 3 was edited: its content does not match its hash"]


def test_deleted_record_is_found() -> None:
    """A missing record shows as a gap in the sequence at the line after it."""
    lines = _chain(5)
    del lines[1]
    assert _problems(lines) == ["audit.jsonl:2: seq 2 missing before this line (deleted or moved)"]


def test_reordered_records_are_found() -> None:
    """Swapping two records is reported where the order breaks."""
    lines = _chain(4)
    lines[1], lines[2] = lines[2], lines[1]
    problems = _problems(lines)
    assert problems[0] == "audit.jsonl:2: seq 2 missing before this line (deleted or moved)"
    assert "audit.jsonl:3: records out of order: seq 2 follows seq 3" in problems


def test_forged_relink_is_found() -> None:
    """A record rewritten with a fresh hash but the wrong predecessor still breaks the chain."""
    lines = _chain(3)
    forged = json.loads(lines[1])
    forged["prev_hash"] = "f" * 64
    del forged["hash"]
    head = ChainHead(1, "f" * 64)
    lines[1] = json.dumps(seal({k: v for k, v in forged.items() if k not in ("seq", "prev_hash")}, head))
    assert _problems(lines) == [
        "audit.jsonl:2: seq 2 does not follow the record before it (prev_hash differs)",
        "audit.jsonl:3: seq 3 does not follow the record before it (prev_hash differs)",
    ]
