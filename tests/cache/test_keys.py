"""Verdict keys change with the text, the model version and the label schema."""

from __future__ import annotations

from gateway.cache import normalize_text, verdict_key


def test_key_hides_the_text() -> None:
    """The key is a hash: the scanned text does not appear in it."""
    key = verdict_key("pii", "1.0", "call Alice at 555-0100")
    assert "Alice" not in key
    assert key.startswith("shieldgate:verdict:v1:pii:")


def test_key_depends_on_version_schema_and_text() -> None:
    """A new model version, another schema or another text each give a new key."""
    base = verdict_key("pii", "1.0", "text", ["email", "person"])
    assert verdict_key("pii", "1.0", "text", ["person", "email"]) == base  # order does not matter
    assert verdict_key("pii", "1.1", "text", ["email", "person"]) != base
    assert verdict_key("pii", "1.0", "text", ["email"]) != base
    assert verdict_key("pii", "1.0", "text ", ["email", "person"]) != base
    assert verdict_key("guard", "1.0", "text", ["email", "person"]) != base


def test_fields_cannot_bleed_into_each_other() -> None:
    """Moving characters between version and text gives a different key."""
    assert verdict_key("guard", "1", "0text") != verdict_key("guard", "10", "text")


def test_normalize_text_folds_whitespace_and_unicode_forms() -> None:
    """NFC and whitespace runs: equivalent texts share one normalized form."""
    assert normalize_text("  caf\u0065\u0301\n\tau lait ") == "caf\u00e9 au lait"
