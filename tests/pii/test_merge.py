"""Recognizer spans and model spans become one list; validated recognizers win overlaps."""

from __future__ import annotations

from gateway.findings import Span
from gateway.pii.merge import merge_spans


def test_a_model_span_overlapping_a_recognizer_span_is_dropped() -> None:
    card = Span("payment_card", 10, 29, 0.99)
    guess = Span("bank_account", 12, 29, 0.7)
    name = Span("person", 0, 8, 0.9)
    assert merge_spans([card], [guess, name]) == [name, card]


def test_overlapping_model_spans_of_different_labels_are_kept() -> None:
    full, first = Span("full_name", 0, 9, 0.9), Span("first_name", 0, 3, 0.8)
    assert merge_spans([], [full, first]) == [first, full]
