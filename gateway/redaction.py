"""Replace found PII in a text: pick spans, resolve overlaps, replace right to left.

Operators: `mask` ([EMAIL]), `placeholder` (<EMAIL_1>, the same value always gets the same
number within one request), `hash` (a keyed digest, stable within the process), `partial`
(keeps the last 4 characters) and `remove`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence

from gateway.findings import Span
from gateway.policy.model import Operator

__all__ = ["Redactor"]


class Redactor:
    """Redacts the texts of one request; `originals` maps its placeholders back to the values."""

    def __init__(self, hash_key: bytes) -> None:
        self._hash_key = hash_key
        self._by_value: dict[tuple[str, str], str] = {}
        self._counts: dict[str, int] = {}
        self.originals: dict[str, str] = {}

    def redact(self, text: str, spans: Sequence[Span], operator_for: Callable[[str], Operator | None]) -> str:
        """`text` with every span whose label has an operator replaced; others are left alone."""
        return _redact(text, spans, operator_for, self._replace)

    def restore(self, text: str) -> str:
        """`text` with this request's placeholders turned back into the values they replaced."""
        for placeholder, value in self.originals.items():
            text = text.replace(placeholder, value)
        return text

    def _replace(self, value: str, label: str, operator: Operator) -> str:
        if operator == "mask":
            return f"[{label.upper()}]"
        if operator == "placeholder":
            return self._placeholder(label, value)
        if operator == "hash":
            digest = hmac.new(self._hash_key, value.encode("utf-8"), hashlib.sha256).hexdigest()[:12]
            return f"<{label.upper()}:{digest}>"
        if operator == "partial":
            keep = 4 if len(value) > 6 else 0
            return "*" * (len(value) - keep) + value[len(value) - keep :]
        return ""

    def _placeholder(self, label: str, value: str) -> str:
        key = (label, value)
        if key not in self._by_value:
            self._counts[label] = self._counts.get(label, 0) + 1
            placeholder = f"<{label.upper()}_{self._counts[label]}>"
            self._by_value[key] = placeholder
            self.originals[placeholder] = value
        return self._by_value[key]


def _one_per_overlap(chosen: Sequence[tuple[Span, Operator]]) -> list[tuple[Span, Operator]]:
    """Spans that overlap are redacted as one: their union, under the label and operator of the
    longest (of two as long, the surer), so no character any of them covers is left in the text.

    An address and the postal code in it become the address; a first name scored surer than
    the full name around it cannot leave the last name standing.
    """
    groups: list[list[tuple[Span, Operator]]] = []
    end = 0  # where the last group's union ends
    for item in sorted(chosen, key=lambda item: (item[0].start, -item[0].end)):
        if groups and item[0].start < end:
            groups[-1].append(item)
            end = max(end, item[0].end)
        else:
            groups.append([item])
            end = item[0].end
    resolved = []
    for group in groups:
        lead, op = max(group, key=lambda item: (item[0].end - item[0].start, item[0].score))
        union = Span(lead.label, group[0][0].start, max(span.end for span, _ in group), lead.score)
        resolved.append((union, op))
    return resolved


def _redact(
    text: str,
    spans: Sequence[Span],
    operator_for: Callable[[str], Operator | None],
    replace: Callable[[str, str, Operator], str],
) -> str:
    chosen = [(span, op) for span in spans if (op := operator_for(span.label)) is not None]
    # Replacements are chosen in reading order (placeholders number from the left), then
    # spliced in from the right so earlier offsets stay valid.
    ordered = _one_per_overlap(chosen)
    replacements = [replace(text[span.start : span.end], span.label, op) for span, op in ordered]
    for (span, _), replacement in zip(reversed(ordered), reversed(replacements), strict=True):
        text = text[: span.start] + replacement + text[span.end :]
    return text
