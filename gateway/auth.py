"""Client (virtual) API keys: issued once, stored as SHA-256 digests, checked in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from gateway.config import ApiKeyEntry
from gateway.errors import AuthenticationFailed

__all__ = ["ANONYMOUS", "KeyStore", "Principal", "digest", "new_key"]

KEY_PREFIX = "sg-"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the key's id (never the key), its tenant and its per-minute limits."""

    key_id: str
    tenant: str
    rpm: int | None = None
    tpm: int | None = None

    @property
    def limited(self) -> bool:
        """Whether this key has a requests or tokens per minute limit."""
        return self.rpm is not None or self.tpm is not None


ANONYMOUS = Principal(key_id="anonymous", tenant="default")


def new_key() -> str:
    """A fresh random client key."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def digest(key: str) -> str:
    """The SHA-256 hex digest stored in configuration instead of the key."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class KeyStore:
    """Maps presented keys to principals without ever holding a key in memory."""

    def __init__(self, entries: Sequence[ApiKeyEntry], *, required: bool) -> None:
        self._entries = [(bytes.fromhex(e.sha256), Principal(e.id, e.tenant, e.rpm, e.tpm)) for e in entries]
        self._required = required

    @property
    def required(self) -> bool:
        return self._required

    def authenticate(self, authorization: str | None) -> Principal:
        """Resolve an `Authorization: Bearer <key>` header, or raise `AuthenticationFailed`."""
        if not self._required:
            return ANONYMOUS
        if not authorization:
            raise AuthenticationFailed(
                "You didn't provide an API key. Send it as 'Authorization: Bearer <key>'."
            )
        scheme, _, key = authorization.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise AuthenticationFailed("The Authorization header must be 'Bearer <key>'.")
        presented = hashlib.sha256(key.strip().encode("utf-8")).digest()
        found: Principal | None = None
        # Compare against every entry so the time taken says nothing about which matched.
        for stored, principal in self._entries:
            if hmac.compare_digest(stored, presented):
                found = principal
        if found is None:
            raise AuthenticationFailed("Incorrect API key provided.")
        return found
