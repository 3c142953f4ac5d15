"""One list of PII spans from the recognizers and the model.

Validated recognizer spans win: a model span that overlaps a recognizer span is dropped,
since a checksum-validated card number or IBAN is more certain than a predicted one. A model
span of a label with a fully specified form (email, card number, IBAN, IP address) is kept
only if its text passes that label's recognizer and validator: the model's near misses there
(an email cut at its first dot, a domain name, a phone number written with dots) are dropped.
A model phone number must have a phone number's shape (7 to 15 digits and separators): a
postal code or a number that took the word after it ("063 966-Fax") is dropped.
Among model spans, overlapping spans of different labels are all kept (a full name is also a
person); the redactor later replaces overlapping spans as one, their union under the longest's
label (gateway/redaction.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from gateway.findings import Span
from gateway.pii.patterns import passes_check

__all__ = ["merge_spans"]


_EDGES = " \t\r\n.,;:!?()[]<>\"'"  # what may surround a span's text


def merge_spans(text: str, recognized: Sequence[Span], predicted: Sequence[Span]) -> list[Span]:
    """`recognized` (from the recognizers, in `text`) and the model's `predicted` spans as one list."""
    kept = [
        span
        for span in predicted
        if not any(span.start < other.end and other.start < span.end for other in recognized)
        and passes_check(span.label, text[span.start : span.end].strip(_EDGES)) is not False
    ]
    return sorted([*recognized, *kept], key=lambda s: (s.start, s.end, s.label))
