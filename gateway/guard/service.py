"""The guard as the gateway uses it: verdict cache first, then the micro-batched model.

An answer is read against the end of its prompt (gateway.guard.model). When the prompt is
longer than that end, the answer's pass needs a pass over the end first; `read_ahead` runs it
while the upstream model answers, so the answer's verdict waits only for its own pass. It does
so only while the models have nothing else to do: under load the cores are busy anyway, and the
pass waits for the answer's batch as before.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict

from gateway.cache import VerdictCache, normalize_text, verdict_key
from gateway.cache.verdicts import Verdict
from gateway.findings import GuardScores
from gateway.guard.batcher import INLINE_CHARS, LoopShare, MicroBatcher
from gateway.guard.model import CONTEXT, GuardInput, GuardModel

__all__ = ["Guard"]

FRESH_PROMPTS = 256  # long prompts last scored by the model (their hashes), whose answers are likely new
# Characters up to which `read_ahead` counts a prompt's tokens on the event loop (some 50 us); a
# longer prompt is tokenized in the thread only, where a prompt kept already costs no pass.
COUNTED_ON_LOOP = 2048


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
        self._share = share
        self._batcher: MicroBatcher[GuardInput, GuardScores] = MicroBatcher(
            model.score,
            max_batch=max_batch,
            size=lambda item: len(item.text) + len(item.prompt or ""),
            inline_size=inline_chars,
            share=share,
        )
        self._fresh: OrderedDict[int, None] = OrderedDict()
        self._ahead: dict[str, asyncio.Task[bool]] = {}  # prompt -> its end's pass, under way

    @property
    def batches(self) -> int:
        return self._batcher.batches

    async def score(self, item: GuardInput) -> GuardScores:
        if self._verdicts is None:
            return await self._from_model(item)
        # Scores hold no offsets, so texts that differ only in whitespace share a verdict.
        text = normalize_text(item.text)
        if item.is_response:
            text = normalize_text(item.prompt or "") + "\x00" + text
        kind = "response" if item.is_response else "prompt"
        key = verdict_key("guard", self.model.version, text, schema=[kind])

        async def compute() -> Verdict:
            return _to_verdict(await self._from_model(item))

        verdict, _ = await self._verdicts.get_or_compute(key, compute)
        return _from_verdict(verdict)

    def read_ahead(self, prompt: str) -> None:
        """Start the pass over `prompt`'s end that an answer to it will be read against, off the
        event loop, when the model scored `prompt` itself just now (a prompt whose verdict came
        from the cache likely has its answer's there too), its own pass did not keep it (the
        prompt is longer than the end) and no model of the share has a pass to run."""
        if prompt in self._ahead or hash(prompt) not in self._fresh:
            return
        del self._fresh[hash(prompt)]
        if self._batcher.busy or (self._share is not None and self._share.busy()):
            return
        if len(prompt) <= COUNTED_ON_LOOP and self.model.count_tokens(prompt) - 2 <= CONTEXT:
            return  # its own pass kept them
        task = asyncio.get_running_loop().create_task(asyncio.to_thread(self.model.read_prompt_end, prompt))
        self._ahead[prompt] = task
        task.add_done_callback(lambda done: self._finished(prompt, done))

    def _finished(self, prompt: str, task: asyncio.Task[bool]) -> None:
        self._ahead.pop(prompt, None)
        if not task.cancelled():
            task.exception()  # retrieved: a failed pass is run again by the answer's own

    async def _from_model(self, item: GuardInput) -> GuardScores:
        """The model's scores (an answer's once its prompt's end read ahead is done); a prompt
        is noted as fresh."""
        if item.is_response:
            ahead = self._ahead.get(item.prompt or "")
            if ahead is not None:
                await asyncio.wait([ahead])
            return await self._batcher.submit(item)
        scores = await self._batcher.submit(item)
        # A prompt of CONTEXT characters or fewer has no more tokens: its own pass kept its end.
        if self.model.response_apart and len(item.text) > CONTEXT:
            self._fresh[hash(item.text)] = None
            self._fresh.move_to_end(hash(item.text))
            while len(self._fresh) > FRESH_PROMPTS:
                self._fresh.popitem(last=False)
        return scores

    async def aclose(self) -> None:
        """Let the passes read ahead that are under way finish (a model call is not cut short)."""
        if self._ahead:
            await asyncio.wait(list(self._ahead.values()))


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
