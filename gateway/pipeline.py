"""The guarded request path: scan each text, let the policy decide, carry the decision out.

Scanners find (`Scan`), the policy engine decides (`decide`), and this module acts: it
blocks, answers with a refusal, redacts, or routes to another model alias.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import AsyncIterator, Awaitable, Sequence
from typing import Protocol

import structlog

from gateway.errors import RequestBlocked
from gateway.findings import Findings
from gateway.hooks import Exchange, Payload, Refusal
from gateway.messages import TextSlot, last_user_text, request_slots, response_slots
from gateway.policy.engine import Decision, Subject, decide
from gateway.policy.model import Operator, Stage
from gateway.policy.store import PolicyStore
from gateway.redaction import Redactor
from gateway.streamguard import StreamGuard

__all__ = ["PolicyHooks", "Scan", "estimate_tokens", "no_scanners"]

log = structlog.get_logger(__name__)


class Scan(Protocol):
    """Given (role, text) pairs, the findings for each, in the same order.

    At the output stage, `prompt` is the user's last text, the one the answer responds to.
    """

    def __call__(
        self, texts: Sequence[tuple[str, str]], stage: Stage, prompt: str = ""
    ) -> Awaitable[list[Findings]]: ...


async def no_scanners(texts: Sequence[tuple[str, str]], stage: Stage, prompt: str = "") -> list[Findings]:
    """Findings with nothing found: policies can still decide on tenant, model and length."""
    return [Findings(role=role) for role, _ in texts]


def estimate_tokens(text: str) -> int:
    """About four characters a token, as for English with BPE vocabularies."""
    return math.ceil(len(text) / 4)


class PolicyHooks:
    """Scan hooks that enforce the tenant's policy at input and output."""

    def __init__(
        self,
        policies: PolicyStore,
        scan: Scan = no_scanners,
        *,
        hash_key: bytes,
        stream_hold: str = "sentence",
        stream_tail: int = 32,
    ) -> None:
        self._policies = policies
        self._scan = scan
        self._hash_key = hash_key
        self._stream_hold = stream_hold
        self._stream_tail = stream_tail

    async def before_upstream(self, exchange: Exchange, request: Payload) -> Payload:
        slots = request_slots(exchange.endpoint, request)
        decision, findings = await self._decide(exchange, "input", [(s.role, s.text) for s in slots])
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
            _apply_redactions(
                request_slots(exchange.endpoint, outgoing), findings, decision, self._redactor(exchange)
            )
        if decision.route is not None:
            outgoing["model"] = decision.route
        return outgoing

    async def after_upstream(self, exchange: Exchange, request: Payload, response: Payload) -> Payload:
        slots = response_slots(exchange.endpoint, response)
        if not slots:
            return response
        decision, findings = await self._decide(
            exchange,
            "output",
            [(s.role, s.text) for s in slots],
            prompt=last_user_text(exchange.endpoint, request),
        )
        if decision.block is not None:
            if exchange.audit is not None:
                exchange.audit.set_outcome("filtered")
            return _filtered(exchange.endpoint, response, decision.block.message)
        redactor = self._redactor(exchange)
        if decision.redactions:
            _apply_redactions(slots, findings, decision, redactor)
        # Placeholders put in the prompt go back to the client as the values they stood for.
        for slot in slots:
            slot.replace(redactor.restore(slot.text))
        return response

    def on_stream(
        self, exchange: Exchange, request: Payload, chunks: AsyncIterator[Payload]
    ) -> AsyncIterator[Payload]:
        prompt = last_user_text(exchange.endpoint, request)

        async def decide_output(
            texts: list[tuple[str, str]], record: bool
        ) -> tuple[Decision, list[Findings]]:
            return await self._decide(exchange, "output", texts, record=record, prompt=prompt)

        guard = StreamGuard(
            exchange, decide_output, self._redactor(exchange), hold=self._stream_hold, tail=self._stream_tail
        )
        return guard.run(chunks)

    def _redactor(self, exchange: Exchange) -> Redactor:
        """One redactor a request, so placeholders number alike in prompt and answer."""
        redactor: Redactor = exchange.notes.setdefault("redactor", Redactor(self._hash_key))
        return redactor

    async def _decide(
        self,
        exchange: Exchange,
        stage: Stage,
        texts: list[tuple[str, str]],
        *,
        record: bool = True,
        prompt: str = "",
    ) -> tuple[Decision, list[Findings]]:
        started = time.perf_counter()
        findings = await self._scan(texts, stage, prompt)
        scan_seconds = time.perf_counter() - started
        policy = self._policies.current.for_tenant(exchange.tenant)
        subject = Subject(
            stage=stage,
            tenant=exchange.tenant,
            key_id=exchange.key_id,
            model=exchange.model,
            tokens=sum(estimate_tokens(text) for _, text in texts),
            messages=tuple(findings),
        )
        decision = decide(policy, subject)
        if exchange.audit is not None:
            exchange.audit.scan_ms += scan_seconds * 1000
            if record:
                exchange.audit.add_decision(decision, findings)
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
    slots: list[TextSlot], findings: list[Findings], decision: Decision, redactor: Redactor
) -> None:
    for slot, found in zip(slots, findings, strict=True):
        if not found.pii:
            continue

        def operator_for(label: str, role: str = slot.role) -> Operator | None:
            return decision.operator_for(label, role)

        slot.replace(redactor.redact(slot.text, found.pii, operator_for))


def _filtered(endpoint: str, response: Payload, message: str) -> Payload:
    """The response with every choice replaced by `message`, finished by the content filter."""
    for choice in response.get("choices", []):
        choice["finish_reason"] = "content_filter"
        if endpoint == "chat.completions":
            choice["message"] = {"role": "assistant", "content": message}
        else:
            choice["text"] = message
    return response
