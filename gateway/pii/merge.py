"""One list of PII spans from the recognizers and the model.

Validated recognizer spans win: a model span that overlaps a recognizer span is dropped,
since a checksum-validated card number or IBAN is more certain than a predicted one. Among
model spans, overlapping spans of different labels are all kept (a full name is also a
person); the redactor later picks the longest where they overlap.
"""

from __future__ import annotations

from collections.abc import Sequence

from gateway.findings import Span

__all__ = ["merge_spans"]


def merge_spans(recognized: Sequence[Span], predicted: Sequence[Span]) -> list[Span]:
    kept = [
        span
        for span in predicted
        if not any(span.start < other.end and other.start < span.end for other in recognized)
    ]
    return sorted([*recognized, *kept], key=lambda s: (s.start, s.end, s.label))
