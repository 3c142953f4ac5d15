"""What scanners report about one piece of text; the policy engine decides on these alone."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

__all__ = ["Findings", "GuardScores", "Span", "combined"]


@dataclass(frozen=True, slots=True)
class Span:
    """A piece of personal data found at `text[start:end]`."""

    label: str
    start: int
    end: int
    score: float


@dataclass(frozen=True, slots=True)
class GuardScores:
    """The safety guard's probabilities for one text (a prompt, or a response to it)."""

    unsafe: float
    harm: Mapping[str, float] = field(default_factory=dict)
    attack: Mapping[str, float] = field(default_factory=dict)
    refusal: float | None = None  # only for responses


@dataclass(frozen=True, slots=True)
class Findings:
    """Everything found in one message: its role, guard scores (if the guard ran) and PII spans."""

    role: str
    guard: GuardScores | None = None
    pii: tuple[Span, ...] = ()

    @property
    def pii_labels(self) -> frozenset[str]:
        return frozenset(span.label for span in self.pii)


def combined(pii: Sequence[Findings], guard: Sequence[Findings]) -> list[Findings]:
    """One `Findings` a text from a PII-only scan's and a guard-only scan's, in the same order."""
    return [
        Findings(role=spans.role, guard=scores.guard, pii=spans.pii)
        for spans, scores in zip(pii, guard, strict=True)
    ]
