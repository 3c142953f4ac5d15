"""Reading audit files back: filter records, summarize them, export them, verify the chain."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.audit.chain import ChainHead, Problem, verify_lines
from gateway.audit.sinks import audit_files

__all__ = ["RecordFilter", "export_csv", "parse_time", "read_records", "summarize", "verify"]

CSV_COLUMNS = (
    "time",
    "request_id",
    "tenant",
    "key_id",
    "endpoint",
    "model_requested",
    "model_routed",
    "stream",
    "action",
    "rules",
    "categories",
    "pii_labels",
    "status",
    "outcome",
    "error_code",
    "upstream_status",
    "latency_total_ms",
    "seq",
)


def parse_time(text: str) -> datetime:
    """An ISO 8601 time for filters; without a zone it is UTC. Raises ValueError."""
    when = datetime.fromisoformat(text)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def expand(paths: Iterable[Path]) -> list[Path]:
    """Each path with its rotated siblings, oldest first (a directory means every *.jsonl in it)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(path.glob("*.jsonl")))
        else:
            files.extend(audit_files(path) or [path])
    return files


def read_lines(paths: Iterable[Path]) -> Iterator[tuple[Path, int, str]]:
    for path in expand(paths):
        with path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                if line.strip():
                    yield path, number, line.rstrip("\n")


def read_records(paths: Iterable[Path]) -> Iterator[dict[str, Any]]:
    """Every audit record in the files, in order; other lines (logs on stdout) are skipped."""
    for _, _, line in read_lines(paths):
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("type") == "audit":
            yield record


def categories(record: dict[str, Any]) -> set[str]:
    """Harm categories and attack strategies the guard scored high, at any stage."""
    found: set[str] = set()
    for stage in (record.get("guard") or {}).values():
        found.update(stage.get("harm") or {})
        found.update(stage.get("attack") or {})
    return found


def pii_labels(record: dict[str, Any]) -> set[str]:
    return {label for counts in (record.get("pii") or {}).values() for label in counts}


@dataclass(frozen=True)
class RecordFilter:
    """Every criterion given must hold."""

    since: datetime | None = None
    until: datetime | None = None
    tenant: str | None = None
    action: str | None = None
    outcome: str | None = None
    category: str | None = None
    label: str | None = None
    rule: str | None = None
    model: str | None = None

    def __call__(self, record: dict[str, Any]) -> bool:
        when = datetime.fromisoformat(record["time"])
        checks = (
            self.since is None or when >= self.since,
            self.until is None or when < self.until,
            self.tenant is None or record.get("tenant") == self.tenant,
            self.action is None or record.get("action") == self.action,
            self.outcome is None or record.get("outcome") == self.outcome,
            self.category is None or self.category in categories(record),
            self.label is None or self.label in pii_labels(record),
            self.rule is None or self.rule in (record.get("rules") or []),
            self.model is None or self.model in (record.get("model_requested"), record.get("model_routed")),
        )
        return all(checks)


def summarize(records: Iterable[dict[str, Any]], bucket: str = "hour") -> dict[str, Any]:
    """Counts by action, outcome, category, rule, label and tenant, and rates per time bucket."""
    width = {"minute": 16, "hour": 13, "day": 10}[bucket]
    by: dict[str, Counter[str]] = {
        name: Counter() for name in ("action", "outcome", "category", "rule", "label", "tenant")
    }
    timeline: dict[str, Counter[str]] = {}
    total = 0
    for record in records:
        total += 1
        action = record.get("action") or "none"
        by["action"][action] += 1
        by["outcome"][record.get("outcome") or "unknown"] += 1
        by["tenant"][record.get("tenant") or "unauthenticated"] += 1
        by["category"].update(categories(record))
        by["rule"].update(record.get("rules") or [])
        by["label"].update(pii_labels(record))
        slot = timeline.setdefault(record["time"][:width], Counter())
        slot["requests"] += 1
        slot[action] += 1
    return {
        "records": total,
        **{name: dict(counter.most_common()) for name, counter in by.items()},
        "timeline": [
            {
                "bucket": key,
                "requests": slot["requests"],
                "block_rate": round(slot["block"] / slot["requests"], 4),
                "redact_rate": round(slot["redact"] / slot["requests"], 4),
                "counts": {action: n for action, n in sorted(slot.items()) if action != "requests"},
            }
            for key, slot in sorted(timeline.items())
        ],
    }


def export_csv(records: Iterable[dict[str, Any]]) -> str:
    """One CSV row a record, lists joined with '|'."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    for record in records:
        row = {column: record.get(column) for column in CSV_COLUMNS}
        row["rules"] = "|".join(record.get("rules") or [])
        row["categories"] = "|".join(sorted(categories(record)))
        row["pii_labels"] = "|".join(sorted(pii_labels(record)))
        row["latency_total_ms"] = (record.get("latency_ms") or {}).get("total")
        writer.writerow(row)
    return out.getvalue()


def verify(paths: Iterable[Path]) -> tuple[list[Problem], int, ChainHead]:
    """Check the hash chain over the audit records of `paths`; returns problems, count, last head."""
    audit_lines = (
        (path, number, line) for path, number, line in read_lines(paths) if '"type": "audit"' in line[:20]
    )
    problems: list[Problem] = []
    head = ChainHead()
    count = 0
    for item in verify_lines(audit_lines):
        if isinstance(item, Problem):
            problems.append(item)
        else:
            head = item
    count = sum(1 for _ in read_records(paths))
    return problems, count, head
