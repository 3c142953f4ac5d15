"""Cache keys for verdicts: a hash of the scanned text, the model version and the label schema."""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Iterable

__all__ = ["normalize_text", "verdict_key"]

_PREFIX = "shieldgate:verdict:v1"


def normalize_text(text: str) -> str:
    """NFC and collapsed whitespace, for verdicts that hold no character offsets.

    Verdicts with spans (PII) must be keyed on the exact text instead, since their
    offsets point into it.
    """
    return " ".join(unicodedata.normalize("NFC", text).split())


def verdict_key(scanner: str, version: str, text: str, schema: Iterable[str] = ()) -> str:
    """The key under which `scanner` at model `version` stores its verdict on `text`.

    The text itself is only hashed, never stored. A new model version or a different
    label schema gives a different key, so stale verdicts are never read.
    """
    digest = hashlib.sha256()
    for part in (version, json.dumps(sorted(set(schema))), text):
        encoded = part.encode("utf-8")
        digest.update(len(encoded).to_bytes(8, "big"))
        digest.update(encoded)
    return f"{_PREFIX}:{scanner}:{digest.hexdigest()}"
