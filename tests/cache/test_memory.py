"""The in-process LRU tier."""

from __future__ import annotations

import pytest

from gateway.cache import MemoryStore
from tests.clock import Clock


def test_entries_expire_after_their_ttl() -> None:
    """An entry reads back until its TTL passes, then reads as absent."""
    clock = Clock()
    store = MemoryStore(10, clock=clock)
    store.set("k", b"v", ttl=5)
    clock.now = 4.9
    assert store.get("k") == b"v"
    clock.now = 5.0
    assert store.get("k") is None
    assert len(store) == 0


def test_least_recently_used_entry_is_evicted() -> None:
    """Past the bound, the entry read least recently goes first."""
    store = MemoryStore(2)
    store.set("a", b"1", ttl=60)
    store.set("b", b"2", ttl=60)
    store.get("a")
    store.set("c", b"3", ttl=60)
    assert store.get("b") is None
    assert store.get("a") == b"1"
    assert store.get("c") == b"3"


def test_size_must_be_positive() -> None:
    """A zero-sized LRU is a configuration mistake."""
    with pytest.raises(ValueError, match="at least 1"):
        MemoryStore(0)
