"""The gateway's Prometheus metrics, derived from each request's audit record."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

__all__ = ["GatewayMetrics"]

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class GatewayMetrics:
    """Requests, decisions, findings, latencies and policy reloads.

    Label values come only from configuration (aliases, rule ids) and fixed taxonomies, never
    from what a client sent, so their number stays bounded.
    """

    def __init__(self, registry: CollectorRegistry, aliases: Collection[str]) -> None:
        self._aliases = frozenset(aliases)
        self.requests = Counter(
            "shieldgate_requests",
            "API requests by route, model alias and status.",
            ["route", "model", "status"],
            registry=registry,
        )
        self.request_seconds = Histogram(
            "shieldgate_request_duration_seconds",
            "Whole request time by route.",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.upstream_seconds = Histogram(
            "shieldgate_upstream_duration_seconds",
            "Upstream call time by routed alias.",
            ["model"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.scan_seconds = Histogram(
            "shieldgate_scan_duration_seconds",
            "Scanning time per request (guard and PII, all stages).",
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.decisions = Counter(
            "shieldgate_policy_decisions",
            "Policy decisions by stage and action.",
            ["stage", "action"],
            registry=registry,
        )
        self.rules = Counter(
            "shieldgate_policy_rules_fired",
            "Rules that fired (or matched in monitor mode) by id.",
            ["rule", "mode"],
            registry=registry,
        )
        self.categories = Counter(
            "shieldgate_guard_categories",
            "Harm categories and attack strategies scored at 0.5 or more.",
            ["stage", "kind", "category"],
            registry=registry,
        )
        self.pii_labels = Counter(
            "shieldgate_pii_labels",
            "PII spans found, by stage and label.",
            ["stage", "label"],
            registry=registry,
        )
        self.policy_reloads = Counter(
            "shieldgate_policy_reloads",
            "Policy reloads by result (applied, rejected).",
            ["result"],
            registry=registry,
        )

    def observe(self, record: dict[str, Any]) -> None:
        """Count one finished request from its audit record."""
        route = record.get("endpoint") or "other"
        if route.startswith("/"):
            route = "other"  # paths that did not reach a route, such as 404s
        model = record.get("model_routed") or record.get("model_requested")
        model = model if model in self._aliases else "none"
        self.requests.labels(route, model, str(record["status"])).inc()
        latency = record.get("latency_ms") or {}
        self.request_seconds.labels(route).observe(latency.get("total", 0) / 1000)
        if latency.get("upstream") is not None:
            self.upstream_seconds.labels(model).observe(latency["upstream"] / 1000)
        if record.get("decisions"):
            self.scan_seconds.observe(latency.get("scan", 0) / 1000)
        for decision in record.get("decisions", []):
            self.decisions.labels(decision["stage"], decision["action"]).inc()
            for rule in decision["rules"]:
                self.rules.labels(rule, "enforce").inc()
            for rule in decision["monitored"]:
                self.rules.labels(rule, "monitor").inc()
        for stage, scores in (record.get("guard") or {}).items():
            for kind in ("harm", "attack"):
                for category in scores.get(kind) or {}:
                    self.categories.labels(stage, kind, category).inc()
        for stage, counts in (record.get("pii") or {}).items():
            for label, count in counts.items():
                self.pii_labels.labels(stage, label).inc(count)
