"""The guarded request path: scan each text, let the policy decide, carry the decision out.

Scanners find (`Scan`), the policy engine decides (`decide`), and this module acts: it
blocks, answers with a refusal, redacts, or routes to another model alias.

With `guard_during_call`, a prompt's PII is found and acted on first, the upstream call starts,
and the guard judges the prompt meanwhile; a verdict that blocks drops the call. That is only
done where it cannot change what is sent: the scanner must run its parts apart (`SplitScan`)
and every enforced input rule of the tenant's policy that reads guard scores must block
(`guard_only_blocks`). A prompt the guard blocks may then have reached the upstream model.
"""

from __future__ import annotations

import asyncio
import copy
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, NoReturn, Protocol, TypeVar, runtime_checkable

import structlog

from gateway.errors import RequestBlocked
from gateway.findings import Findings, combined
from gateway.hooks import Exchange, Payload, Refusal
from gateway.messages import TextSlot, last_user_text, request_slots, response_slots
from gateway.policy.engine import CompiledPolicy, Decision, Subject, decide, guard_only_blocks
from gateway.policy.model import Operator, Stage
from gateway.policy.store import PolicyStore
from gateway.redaction import Redactor
from gateway.streamguard import StreamGuard

__all__ = ["PolicyHooks", "Scan", "SplitScan", "estimate_tokens", "no_scanners"]

log = structlog.get_logger(__name__)
T = TypeVar("T")
_PENDING = "guard_pending"  # exchange.notes: the prompt the guard has yet to judge, with its PII
_AHEAD = "read_ahead"  # exchange.notes: the prompt as forwarded, to read ahead once the guard passes it
_ANSWERED = ("chat.completions", "completions")  # the endpoints whose answers are judged


class Scan(Protocol):
    """Given (role, text) pairs, the findings for each, in the same order.

    At the output stage, `prompt` is the user's last text, the one the answer responds to.
    """

    def __call__(
        self, texts: Sequence[tuple[str, str]], stage: Stage, prompt: str = ""
    ) -> Awaitable[list[Findings]]: ...


@runtime_checkable
class SplitScan(Scan, Protocol):
    """A `Scan` whose PII part and guard part can also run apart (see gateway.scanners)."""

    def find_pii(self, texts: Sequence[tuple[str, str]]) -> Awaitable[list[Findings]]: ...

    def judge(
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
        guard_during_call: bool = False,
        read_ahead: Callable[[str], None] | None = None,
    ) -> None:
        self._policies = policies
        self._scan = scan
        self._guard_during_call = guard_during_call
        # Given the prompt as forwarded once it is judged: work on it that the answer's
        # judging needs, started while the upstream model answers (gateway.guard.service).
        self._read_ahead = read_ahead
        self._hash_key = hash_key
        self._stream_hold = stream_hold
        self._stream_tail = stream_tail

    async def before_upstream(self, exchange: Exchange, request: Payload) -> Payload:
        slots = request_slots(exchange.endpoint, request)
        texts = [(s.role, s.text) for s in slots]
        policy = self._policies.current.for_tenant(exchange.tenant)
        split = self._split_scan(policy)
        if split is None:
            decision, findings = await self._decide(exchange, "input", texts, policy=policy)
        else:
            started = time.perf_counter()
            findings = await split.find_pii(texts)
            decision = self._judge(exchange, "input", texts, findings, started, policy, provisional=True)
            if decision.block is None:
                exchange.notes[_PENDING] = (split, policy, texts, findings)
            else:  # stopped on PII alone: nothing to overlap, so decide on everything now
                started = time.perf_counter()  # the PII scan's time is already in the audit entry
                findings = combined(findings, await split.judge(texts, "input"))
                decision = self._judge(exchange, "input", texts, findings, started, policy)
        if decision.block is not None:
            self._stop(exchange, decision)
        outgoing = request
        if decision.redactions or decision.route is not None:
            outgoing = copy.deepcopy(request)
        if decision.redactions:
            _apply_redactions(
                request_slots(exchange.endpoint, outgoing), findings, decision, self._redactor(exchange)
            )
        if decision.route is not None:
            outgoing["model"] = decision.route
        if self._read_ahead is not None and exchange.endpoint in _ANSWERED:
            prompt = last_user_text(exchange.endpoint, outgoing)
            if _PENDING in exchange.notes:  # judged during the call: read ahead once it passes
                exchange.notes[_AHEAD] = prompt
            else:
                self._read_ahead(prompt)
        return outgoing

    async def during_upstream(self, exchange: Exchange, upstream: Awaitable[T]) -> T:
        pending = exchange.notes.pop(_PENDING, None)
        if pending is None:
            return await upstream
        split, policy, texts, pii = pending
        call = asyncio.ensure_future(upstream)
        try:
            started = time.perf_counter()
            findings = combined(pii, await split.judge(texts, "input"))
            decision = self._judge(exchange, "input", texts, findings, started, policy)
        except BaseException:
            _abandon(call)
            raise
        if decision.block is not None:
            _abandon(call)
            if exchange.audit is not None:  # the call was under way this long when it was dropped
                exchange.audit.upstream_ms = (time.perf_counter() - started) * 1000
            self._stop(exchange, decision)
        forwarded = exchange.notes.pop(_AHEAD, None)
        if self._read_ahead is not None and forwarded is not None:
            self._read_ahead(forwarded)
        return await call

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

    def _split_scan(self, policy: CompiledPolicy) -> SplitScan | None:
        """The scanner, when a prompt under `policy` may be judged during the upstream call."""
        if not self._guard_during_call or not isinstance(self._scan, SplitScan):
            return None
        return self._scan if guard_only_blocks(policy, "input") else None

    def _stop(self, exchange: Exchange, decision: Decision) -> NoReturn:
        """Raise what a blocked prompt gets: a refusal, or an error."""
        assert decision.block is not None
        if decision.block.respond_with == "refusal" and exchange.endpoint != "embeddings":
            if exchange.audit is not None:
                exchange.audit.set_outcome("refused")
            raise Refusal(decision.block.message)
        raise RequestBlocked(decision.block.message, code=decision.block.code)

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
        policy: CompiledPolicy | None = None,
    ) -> tuple[Decision, list[Findings]]:
        """Scan `texts` and decide on them under `policy` (default: the tenant's current one)."""
        started = time.perf_counter()
        findings = await self._scan(texts, stage, prompt)
        if policy is None:
            policy = self._policies.current.for_tenant(exchange.tenant)
        return self._judge(exchange, stage, texts, findings, started, policy, record=record), findings

    def _judge(
        self,
        exchange: Exchange,
        stage: Stage,
        texts: list[tuple[str, str]],
        findings: list[Findings],
        started: float,
        policy: CompiledPolicy,
        *,
        record: bool = True,
        provisional: bool = False,
    ) -> Decision:
        """`policy`'s decision on `findings`, scanned since `started`: noted in the audit entry
        when `record`, and logged, unless `provisional` (a decision before the guard's verdict)."""
        scan_seconds = time.perf_counter() - started
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
            if record and not provisional:
                exchange.audit.add_decision(decision, findings)
        if provisional:
            return decision
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
        return decision


# Upstream calls whose answers are not wanted, held until they end (the loop keeps only weak
# references to tasks).
_ABANDONED: set[asyncio.Future[Any]] = set()


def _abandon(call: asyncio.Future[Any]) -> None:
    """Drop an upstream call whose answer is not wanted, without waiting for it.

    It is left to end on its own rather than cancelled: litellm prepares a call in a worker
    thread and hands back a coroutine, which a cancellation at that point leaves never awaited.
    A stream it opens is closed as soon as it is open, which ends the upstream's generation.
    """
    _ABANDONED.add(call)
    call.add_done_callback(_close_abandoned)


def _close_abandoned(call: asyncio.Future[Any]) -> None:
    _ABANDONED.discard(call)
    if call.cancelled() or call.exception() is not None:
        return
    close = getattr(call.result(), "aclose", None)
    if close is not None:
        closing = asyncio.ensure_future(close())
        _ABANDONED.add(closing)
        closing.add_done_callback(_ABANDONED.discard)


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
