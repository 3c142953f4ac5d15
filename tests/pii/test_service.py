"""The PII model behind the verdict cache and the micro-batcher."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CollectorRegistry

from gateway.cache import CacheMetrics, MemoryStore, VerdictCache
from gateway.pii.model import bundled_pii_dir, load_pii_model
from gateway.pii.service import PiiFinder

pytestmark = pytest.mark.anyio

PERSON = {"person": "person name"}


def _finder(cache: bool = True) -> PiiFinder:
    verdicts = VerdictCache(MemoryStore(100), CacheMetrics(CollectorRegistry()), ttl=60) if cache else None
    return PiiFinder(load_pii_model(bundled_pii_dir()), verdicts)


async def test_a_repeated_text_is_answered_from_the_cache() -> None:
    finder = _finder()
    first = await finder.find("Please call Marta Lopez tomorrow.", PERSON)
    assert await finder.find("Please call Marta Lopez tomorrow.", PERSON) == first
    assert finder.batches == 1
    await finder.find("Please call Marta Lopez tomorrow.", {"city": "city"})  # another label set
    assert finder.batches == 2


async def test_concurrent_texts_with_different_label_sets_share_a_batch() -> None:
    finder = _finder(cache=False)
    texts = [f"Ticket {i}: Marta Lopez called from Madrid." for i in range(12)]
    results = await asyncio.gather(
        *(finder.find(text, PERSON if i % 2 else {"city": "city"}) for i, text in enumerate(texts))
    )
    assert finder.batches < 12
    assert all(
        span.label == ("person" if i % 2 else "city") for i, spans in enumerate(results) for span in spans
    )


async def test_a_short_lone_text_is_searched_on_the_loop_unless_inline_chars_is_0() -> None:
    text = "Write to Laura Bianchi at laura.bianchi@example.it"
    labels = {"person": "person name", "email": "email address"}
    inline = PiiFinder(load_pii_model(bundled_pii_dir()))
    never = PiiFinder(load_pii_model(bundled_pii_dir()), inline_chars=0)
    assert await inline.find(text, labels) == await never.find(text, labels)
    assert (inline._batcher.inline_batches, never._batcher.inline_batches) == (1, 0)
