"""The guard as the gateway uses it: verdict cache first, then the micro-batched model."""

from __future__ import annotations

from gateway.cache import VerdictCache, normalize_text, verdict_key
from gateway.cache.verdicts import Verdict
from gateway.findings import GuardScores
from gateway.guard.batcher import INLINE_CHARS, LoopShare, MicroBatcher
from gateway.guard.model import GuardInput, GuardModel

__all__ = ["Guard"]


class Guard:
    """Scores texts with `model`, sharing verdicts through `verdicts` when given; a lone text of
    at most `inline_chars` characters on the event loop (0: none), taking turns there with the
    other batchers of `share`."""

    def __init__(
        self,
        model: GuardModel,
        verdicts: VerdictCache | None = None,
        *,
        max_batch: int = 16,
        inline_chars: int = INLINE_CHARS,
        share: LoopShare | None = None,
    ) -> None:
        self.model = model
        self._verdicts = verdicts
        self._batcher: MicroBatcher[GuardInput, GuardScores] = MicroBatcher(
            model.score,
            max_batch=max_batch,
            size=lambda item: len(item.text) + len(item.prompt or ""),
            inline_size=inline_chars,
            share=share,
        )

    @property
    def batches(self) -> int:
        return self._batcher.batches

    async def score(self, item: GuardInput) -> GuardScores:
        if self._verdicts is None:
            return await self._batcher.submit(item)
        # Scores hold no offsets, so texts that differ only in whitespace share a verdict.
        text = normalize_text(item.text)
        if item.is_response:
            text = normalize_text(item.prompt or "") + "\x00" + text
        kind = "response" if item.is_response else "prompt"
        key = verdict_key("guard", self.model.version, text, schema=[kind])

        async def compute() -> Verdict:
            return _to_verdict(await self._batcher.submit(item))

        verdict, _ = await self._verdicts.get_or_compute(key, compute)
        return _from_verdict(verdict)


def _to_verdict(scores: GuardScores) -> Verdict:
    return {
        "unsafe": scores.unsafe,
        "harm": dict(scores.harm),
        "attack": dict(scores.attack),
        "refusal": scores.refusal,
    }


def _from_verdict(verdict: Verdict) -> GuardScores:
    return GuardScores(
        unsafe=float(verdict["unsafe"]),
        harm={k: float(v) for k, v in verdict["harm"].items()},
        attack={k: float(v) for k, v in verdict["attack"].items()},
        refusal=None if verdict["refusal"] is None else float(verdict["refusal"]),
    )
