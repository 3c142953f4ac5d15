"""The audit writer: chained in order, resumed after restarts, fail-open and fail-closed."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from gateway.audit import AuditLog, AuditUnavailable, FileSink
from gateway.audit.review import verify


class FlakySink:
    """A sink that fails while `broken` is set, as a full disk or a dead collector would."""

    def __init__(self) -> None:
        self.broken = False
        self.lines: list[str] = []

    def write(self, lines: list[str]) -> None:
        if self.broken:
            raise OSError("no space left on device")
        self.lines.extend(lines)

    def close(self) -> None:
        return None


def _wait_for(condition: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)


def test_records_are_chained_and_resumed_after_restart(tmp_path: Path) -> None:
    """A second process on the same file continues the chain where the first stopped."""
    path = tmp_path / "audit.jsonl"
    for run in range(2):
        audit = AuditLog([FileSink(path, 10_000)], CollectorRegistry())
        audit.start()
        for i in range(5):
            audit.submit({"request_id": f"{run}-{i}"})
        audit.stop()

    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["seq"] for r in records] == list(range(1, 11))
    assert [r["request_id"] for r in records][4:6] == ["0-4", "1-0"]
    problems, count, head = verify([path])
    assert (problems, count, head.seq) == ([], 10, 10)


def test_fail_open_keeps_serving_and_catches_up(tmp_path: Path) -> None:
    """While the sink fails, requests are admitted and records wait; they are written on recovery."""
    sink = FlakySink()
    registry = CollectorRegistry()
    audit = AuditLog([sink], registry, retry_seconds=0.01)
    audit.start()
    sink.broken = True
    with capture_logs() as logs:
        for i in range(3):
            audit.admit()
            audit.submit({"request_id": str(i)})
        _wait_for(lambda: registry.get_sample_value("shieldgate_audit_sink_up") == 0)
        sink.broken = False
        _wait_for(lambda: len(sink.lines) == 3)
    audit.stop()

    assert [json.loads(line)["request_id"] for line in sink.lines] == ["0", "1", "2"]
    events = [entry["event"] for entry in logs]
    assert events.count("audit.sink_failed") == 1
    assert "audit.sink_recovered" in events


def test_fail_open_drops_past_the_bound_and_counts(tmp_path: Path) -> None:
    """With the queue full, fail-open drops records, says so and counts them."""
    sink = FlakySink()
    sink.broken = True
    registry = CollectorRegistry()
    audit = AuditLog([sink], registry, max_pending=2, retry_seconds=0.01)
    with capture_logs() as logs:
        for i in range(5):
            audit.submit({"request_id": str(i)})
    assert registry.get_sample_value("shieldgate_audit_records_dropped_total") == 3
    assert [entry["event"] for entry in logs] == ["audit.dropped"] * 3


def test_fail_closed_refuses_while_the_sink_fails() -> None:
    """Fail-closed admits no request while records cannot be written, and recovers by itself."""
    sink = FlakySink()
    audit = AuditLog([sink], CollectorRegistry(), fail_closed=True, retry_seconds=0.01)
    audit.start()
    audit.admit()
    sink.broken = True
    audit.submit({"request_id": "x"})
    _wait_for(lambda: not _admits(audit))
    with pytest.raises(AuditUnavailable) as refused:
        audit.admit()
    assert refused.value.status_code == 503
    sink.broken = False
    _wait_for(lambda: _admits(audit))
    audit.stop()
    assert len(sink.lines) == 1


def _admits(audit: AuditLog) -> bool:
    try:
        audit.admit()
    except AuditUnavailable:
        return False
    return True
