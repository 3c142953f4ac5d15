"""One request's audit entry, filled in as the request moves through the gateway.

It holds identifiers, decisions, scores, label counts and timings; never a prompt, a
completion, or a personal data value.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from gateway.findings import Findings
from gateway.policy.engine import ACTION_RANK, Decision

__all__ = ["AuditEntry"]

_SCORE_FLOOR = 0.5  # categories and strategies below this are left out of the record


@dataclass
class AuditEntry:
    """Collects what one request did; `record()` turns it into the audit record."""

    request_id: str
    path: str
    started: float = field(default_factory=time.perf_counter)
    time: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="milliseconds"))
    tenant: str | None = None
    key_id: str | None = None
    endpoint: str | None = None
    model_requested: str | None = None
    model_routed: str | None = None
    stream: bool = False
    upstream_status: int | None = None
    upstream_ms: float | None = None
    scan_ms: float = 0.0
    cache_hit: bool | None = None
    outcome: str | None = None
    error_code: str | None = None
    decisions: list[dict[str, Any]] = field(default_factory=list)
    guard: dict[str, dict[str, Any]] = field(default_factory=dict)
    pii: dict[str, Counter[str]] = field(default_factory=dict)

    def add_decision(self, decision: Decision, findings: Sequence[Findings]) -> None:
        """Record a policy decision and a summary of the findings it was made on."""
        self.decisions.append(
            {
                "stage": decision.stage,
                "policy": decision.policy,
                "policy_version": decision.version,
                "action": decision.action,
                "rules": [match.rule for match in decision.fired],
                "reasons": [match.reason for match in decision.fired],
                "monitored": [match.rule for match in decision.monitored],
            }
        )
        labels = self.pii.setdefault(decision.stage, Counter())
        for found in findings:
            labels.update(span.label for span in found.pii)
        scores = [found.guard for found in findings if found.guard is not None]
        if scores:
            self.guard[decision.stage] = {
                "unsafe": round(max(s.unsafe for s in scores), 4),
                "harm": _top([s.harm for s in scores]),
                "attack": _top([s.attack for s in scores]),
                "refusal": max((s.refusal for s in scores if s.refusal is not None), default=None),
            }

    def set_outcome(self, outcome: str, code: str | None = None) -> None:
        """Note how the request ended (blocked, refused, filtered, ...), unless a step already did."""
        if self.outcome is None:
            self.outcome = outcome
            self.error_code = code

    def record(self, status: int) -> dict[str, Any]:
        """The audit record as written, before chaining."""
        action = max((d["action"] for d in self.decisions), key=ACTION_RANK.__getitem__, default=None)
        return {
            "time": self.time,
            "request_id": self.request_id,
            "tenant": self.tenant,
            "key_id": self.key_id,
            "endpoint": self.endpoint or self.path,
            "model_requested": self.model_requested,
            "model_routed": self.model_routed,
            "stream": self.stream,
            "action": action,
            "rules": sorted({rule for d in self.decisions for rule in d["rules"]}),
            "decisions": self.decisions,
            "guard": self.guard,
            "pii": {stage: dict(sorted(counts.items())) for stage, counts in self.pii.items() if counts},
            "cache_hit": self.cache_hit,
            "latency_ms": {
                "scan": round(self.scan_ms, 2),
                "upstream": None if self.upstream_ms is None else round(self.upstream_ms, 2),
                "total": round((time.perf_counter() - self.started) * 1000, 2),
            },
            "upstream_status": self.upstream_status,
            "status": status,
            "outcome": self.outcome or _outcome(status),
            "error_code": self.error_code,
        }


def _top(per_message: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """Each label's highest score over the messages, when it reaches the floor."""
    best: dict[str, float] = {}
    for scores in per_message:
        for label, score in scores.items():
            best[label] = max(score, best.get(label, 0.0))
    return {label: round(score, 4) for label, score in sorted(best.items()) if score >= _SCORE_FLOOR}


def _outcome(status: int) -> str:
    if status < 400:
        return "ok"
    return "client_error" if status < 500 else "error"
