"""Structured identifiers: each recognizer finds valid values and refuses look-alikes."""

from __future__ import annotations

import pytest

from gateway.pii import find_spans

CASES = [
    # (text, expected [(label, value)])
    ("write to ana.lopez+news@example.co.uk today", [("email", "ana.lopez+news@example.co.uk")]),
    ("not an email: ana@localhost", []),
    ("card 4111 1111 1111 1111 exp 12/29", [("payment_card", "4111 1111 1111 1111")]),
    ("card 4111-1111-1111-1111", [("payment_card", "4111-1111-1111-1111")]),
    ("card 5500005555555559.", [("payment_card", "5500005555555559")]),
    ("order 4111111111111112 (Luhn fails)", []),
    # Digits inside a longer token are not a card, even when they pass Luhn by chance.
    ("from GB37LTXZ84215830989318 to", [("iban", "GB37LTXZ84215830989318")]),
    ("licence U62928788557186", []),
    ("phone +44 20 7946 0958", []),
    ("IBAN GB82 WEST 1234 5698 7654 32 please", [("iban", "GB82 WEST 1234 5698 7654 32")]),
    ("IBAN DE89370400440532013000", [("iban", "DE89370400440532013000")]),
    ("IBAN DE89370400440532013001 (check digits fail)", []),
    ("from 192.168.10.4 and 8.8.8.8", [("ip_address", "192.168.10.4"), ("ip_address", "8.8.8.8")]),
    ("version 1.2.3.4.5 and 999.1.1.1", []),
    ("host 2001:db8::8a2e:370:7334 replied", [("ip_address", "2001:db8::8a2e:370:7334")]),
    ("time 12:30:45", []),
    ("key sk-proj-abcdefghijklmnopqrstuvwxyz0123", [("api_key", "sk-proj-abcdefghijklmnopqrstuvwxyz0123")]),
    ("aws AKIAIOSFODNN7EXAMPLE here", [("api_key", "AKIAIOSFODNN7EXAMPLE")]),
    ("token ghp_" + "a" * 36, [("access_token", "ghp_" + "a" * 36)]),
    (
        "slack xoxb-1234567890-abcdefghij, google ya29.a0AfH6SMBx3kQ9zLm2pR7tYw",
        [("access_token", "xoxb-1234567890-abcdefghij"), ("access_token", "ya29.a0AfH6SMBx3kQ9zLm2pR7tYw")],
    ),
    ("stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc", [("api_key", "sk_live_4eC39HqLyjWDarjtT1zdp7dc")]),
    ("card 3782 822463 10005 (Amex)", [("payment_card", "3782 822463 10005")]),
    ("2024-03-09 6082 12 GET /health", []),  # passes Luhn read as one number
    ("host 192.168.10.4.", [("ip_address", "192.168.10.4")]),
    (
        "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NSJ9.abcdefghijk",
        [("access_token", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NSJ9.abcdefghijk")],
    ),
    ("a skeleton sk-short", []),
    ("SSN 138-73-1034, call 555-123-4567", [("national_id_number", "138-73-1034")]),
    ("SSN 666-73-1034 or 938-59-1842", []),  # never issued: area 666, 900-999
    ("NIR 1 72 02 32 013 121 26.", [("national_id_number", "1 72 02 32 013 121 26")]),
    ("NIR 172023201312127", []),  # key off by one
    ("card 374883521588522", [("payment_card", "374883521588522")]),  # passes the NIR key too
    (
        "DNI 52795029R, NIE Y4072500L",
        [("national_id_number", "52795029R"), ("national_id_number", "Y4072500L")],
    ),
    ("DNI 52795029A", []),
    ("codice fiscale RSSMRA85T10A562S", [("national_id_number", "RSSMRA85T10A562S")]),
    ("codice fiscale RSSMRA85T10A562T", []),
    # A namesake's code with every digit turned into a letter: found in a text without digits.
    ("codice fiscale RSSMRAURTMLARSNL", [("national_id_number", "RSSMRAURTMLARSNL")]),
    ("mijn BSN is 214035797.", [("national_id_number", "214035797")]),
    ("ordernummer 214035797", []),  # a valid BSN, but nothing says it is one
    ("routing number 027066904, account 12345", [("routing_number", "027066904")]),
    ("invoice 027066904", []),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_recognizers(text: str, expected: list[tuple[str, str]]) -> None:
    """Each row: a text and exactly the (label, value) pairs that must be found in it."""
    found = [(span.label, text[span.start : span.end]) for span in find_spans(text)]
    assert found == expected


def test_a_checked_label_accepts_only_its_whole_valid_form() -> None:
    from gateway.pii.patterns import passes_check

    assert passes_check("email", "ana@example.com") is True
    assert passes_check("email", "ana@example") is False  # cut at the first dot
    assert passes_check("email", "InstantResales.com") is False
    assert passes_check("payment_card", "4111 1111 1111 1111") is True
    assert passes_check("payment_card", "# 4111 1111 1111 1111") is False
    assert passes_check("ip_address", "03.93.92.16.85") is False  # a phone number
    assert passes_check("payment_card", "630427373398") is True  # a 12-digit Maestro number
    assert passes_check("payment_card", "630427373399") is False
    assert passes_check("iban", "DE89370400440532013000") is True
    assert passes_check("iban", "de89 3704 0044 0532 0130 00") is True
    assert passes_check("phone_number", "+44 20 7946 0958") is True
    assert passes_check("phone_number", "(555) 123-4567") is True
    assert passes_check("phone_number", "001-434-682-7514x01550") is True  # 13 digits, then the extension
    assert passes_check("phone_number", "030 1234567 ext. 12") is True
    assert passes_check("phone_number", "62488") is False  # a postal code
    assert passes_check("phone_number", "063 966-Fax") is False
    assert passes_check("phone_number", "+1 234 567 890 123 456") is False  # 16 digits
    assert passes_check("person", "anything") is None  # free text: the model decides
    assert passes_check("api_key", "my-own-key-shape") is None  # more shapes than the patterns know
