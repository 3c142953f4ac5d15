"""The audit log: requests hand records over without waiting; one thread chains and writes them.

When a sink fails, records wait in a bounded queue and the thread retries. Fail-open (the
default) keeps serving and, once the queue is full, drops records with a log line and a
metric. Fail-closed refuses new requests (503) while the sink is failing or the queue full.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from typing import Any

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge

from gateway.audit.chain import ChainHead, seal
from gateway.audit.sinks import FileSink, Sink
from gateway.errors import GatewayError

__all__ = ["AuditLog", "AuditUnavailable"]

log = structlog.get_logger(__name__)

_STOP = object()


class AuditUnavailable(GatewayError):
    """Fail-closed audit and the audit sink cannot take records: the request is refused."""

    status_code = 503
    error_type = "server_error"
    default_code = "audit_unavailable"


class AuditLog:
    """Chains records in submission order and writes them to every sink from one thread."""

    def __init__(
        self,
        sinks: list[Sink],
        registry: CollectorRegistry,
        *,
        fail_closed: bool = False,
        max_pending: int = 10_000,
        retry_seconds: float = 0.5,
    ) -> None:
        self._sinks = sinks
        self._fail_closed = fail_closed
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max_pending)
        self._retry_seconds = retry_seconds
        self._healthy = True
        self._head = _resume(sinks)
        self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
        self._written = Counter(
            "shieldgate_audit_records_written", "Audit records written.", registry=registry
        )
        self._dropped = Counter(
            "shieldgate_audit_records_dropped",
            "Audit records dropped (fail-open, queue full).",
            registry=registry,
        )
        self._pending = Gauge(
            "shieldgate_audit_pending", "Audit records waiting to be written.", registry=registry
        )
        self._up = Gauge(
            "shieldgate_audit_sink_up", "1 while the audit sinks accept writes.", registry=registry
        )
        self._up.set(1)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop the thread and close the sinks."""
        self._queue.put(_STOP)
        self._thread.join(timeout)
        for sink in self._sinks:
            sink.close()

    def admit(self) -> None:
        """Refuse a new request when fail-closed and the log cannot take its record."""
        if self._fail_closed and (not self._healthy or self._queue.full()):
            raise AuditUnavailable(
                "The audit log is unavailable; the gateway refuses requests until it recovers."
            )

    def submit(self, record: dict[str, Any]) -> None:
        """Queue a record without blocking."""
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            self._dropped.inc()
            log.error("audit.dropped", request_id=record.get("request_id"), reason="queue full")
        self._pending.set(self._queue.qsize())

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            assert isinstance(item, dict)
            batch = [item]
            while len(batch) < 256:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is _STOP:
                    self._write(batch)
                    return
                assert isinstance(more, dict)
                batch.append(more)
            self._write(batch)
            self._pending.set(self._queue.qsize())

    def _write(self, batch: list[dict[str, Any]]) -> None:
        head = ChainHead(self._head.seq, self._head.hash)
        lines = [json.dumps(seal({"type": "audit", **record}, head), ensure_ascii=False) for record in batch]
        pending = list(self._sinks)
        while pending:
            failed: list[Sink] = []
            for sink in pending:
                try:
                    sink.write(lines)
                except OSError as exc:
                    failed.append(sink)
                    if self._healthy:
                        log.error("audit.sink_failed", sink=type(sink).__name__, error=type(exc).__name__)
            if failed:
                # Only the sinks that failed retry, so no sink gets a record twice.
                self._healthy = False
                self._up.set(0)
                time.sleep(self._retry_seconds)
            pending = failed
        if not self._healthy:
            log.info("audit.sink_recovered")
        self._healthy = True
        self._up.set(1)
        self._head = head
        self._written.inc(len(batch))


def _resume(sinks: list[Sink]) -> ChainHead:
    """Continue the chain of the newest file on disk, so restarts keep it unbroken."""
    for sink in sinks:
        if isinstance(sink, FileSink):
            line = sink.last_line()
            if line:
                try:
                    return ChainHead.from_line(line)
                except (ValueError, KeyError):
                    log.error("audit.chain_unreadable", path=str(sink.path))
    return ChainHead()
