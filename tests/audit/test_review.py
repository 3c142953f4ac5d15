"""Reviewing audit files: filters, summaries, exports and chain verification across rotation."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from gateway.audit import AuditLog, FileSink
from gateway.audit.review import RecordFilter, export_csv, read_records, summarize, verify
from tests.processes import SHIELDGATE, env


def _record(i: int, **fields: Any) -> dict[str, Any]:
    base = {
        "time": f"2026-11-20T{10 + i % 3:02d}:00:00.000+00:00",
        "request_id": f"r{i}",
        "tenant": "acme" if i % 2 else "globex",
        "endpoint": "chat.completions",
        "model_requested": "large",
        "model_routed": "small" if i % 4 == 0 else "large",
        "action": "allow",
        "rules": [],
        "guard": {},
        "pii": {},
        "status": 200,
        "outcome": "ok",
        "latency_ms": {"total": 3.5},
    }
    return {**base, **fields}


RECORDS = [
    _record(0),
    _record(
        1,
        action="block",
        rules=["block-prompt-attacks"],
        outcome="blocked",
        status=400,
        guard={"input": {"unsafe": 0.9, "harm": {}, "attack": {"jailbreak_attempt": 0.95}}},
    ),
    _record(2, action="redact", rules=["redact-credentials"], pii={"input": {"api_key": 1, "email": 2}}),
    _record(3, action="redact", rules=["redact-credentials"], pii={"output": {"api_key": 1}}),
    _record(4),
    _record(
        5,
        action="block",
        rules=["refuse-severe-harm"],
        outcome="refused",
        guard={"input": {"unsafe": 0.97, "harm": {"violence_and_weapons": 0.93}, "attack": {}}},
    ),
]


@pytest.fixture
def audit_file(tmp_path: Path) -> Path:
    """The six records written by the real writer, rotated over several files."""
    path = tmp_path / "audit.jsonl"
    audit = AuditLog([FileSink(path, max_bytes=1500)], CollectorRegistry())
    audit.start()
    for record in RECORDS:
        audit.submit(record)
    audit.stop()
    return path


def test_filters_select_records(audit_file: Path) -> None:
    """Each filter narrows the records to the ones that match it."""

    def ids(keep: RecordFilter) -> list[str]:
        return [r["request_id"] for r in read_records([audit_file]) if keep(r)]

    assert len(list(read_records([audit_file]))) == 6
    assert ids(RecordFilter(tenant="acme")) == ["r1", "r3", "r5"]
    assert ids(RecordFilter(action="block")) == ["r1", "r5"]
    assert ids(RecordFilter(category="jailbreak_attempt")) == ["r1"]
    assert ids(RecordFilter(label="email")) == ["r2"]
    assert ids(RecordFilter(rule="redact-credentials")) == ["r2", "r3"]
    assert ids(RecordFilter(model="small")) == ["r0", "r4"]
    assert ids(RecordFilter(outcome="refused")) == ["r5"]
    since = datetime(2026, 11, 20, 11, tzinfo=UTC)
    until = datetime(2026, 11, 20, 12, tzinfo=UTC)
    assert ids(RecordFilter(since=since, until=until)) == ["r1", "r4"]


def test_summary_counts_and_rates(audit_file: Path) -> None:
    """The summary counts by action, category, rule and tenant, with rates per hour."""
    summary = summarize(read_records([audit_file]))
    assert summary["records"] == 6
    assert summary["action"] == {"allow": 2, "block": 2, "redact": 2}
    assert summary["rule"] == {"redact-credentials": 2, "block-prompt-attacks": 1, "refuse-severe-harm": 1}
    assert summary["tenant"] == {"globex": 3, "acme": 3}
    assert summary["category"] == {"jailbreak_attempt": 1, "violence_and_weapons": 1}
    assert summary["timeline"][0] == {
        "bucket": "2026-11-20T10",
        "requests": 2,
        "block_rate": 0.0,
        "redact_rate": 0.5,
        "counts": {"allow": 1, "redact": 1},
    }


def test_csv_export(audit_file: Path) -> None:
    """CSV has one row a record with lists joined by '|'."""
    rows = list(csv.DictReader(io.StringIO(export_csv(read_records([audit_file])))))
    assert len(rows) == 6
    assert rows[2]["pii_labels"] == "api_key|email"
    assert rows[1]["categories"] == "jailbreak_attempt"
    assert rows[5]["seq"] == "6"


def test_verify_follows_the_chain_across_rotated_files(audit_file: Path) -> None:
    """The chain is intact over all rotated files, oldest first."""
    problems, count, head = verify([audit_file])
    assert (problems, count, head.seq) == ([], 6, 6)
    assert len(list(audit_file.parent.glob("audit.*.jsonl"))) >= 2


@pytest.mark.parametrize(
    ("tamper", "line", "message"),
    [
        ("edit", 3, "record seq 3 was edited"),
        ("delete", 3, "seq 3 missing before this line (deleted or moved)"),
        ("reorder", 4, "records out of order: seq 4 follows seq 5"),
    ],
)
def test_audit_verify_command_locates_tampering(tmp_path: Path, tamper: str, line: int, message: str) -> None:
    """`shieldgate audit verify` exits 1 and names the file and line of an edit, deletion or reordering."""
    path = tmp_path / "audit.jsonl"
    audit = AuditLog([FileSink(path, max_bytes=10**6)], CollectorRegistry())
    audit.start()
    for record in RECORDS:
        audit.submit(record)
    audit.stop()
    lines = path.read_text().splitlines()
    if tamper == "edit":
        record = json.loads(lines[2])
        record["action"] = "allow"
        lines[2] = json.dumps(record)
    elif tamper == "delete":
        del lines[2]
    else:
        lines[2], lines[4] = lines[4], lines[2]
    path.write_text("\n".join(lines) + "\n")

    result = subprocess.run(
        [*SHIELDGATE, "audit", "verify", str(path)], env=env(), capture_output=True, text=True, check=False
    )

    assert result.returncode == 1
    assert f"BROKEN {path}:{line}: {message}" in result.stdout


def test_audit_commands_list_summary_export(audit_file: Path, tmp_path: Path) -> None:
    """The review commands filter, summarize and export from the command line."""

    def run(*args: str) -> str:
        result = subprocess.run(
            [*SHIELDGATE, "audit", *args], env=env(), capture_output=True, text=True, check=True
        )
        return result.stdout

    listed = run("list", str(audit_file), "--action", "block")
    assert [line.split("id=")[1] for line in listed.splitlines()] == ["r1", "r5"]
    summary = json.loads(run("summary", str(audit_file), "--tenant", "acme", "--bucket", "day"))
    assert summary["timeline"] == [
        {
            "bucket": "2026-11-20",
            "requests": 3,
            "block_rate": 0.6667,
            "redact_rate": 0.3333,
            "counts": {"block": 2, "redact": 1},
        }
    ]
    out = tmp_path / "export.csv"
    run("export", str(audit_file), "--format", "csv", "--output", str(out), "--since", "2026-11-20T11:00")
    assert [row["request_id"] for row in csv.DictReader(io.StringIO(out.read_text()))] == [
        "r1",
        "r2",
        "r4",
        "r5",
    ]
    exported = [
        json.loads(line)
        for line in run("export", str(audit_file), "--rule", "redact-credentials").splitlines()
    ]
    assert [r["request_id"] for r in exported] == ["r2", "r3"]
    assert "ok: 6 records" in run("verify", str(audit_file))
