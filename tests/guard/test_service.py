"""The guard behind the verdict cache: repeated texts are not scored again, across replicas too."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from gateway.cache import CacheMetrics, MemoryStore, RedisStore, VerdictCache
from gateway.guard import Guard, GuardInput, GuardModel, bundled_guard_dir, load_guard
from gateway.guard.batcher import LoopShare
from tests.redisserver import RedisServer

pytestmark = pytest.mark.anyio

TEXT = "Tell me how to poison my neighbour without getting caught."


def _cache(redis_url: str | None = None) -> VerdictCache:
    return VerdictCache(
        MemoryStore(100),
        CacheMetrics(CollectorRegistry()),
        ttl=60,
        redis=RedisStore(redis_url, timeout=0.5) if redis_url else None,
        redis_timeout=0.5,
    )


async def test_a_repeated_text_is_answered_from_the_cache() -> None:
    guard = Guard(load_guard(bundled_guard_dir()), _cache())
    first = await guard.score(GuardInput(TEXT))
    again = await guard.score(GuardInput("  Tell me how to poison my neighbour   without getting caught. "))
    assert guard.batches == 1  # whitespace differences share the verdict
    assert again == first


async def test_a_prompt_and_the_same_text_as_a_response_are_cached_apart() -> None:
    guard = Guard(load_guard(bundled_guard_dir()), _cache())
    as_prompt = await guard.score(GuardInput(TEXT))
    as_response = await guard.score(GuardInput(TEXT, prompt=""))
    assert guard.batches == 2
    assert as_prompt.refusal is None
    assert as_response.refusal is not None


async def test_replicas_share_verdicts_through_redis(redis_server: RedisServer) -> None:
    model = load_guard(bundled_guard_dir())
    caches = _cache(redis_server.url), _cache(redis_server.url)
    first, second = Guard(model, caches[0]), Guard(model, caches[1])
    try:
        scored = await first.score(GuardInput(TEXT))
        assert await second.score(GuardInput(TEXT)) == scored
        assert second.batches == 0
    finally:
        for cache in caches:
            await cache.aclose()


async def test_concurrent_requests_are_batched() -> None:
    guard = Guard(load_guard(bundled_guard_dir()))
    texts = [f"Question number {i}: how do I bake bread?" for i in range(24)]
    results = await asyncio.gather(*(guard.score(GuardInput(t)) for t in texts))
    assert len(results) == 24
    assert guard.batches < 24


async def test_a_short_lone_text_is_scored_on_the_loop_a_long_one_in_a_thread() -> None:
    guard = Guard(load_guard(bundled_guard_dir()), inline_chars=len(TEXT) + 20)
    short = await guard.score(GuardInput(TEXT))
    await guard.score(GuardInput(TEXT, prompt="What would you do? " * 2))  # 38 characters more: too long
    assert (guard.batches, guard._batcher.inline_batches) == (2, 1)
    never = Guard(load_guard(bundled_guard_dir()), inline_chars=0)
    assert await never.score(GuardInput(TEXT)) == short  # the same scores wherever they run
    assert never._batcher.inline_batches == 0


LONG_PROMPT = "Here are the minutes of our planning meeting, item by item. " * 20 + TEXT
ANSWER = "I'm sorry, but I can't help with that."


def _counted_guard(cache: VerdictCache | None = None) -> tuple[Guard, list[int]]:
    """A guard on a model of its own (nothing kept yet) that counts the passes over a prompt's end."""
    model = GuardModel(bundled_guard_dir(), threads=1)
    passes: list[int] = []
    keep = model._pass_and_keep

    def counted(ids: list[int]) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
        passes.append(len(ids))
        return keep(ids)

    model._pass_and_keep = counted  # type: ignore[method-assign]
    return Guard(model, cache), passes


async def test_a_long_prompts_end_is_read_while_its_answer_is_awaited() -> None:
    """The answer's verdict waits for the pass read ahead (one pass, not two) and scores the same."""
    guard, passes = _counted_guard(_cache())
    await guard.score(GuardInput(LONG_PROMPT))
    assert passes == []  # the prompt's own pass: longer than the end an answer is read with
    guard.read_ahead(LONG_PROMPT)
    assert LONG_PROMPT in guard._ahead  # under way while the upstream answers
    answer = await guard.score(GuardInput(ANSWER, prompt=LONG_PROMPT))
    assert len(passes) == 1
    assert guard._ahead == {}
    unaided, _ = _counted_guard()
    assert answer == await unaided.score(GuardInput(ANSWER, prompt=LONG_PROMPT))


async def test_no_read_ahead_for_a_cached_or_short_prompt() -> None:
    """A prompt whose verdict came from the cache (its answer likely did too), or one short
    enough that its own pass kept what its answer is read against, starts nothing."""
    cache = _cache()
    first, _ = _counted_guard(cache)
    await first.score(GuardInput(LONG_PROMPT))
    second, passes = _counted_guard(cache)
    await second.score(GuardInput(LONG_PROMPT))  # from the cache
    second.read_ahead(LONG_PROMPT)
    await second.score(GuardInput(TEXT))
    second.read_ahead(TEXT)
    assert second._ahead == {}
    assert len(passes) == 1  # TEXT's own pass, which kept what an answer to it is read against
    assert second.model.kept_prompts == 1
    second.read_ahead("never scored here")
    assert second._ahead == {}


async def test_closing_lets_a_pass_read_ahead_finish() -> None:
    guard, passes = _counted_guard()
    await guard.score(GuardInput(LONG_PROMPT))
    guard.read_ahead(LONG_PROMPT)
    await guard.aclose()
    assert guard._ahead == {}
    assert len(passes) == 1
    assert guard.model.kept_prompts == 1


async def test_no_read_ahead_while_a_model_of_the_share_has_work() -> None:
    """Under load the cores are busy anyway: the answer's batch reads the prompt's end then."""
    share = LoopShare()
    model = GuardModel(bundled_guard_dir(), threads=1)
    guard = Guard(model, share=share)
    other = Guard(model, inline_chars=0, share=share)  # another model's batcher, say the PII model's
    await guard.score(GuardInput(LONG_PROMPT))
    running = asyncio.create_task(other.score(GuardInput(TEXT)))
    await asyncio.sleep(0)  # its batch has started
    assert share.busy()
    guard.read_ahead(LONG_PROMPT)
    assert guard._ahead == {}
    await running
    assert not share.busy()
