"""The PII model as the gateway uses it: verdict cache first, then the micro-batched model."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from gateway.cache import VerdictCache, verdict_key
from gateway.cache.verdicts import Verdict
from gateway.findings import Span
from gateway.guard.batcher import INLINE_CHARS, LoopShare, MicroBatcher
from gateway.pii.model import PiiModel

__all__ = ["PiiFinder"]

Labels = tuple[tuple[str, str], ...]  # (label, description) pairs, sorted


class PiiFinder:
    """Finds spans of the asked labels with `model`, sharing verdicts through `verdicts`; a lone
    text of at most `inline_chars` characters on the event loop (0: none), taking turns there with
    the other batchers of `share`."""

    def __init__(
        self,
        model: PiiModel,
        verdicts: VerdictCache | None = None,
        *,
        max_batch: int = 16,
        inline_chars: int = INLINE_CHARS,
        share: LoopShare | None = None,
    ) -> None:
        self.model = model
        self._verdicts = verdicts
        self._batcher: MicroBatcher[tuple[str, Labels], list[Span]] = MicroBatcher(
            self._run,
            max_batch=max_batch,
            size=lambda item: len(item[0]),
            inline_size=inline_chars,
            share=share,
        )

    @property
    def batches(self) -> int:
        return self._batcher.batches

    def _run(self, items: Sequence[tuple[str, Labels]]) -> list[list[Span]]:
        """One `find` per distinct label set among the batch's texts."""
        out: list[list[Span]] = [[] for _ in items]
        for labels in dict.fromkeys(labels for _, labels in items):
            indexes = [i for i, (_, asked) in enumerate(items) if asked == labels]
            found = self.model.find([items[i][0] for i in indexes], dict(labels))
            for i, spans in zip(indexes, found, strict=True):
                out[i] = spans
        return out

    async def find(self, text: str, labels: Mapping[str, str]) -> list[Span]:
        asked: Labels = tuple(sorted(labels.items()))
        if self._verdicts is None:
            return await self._batcher.submit((text, asked))
        # Spans hold offsets into the text, so the key is the exact text (not normalized).
        key = verdict_key("pii", self.model.version, text, schema=[f"{k}={v}" for k, v in asked])

        async def compute() -> Verdict:
            spans = await self._batcher.submit((text, asked))
            return {"spans": [[s.label, s.start, s.end, s.score] for s in spans]}

        verdict, _ = await self._verdicts.get_or_compute(key, compute)
        return [
            Span(str(label), int(start), int(end), float(score))
            for label, start, end, score in verdict["spans"]
        ]
