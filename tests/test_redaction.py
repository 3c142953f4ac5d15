"""Redaction operators and the span pipeline: overlaps, right-to-left replacement, placeholders."""

from __future__ import annotations

import pytest

from gateway.findings import Span
from gateway.policy.model import Operator
from gateway.redaction import Redactor

TEXT = "Mail ana@example.com, card 4111111111111111."
EMAIL = Span("email", 5, 20, 0.99)
CARD = Span("payment_card", 27, 43, 0.95)


@pytest.mark.parametrize(
    ("operator", "expected"),
    [
        ("mask", "Mail [EMAIL], card [PAYMENT_CARD]."),
        ("placeholder", "Mail <EMAIL_1>, card <PAYMENT_CARD_1>."),
        ("partial", "Mail ***********.com, card ************1111."),
        ("remove", "Mail , card ."),
    ],
)
def test_operators(operator: Operator, expected: str) -> None:
    """Each operator replaces every chosen span in its own way."""
    assert Redactor(b"k").redact(TEXT, [EMAIL, CARD], lambda label: operator) == expected


def test_hash_is_keyed_and_stable() -> None:
    """The same value hashes the same under one key and differently under another."""
    first = Redactor(b"k1").redact(TEXT, [EMAIL], lambda label: "hash")
    again = Redactor(b"k1").redact(TEXT, [EMAIL], lambda label: "hash")
    other = Redactor(b"k2").redact(TEXT, [EMAIL], lambda label: "hash")
    assert first == again != other
    assert "ana@" not in first
    assert first.startswith("Mail <EMAIL:")


def test_only_labels_with_an_operator_are_redacted() -> None:
    """A label the policy does not name stays as it is."""
    redacted = Redactor(b"k").redact(TEXT, [EMAIL, CARD], lambda label: "mask" if label == "email" else None)
    assert redacted == "Mail [EMAIL], card 4111111111111111."


def test_a_span_inside_another_is_redacted_with_it() -> None:
    """The longer span's label covers both."""
    person = Span("person", 5, 8, 0.6)  # "ana", inside the email
    redacted = Redactor(b"k").redact(TEXT, [person, EMAIL], lambda label: "mask")
    assert redacted == "Mail [EMAIL], card 4111111111111111."


def test_a_surer_span_inside_another_leaves_nothing_of_the_outer_one() -> None:
    text = "Ship to 12 Elm St, Springfield 62704 for Jean Dupont."
    address = Span("address", 8, 36, 0.91)
    postal_code = Span("postal_code", 31, 36, 0.99)
    full_name = Span("full_name", 41, 52, 0.93)
    first_name = Span("first_name", 41, 45, 0.99)
    spans = [postal_code, address, first_name, full_name]
    redacted = Redactor(b"k").redact(text, spans, lambda label: "placeholder")
    assert redacted == "Ship to <ADDRESS_1> for <FULL_NAME_1>."


def test_partly_overlapping_spans_are_redacted_as_their_union() -> None:
    text = "Call Jean Dupont now"
    one, two = Span("person", 0, 9, 0.95), Span("full_name", 5, 16, 0.9)  # "Call Jean", "Jean Dupont"
    redactor = Redactor(b"k")
    assert redactor.redact(text, [one, two], lambda label: "placeholder") == "<FULL_NAME_1> now"
    assert redactor.restore("<FULL_NAME_1> now") == text


def test_placeholders_are_consistent_within_a_request() -> None:
    """The same value gets the same placeholder across texts; originals map back."""
    redactor = Redactor(b"k")
    one = redactor.redact(
        "Ana met Bo", [Span("person", 0, 3, 1), Span("person", 8, 10, 1)], lambda label: "placeholder"
    )
    two = redactor.redact(
        "Bo called Ana", [Span("person", 0, 2, 1), Span("person", 10, 13, 1)], lambda label: "placeholder"
    )
    assert one == "<PERSON_1> met <PERSON_2>"
    assert two == "<PERSON_2> called <PERSON_1>"
    assert redactor.originals == {"<PERSON_1>": "Ana", "<PERSON_2>": "Bo"}
