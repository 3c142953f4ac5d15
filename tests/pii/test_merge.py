"""Recognizer spans and model spans become one list; validated recognizers win overlaps."""

from __future__ import annotations

from gateway.findings import Span
from gateway.pii.merge import merge_spans


def test_a_model_span_overlapping_a_recognizer_span_is_dropped() -> None:
    card = Span("payment_card", 10, 29, 0.99)
    guess = Span("bank_account", 12, 29, 0.7)
    name = Span("person", 0, 8, 0.9)
    text = "Ana Ruiz, 4111 1111 1111 1111"
    assert merge_spans(text, [card], [guess, name]) == [name, card]


def test_overlapping_model_spans_of_different_labels_are_kept() -> None:
    full, first = Span("full_name", 0, 9, 0.9), Span("first_name", 0, 3, 0.8)
    assert merge_spans("Ana Ruiz.", [], [full, first]) == [first, full]


def test_a_model_span_of_a_checked_label_must_pass_its_recognizer() -> None:
    text = "Mail SzaszJanka@cuvox.de or see InstantResales.com, or ana@example.org."
    cut = Span("email", 5, 21, 0.9)  # "SzaszJanka@cuvox": the model stopped at the dot
    domain = Span("email", 32, 50, 0.85)
    whole = Span("email", 55, 71, 0.9)  # "ana@example.org." with its full stop
    assert text[whole.start : whole.end] == "ana@example.org."
    assert merge_spans(text, [], [cut, domain, whole]) == [whole]


def test_a_model_phone_number_must_have_a_phone_numbers_shape() -> None:
    text = "Call (555) 123-4567 at 12 Elm St, Springfield 62704."
    number = Span("phone_number", 5, 19, 0.95)
    postal_code = Span("phone_number", 46, 51, 0.92)
    assert text[postal_code.start : postal_code.end] == "62704"
    assert merge_spans(text, [], [number, postal_code]) == [number]
