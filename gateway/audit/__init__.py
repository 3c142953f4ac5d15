"""The audit log: per-request entries, hash-chained records, sinks, review and verification."""

from gateway.audit.chain import GENESIS, ChainHead, Problem, seal, verify_lines
from gateway.audit.entry import AuditEntry
from gateway.audit.middleware import AuditTrail
from gateway.audit.sinks import FileSink, Sink, StdoutSink, audit_files
from gateway.audit.writer import AuditLog, AuditUnavailable

__all__ = [
    "GENESIS",
    "AuditEntry",
    "AuditLog",
    "AuditTrail",
    "AuditUnavailable",
    "ChainHead",
    "FileSink",
    "Problem",
    "Sink",
    "StdoutSink",
    "audit_files",
    "seal",
    "verify_lines",
]
