"""Client keys: digests only, bearer parsing, and the anonymous mode."""

from __future__ import annotations

import pytest

from gateway.auth import ANONYMOUS, KeyStore, Principal, digest, new_key
from gateway.config import ApiKeyEntry
from gateway.errors import AuthenticationFailed


def _store() -> KeyStore:
    entries = [
        ApiKeyEntry(id="team-a", tenant="acme", sha256=digest("sg-alpha")),
        ApiKeyEntry(id="team-b", tenant="globex", sha256=digest("sg-beta")),
    ]
    return KeyStore(entries, required=True)


def test_known_key_resolves_to_its_principal() -> None:
    """A configured key maps to its id and tenant."""
    assert _store().authenticate("Bearer sg-beta") == Principal("team-b", "globex")


@pytest.mark.parametrize("header", [None, "", "Bearer ", "Basic sg-alpha", "sg-alpha", "Bearer sg-gamma"])
def test_missing_or_unknown_keys_are_refused(header: str | None) -> None:
    """No key, a malformed header or an unknown key raises AuthenticationFailed."""
    with pytest.raises(AuthenticationFailed):
        _store().authenticate(header)


def test_anonymous_mode_serves_everyone() -> None:
    """With auth not required, every caller is the anonymous principal."""
    assert KeyStore([], required=False).authenticate(None) is ANONYMOUS


def test_new_keys_are_random_and_prefixed() -> None:
    """Fresh keys differ and carry the sg- prefix; their digest is 64 hex characters."""
    first, second = new_key(), new_key()
    assert first != second
    assert first.startswith("sg-")
    assert len(digest(first)) == 64
