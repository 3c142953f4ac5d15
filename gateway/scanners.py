"""The gateway's scanner: PII recognizers and model on every text, and the safety guard.

At the input stage each text is judged as a prompt; at the output stage as a response to the
user's last text (the pair the guard was trained on: a refusal or a harmful answer is judged
together with what was asked). The PII
model is asked for `labels()`: the default labels plus every label the loaded policies name
(their own custom labels with their descriptions), except those the recognizers find with
validators.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence

from gateway.findings import Findings, GuardScores, Span, combined
from gateway.guard import Guard, GuardInput
from gateway.pii import find_spans
from gateway.pii.merge import merge_spans
from gateway.pii.service import PiiFinder
from gateway.policy.loader import PolicySet
from gateway.policy.model import Stage

__all__ = ["DEFAULT_MODEL_LABELS", "RECOGNIZED", "Scanners", "model_labels", "policy_model_labels"]

# Found by the validated recognizers (gateway/pii/patterns.py); the model is not asked for them.
RECOGNIZED = frozenset(
    {"email", "payment_card", "card_number", "iban", "ip_address", "api_key", "access_token"}
)

# What the model looks for when no policy names anything else.
DEFAULT_MODEL_LABELS = (
    "person",
    "phone_number",
    "address",
    "date_of_birth",
    "national_id_number",
    "passport_number",
    "tax_id",
    "bank_account",
    "username",
    "password",
)


def model_labels(
    named: set[str], custom: Mapping[str, str], descriptions: Mapping[str, str]
) -> dict[str, str]:
    """{label: description} to ask the model: defaults, plus policy-named labels, minus recognized."""
    wanted = (set(DEFAULT_MODEL_LABELS) | named) - RECOGNIZED
    return {
        label: custom.get(label) or descriptions.get(label) or label.replace("_", " ")
        for label in sorted(wanted)
    }


def policy_model_labels(policies: PolicySet, descriptions: Mapping[str, str]) -> dict[str, str]:
    """`model_labels` for what `policies` name, their own custom labels described as they say."""
    custom = {k: v for labels in policies.custom_labels.values() for k, v in labels.items()}
    return model_labels(policies.pii_labels(), custom, descriptions)


class Scanners:
    """A `Scan` (see gateway.pipeline): findings for each (role, text), in order."""

    def __init__(
        self,
        guard: Guard | None = None,
        pii: PiiFinder | None = None,
        labels: Callable[[], Mapping[str, str]] | None = None,
    ) -> None:
        self.guard = guard
        self.pii = pii
        self._labels = labels or (lambda: model_labels(set(), {}, pii.model.descriptions if pii else {}))

    async def __call__(
        self, texts: Sequence[tuple[str, str]], stage: Stage, prompt: str = ""
    ) -> list[Findings]:
        # The guard first: when both models get a short text, the batcher that starts first hands
        # its pass to a thread and the other keeps the loop (gateway.guard.batcher.LoopShare), so
        # the hand-off falls on the guard's pass, the shorter one.
        guard, pii = await asyncio.gather(self.judge(texts, stage, prompt), self.find_pii(texts))
        return combined(pii, guard)

    async def find_pii(self, texts: Sequence[tuple[str, str]]) -> list[Findings]:
        """The PII part alone: spans for each text, no guard scores."""
        labels = self._labels() if self.pii is not None else {}
        spans = await asyncio.gather(*(self._pii(text, labels) for _, text in texts))
        return [Findings(role=role, pii=tuple(found)) for (role, _), found in zip(texts, spans, strict=True)]

    async def judge(self, texts: Sequence[tuple[str, str]], stage: Stage, prompt: str = "") -> list[Findings]:
        """The guard part alone: scores for each text, no PII spans."""
        context = prompt if stage == "output" else None
        scores = await asyncio.gather(*(self._guard(text, context) for _, text in texts))
        return [Findings(role=role, guard=guard) for (role, _), guard in zip(texts, scores, strict=True)]

    def read_ahead(self, prompt: str) -> None:
        """The pipeline's `read_ahead`: the guard's pass over a forwarded prompt's end, when an
        answer to it will need one (gateway.guard.service)."""
        if self.guard is not None and prompt.strip():
            self.guard.read_ahead(prompt)

    async def _guard(self, text: str, prompt: str | None) -> GuardScores | None:
        if self.guard is None or not text.strip():
            return None
        return await self.guard.score(GuardInput(text, prompt=prompt))

    async def _pii(self, text: str, labels: Mapping[str, str]) -> list[Span]:
        recognized = find_spans(text)
        if self.pii is None or not text.strip() or not labels:
            return recognized
        return merge_spans(text, recognized, await self.pii.find(text, labels))
