"""The guarded request path: scan each text, let the policy decide, carry the decision out.

Scanners find (`Scan`), the policy engine decides (`decide`), and this module acts: it
blocks, answers with a refusal, redacts, or routes to another model alias.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

import structlog

from gateway.errors import RequestBlocked
from gateway.findings import Findings
from gateway.hooks import Exchange, Payload, Refusal
from gateway.messages import TextSlot, request_slots, response_slots
from gateway.policy.engine import Decision, Redaction, Subject, decide
from gateway.policy.model import Operator, Stage
from gateway.policy.store import PolicyStore
from gateway.redaction import Redactor

__all__ = ["PolicyHooks", "Scan", "estimate_tokens", "no_scanners"]

log = structlog.get_logger(__name__)

# Given (role, text) pairs, the findings for each, in the same order.
Scan = Callable[[Sequence[tuple[str, str]], Stage], Awaitable[list[Findings]]]


async def no_scanners(texts: Sequence[tuple[str, str]], stage: Stage) -> list[Findings]:
    """Findings with nothing found: policies can still decide on tenant, model and length."""
    return [Findings(role=role) for role, _ in texts]


def estimate_tokens(text: str) -> int:
    """About four characters a token, as for English with BPE vocabularies."""
    return math.ceil(len(text) / 4)


class PolicyHooks:
    """Scan hooks that enforce the tenant's policy at input and output."""

    def __init__(self, policies: PolicyStore, scan: Scan = no_scanners, *, hash_key: bytes) -> None:
        self._policies = policies
        self._scan = scan
        self._hash_key = hash_key

    async def before_upstream(self, exchange: Exchange, request: Payload) -> Payload:
        slots = request_slots(exchange.endpoint, request)
        decision, findings = await self._decide(exchange, "input", slots)
        if decision.block is not None:
            if decision.block.respond_with == "refusal" and exchange.endpoint != "embeddings":
                if exchange.audit is not None:
                    exchange.audit.set_outcome("refused")
                raise Refusal(decision.block.message)
            raise RequestBlocked(decision.block.message, code=decision.block.code)
        if not decision.redactions and decision.route is None:
            return request
        outgoing = copy.deepcopy(request)
        if decision.redactions:
            _apply_redactions(request_slots(exchange.endpoint, outgoing), findings, decision, self._hash_key)
        if decision.route is not None:
            outgoing["model"] = decision.route
        return outgoing

    async def after_upstream(self, exchange: Exchange, request: Payload, response: Payload) -> Payload:
        slots = response_slots(exchange.endpoint, response)
        if not slots:
            return response
        decision, findings = await self._decide(exchange, "output", slots)
        if decision.block is not None:
            if exchange.audit is not None:
                exchange.audit.set_outcome("filtered")
            return _filtered(exchange.endpoint, response, decision.block.message)
        if decision.redactions:
            _apply_redactions(slots, findings, decision, self._hash_key)
        return response

    def on_stream(
        self, exchange: Exchange, request: Payload, chunks: AsyncIterator[Payload]
    ) -> AsyncIterator[Payload]:
        return chunks

    async def _decide(
        self, exchange: Exchange, stage: Stage, slots: list[TextSlot]
    ) -> tuple[Decision, list[Findings]]:
        started = time.perf_counter()
        findings = await self._scan([(slot.role, slot.text) for slot in slots], stage)
        scan_seconds = time.perf_counter() - started
        policy = self._policies.current.for_tenant(exchange.tenant)
        subject = Subject(
            stage=stage,
            tenant=exchange.tenant,
            key_id=exchange.key_id,
            model=exchange.model,
            tokens=sum(estimate_tokens(slot.text) for slot in slots),
            messages=tuple(findings),
        )
        decision = decide(policy, subject)
        if exchange.audit is not None:
            exchange.audit.add_decision(decision, findings, scan_seconds)
        log.info(
            "policy.decided",
            policy=decision.policy,
            policy_version=decision.version,
            stage=stage,
            action=decision.action,
            rules=[match.rule for match in decision.fired],
            monitored=[match.rule for match in decision.monitored],
            route=decision.route,
        )
        return decision, findings


def _apply_redactions(
    slots: list[TextSlot], findings: list[Findings], decision: Decision, hash_key: bytes
) -> None:
    redactor = Redactor(hash_key)
    for slot, found in zip(slots, findings, strict=True):
        if not found.pii:
            continue

        def operator_for(label: str, role: str = slot.role) -> Operator | None:
            return _operator(decision.redactions, label, role)

        slot.replace(redactor.redact(slot.text, found.pii, operator_for))


def _operator(redactions: Sequence[Redaction], label: str, role: str) -> Operator | None:
    """The first redaction that covers `label` in a message of `role` decides the operator."""
    for redaction in redactions:
        if redaction.roles is not None and role not in redaction.roles:
            continue
        if redaction.labels is None or label in redaction.labels:
            return redaction.operators.get(label, redaction.operator)
    return None


def _filtered(endpoint: str, response: Payload, message: str) -> Payload:
    """The response with every choice replaced by `message`, finished by the content filter."""
    for choice in response.get("choices", []):
        choice["finish_reason"] = "content_filter"
        if endpoint == "chat.completions":
            choice["message"] = {"role": "assistant", "content": message}
        else:
            choice["text"] = message
    return response
