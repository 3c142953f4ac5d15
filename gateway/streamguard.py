"""Guarding a streamed answer without buffering it: only a small tail is held back.

Two ways to hold back (`hold`):
- `sentence`: text flows sentence by sentence; an unsafe sentence is never sent in part. A
  sentence longer than `max_hold` characters is released up to a word boundary `tail`
  characters from its end, so a long run without punctuation does not stall the stream.
- `tail`: everything but the last `tail` characters flows (cut at a word boundary): a lower
  time to first token; an unsafe sentence longer than the tail may be sent in part before the
  guard sees enough of it.
Before text is released it is scanned together with the text around it, so a PII value or an
unsafe passage split across chunks is seen whole: PII is redacted (and the prompt's
placeholders restored), and an answer the policy blocks ends at once with
`finish_reason: "content_filter"`. Tool-call arguments are held until the call is complete,
then scanned whole.
"""

from __future__ import annotations

import copy
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from gateway.errors import GatewayError
from gateway.findings import Findings
from gateway.hooks import Exchange
from gateway.policy.engine import ACTION_RANK, Decision
from gateway.redaction import Redactor

__all__ = ["StreamGuard"]

Payload = dict[str, Any]
# Scan and decide on (role, text) pairs; `record` says whether the audit entry keeps the decision.
DecideOutput = Callable[[list[tuple[str, str]], bool], Awaitable[tuple[Decision, list[Findings]]]]

_SENTENCE_END = re.compile(r"[.!?]\s|\n")
_CONTEXT = 200  # characters of released text scanned again as context


@dataclass
class _Choice:
    """What is known of one choice of the stream."""

    released: str = ""  # the model's text already sent (after redaction, before restoring)
    pending: str = ""  # received, not yet sent
    tool_calls: dict[int, Payload] = field(default_factory=dict)


class StreamGuard:
    """Filters one streamed chat completion; `run` wraps the upstream's chunks."""

    def __init__(
        self,
        exchange: Exchange,
        decide: DecideOutput,
        redactor: Redactor,
        *,
        hold: str = "sentence",
        max_hold: int = 400,
        tail: int = 32,
    ) -> None:
        self._exchange = exchange
        self._decide = decide
        self._redactor = redactor
        self._max_hold = max_hold if hold == "sentence" else 0
        self._tail = tail
        self._choices: dict[int, _Choice] = {}
        self._legacy = exchange.endpoint == "completions"  # text completions carry `text`, not `delta`
        self._strongest: tuple[Decision, list[Findings]] | None = None

    async def run(self, chunks: AsyncIterator[Payload]) -> AsyncIterator[Payload]:
        last: Payload | None = None
        try:
            async for chunk in chunks:
                last = chunk if chunk.get("choices") else last
                out, blocked = await self._process(chunk)
                for item in out:
                    yield item
                if blocked:
                    return  # leaving the loop closes the upstream stream
        except GatewayError:
            # The upstream broke off: what it did send still goes out, scanned, before the error.
            if last is not None:
                for item in await self._flush(last):
                    yield item
            raise
        finally:
            self._record()

    async def _flush(self, template: Payload) -> list[Payload]:
        """Release every choice's held text, scanned, in chunks shaped like `template`."""
        out: list[Payload] = []
        for index, state in self._choices.items():
            release, decision = await self._release(state, final=True)
            choice = {"index": index}
            if release:
                out.append(self._chunk(template, choice, release, {}, None))
            if decision is not None and decision.block is not None:
                return [*out, self._chunk(template, choice, "", {}, "content_filter")]
        return out

    async def _process(self, chunk: Payload) -> tuple[list[Payload], bool]:
        """The chunks to send for one upstream chunk, and whether the answer was blocked."""
        out: list[Payload] = []
        choices = chunk.get("choices") or []
        if not choices:
            return [chunk], False  # usage-only chunks and the like
        for choice in choices:
            state = self._choices.setdefault(choice.get("index", 0), _Choice())
            delta = choice.get("delta") or {}
            state.pending += (choice.get("text") if self._legacy else delta.get("content")) or ""
            for call in delta.get("tool_calls") or []:
                _merge_tool_call(state.tool_calls, call)
            finished = choice.get("finish_reason") is not None
            release, decision = await self._release(state, final=finished)
            if decision is not None and decision.block is not None:
                self._record()
                if self._exchange.audit is not None:
                    self._exchange.audit.set_outcome("filtered")
                if release:
                    out.append(self._chunk(chunk, choice, release, {}, None))
                return [*out, self._chunk(chunk, choice, "", {}, "content_filter")], True
            extra = {k: v for k, v in delta.items() if k not in ("content", "tool_calls")}
            if finished and state.tool_calls:
                extra["tool_calls"] = list(state.tool_calls.values())
            if release or extra or finished:
                out.append(self._chunk(chunk, choice, release, extra, choice.get("finish_reason")))
        return out, False

    def _chunk(
        self, template: Payload, choice: Payload, text: str, extra: Payload, finish: str | None
    ) -> Payload:
        """A chunk like `template` whose only choice carries `text` (placeholders restored)."""
        text = self._redactor.restore(text)
        if self._legacy:
            new_choice: Payload = {"index": choice.get("index", 0), "text": text, "logprobs": None}
        else:
            new_choice = {**copy.copy(choice), "delta": {**extra, "content": text} if text else extra}
            new_choice.pop("text", None)
        new_choice["finish_reason"] = finish
        return {
            **{key: value for key, value in template.items() if key != "choices"},
            "choices": [new_choice],
        }

    async def _release(self, state: _Choice, *, final: bool) -> tuple[str, Decision | None]:
        """Scan and release what can go now; the decision when a scan ran."""
        cut = len(state.pending) if final else _release_point(state.pending, self._max_hold, self._tail)
        if cut == 0 and not (final and state.tool_calls):
            return "", None
        context = state.released[-_CONTEXT:]
        texts = [("assistant", context + state.pending)]
        texts += (
            [("assistant", call["function"].get("arguments", "")) for call in state.tool_calls.values()]
            if final
            else []
        )
        decision, findings = await self._decide(texts, False)
        self._note(decision, findings)
        if decision.block is not None:
            return await self._safe_prefix(state, context), decision
        window_end = len(context) + len(state.pending)
        # A span that reaches the end of what has arrived may still grow: leave it, and what
        # follows it, for the next scan.
        open_spans = [span.start - len(context) for span in findings[0].pii if span.end >= window_end]
        if not final and open_spans:
            cut = min(cut, max(0, min(open_spans)))
            findings[0] = Findings(
                findings[0].role,
                findings[0].guard,
                tuple(span for span in findings[0].pii if span.end < window_end),
            )
        if decision.redactions:
            before = len(state.pending)
            state.pending = self._redact(state.pending, findings[0], len(context), decision)
            if final:
                for call, found in zip(state.tool_calls.values(), findings[1:], strict=True):
                    call["function"]["arguments"] = self._redact(
                        call["function"]["arguments"], found, 0, decision
                    )
            if final:
                cut = len(state.pending)
            else:
                # Redaction changed lengths: the cut moves by the change before it (open spans
                # are not redacted, so everything redacted lies before the cut).
                cut = min(
                    cut + len(state.pending) - before,
                    _release_point(state.pending, self._max_hold, self._tail),
                )
        release, state.pending = state.pending[:cut], state.pending[cut:]
        state.released += release
        return release, decision

    async def _safe_prefix(self, state: _Choice, context: str) -> str:
        """The finished sentences before the one that got the answer blocked, redacted as needed."""
        released = ""
        for end in [match.end() for match in _SENTENCE_END.finditer(state.pending)]:
            decision, findings = await self._decide([("assistant", context + state.pending[:end])], False)
            if decision.block is not None:
                break
            released = state.pending[:end]
            if decision.redactions:
                released = self._redact(released, findings[0], len(context), decision)
        state.released += released
        state.pending = ""
        return released

    def _redact(self, text: str, found: Findings, offset: int, decision: Decision) -> str:
        """Redact the spans that fall in `text`, which starts `offset` characters into the scanned window."""
        spans = [
            type(span)(span.label, span.start - offset, span.end - offset, span.score)
            for span in found.pii
            if span.start >= offset
        ]
        return self._redactor.redact(text, spans, lambda label: decision.operator_for(label, "assistant"))

    def _note(self, decision: Decision, findings: list[Findings] | None = None) -> None:
        """Keep the strongest decision of the stream for the audit record."""
        strongest = self._strongest
        if strongest is None or ACTION_RANK[decision.action] > ACTION_RANK[strongest[0].action]:
            self._strongest = (decision, findings or [])

    def _record(self) -> None:
        if self._strongest is not None and self._exchange.audit is not None:
            self._exchange.audit.add_decision(*self._strongest)
            self._strongest = None


def _release_point(pending: str, max_hold: int, tail: int) -> int:
    """Where the finished sentences of `pending` end, or a word boundary when it runs long.

    `max_hold` 0 is the tail mode: only the word boundary `tail` characters from the end counts.
    """
    ends = [match.end() for match in _SENTENCE_END.finditer(pending)] if max_hold else []
    cut = ends[-1] if ends else 0
    limit = len(pending) - tail
    if len(pending) - cut > max_hold and limit > cut:
        space = pending.rfind(" ", cut, limit)
        cut = space + 1 if space >= cut else cut
    # never split a placeholder such as <EMAIL_1>
    opening = pending.rfind("<", 0, cut)
    if opening != -1 and pending.find(">", opening) >= cut:
        cut = opening
    return cut


def _merge_tool_call(calls: dict[int, Payload], delta: Payload) -> None:
    index = delta.get("index", 0)
    call = calls.setdefault(index, {"index": index, "function": {"arguments": ""}})
    for key in ("id", "type"):
        if delta.get(key):
            call[key] = delta[key]
    function = delta.get("function") or {}
    if function.get("name"):
        call["function"]["name"] = function["name"]
    call["function"]["arguments"] += function.get("arguments") or ""
