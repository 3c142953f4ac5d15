"""The safety guard: one int8 ONNX encoder that scores a prompt, or a response to a prompt.

One forward pass gives every head: unsafe, the harm categories, the attack strategies and
refusal. Texts longer than one window are cut into overlapping windows that are all scored
(nothing after the first 512 tokens goes unread); a text's score is the maximum over its
windows, so one harmful paragraph in a long document is enough to flag it.

A guard trained with the prompt read apart (`response_apart` in guard.json; how it is trained:
gateway.training.guard_train) judges a response in a pass over the response's own tokens: the
prompt's positions attend only to the prompt, so its keys and values at every layer are those of
the prompt's own pass (guard.onnx gives them beside the prompt's logits), and response.onnx reads
the response's windows against them. A prompt's keys and values are kept (KEPT_PROMPTS, the most
recent) from its own pass, so a response to it costs no second pass over the prompt; when they
are not kept, a pass over the prompt's end gives them.

A text's windows go through the model apart from any other text's (ROWS_PER_CALL at a time,
no padding): int8 dynamic quantization scales activations by the largest value in the whole
input, so a text scored beside others would get other scores than alone, and a verdict, cached
or not, must depend on the text only, not on the traffic it arrived with.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Tokenizer

from gateway.findings import GuardScores
from gateway.guard.labels import OUTPUTS, head_slices
from gateway.onnxsession import SHORT_CALL_TOKENS, CpuModel, TextPool, padded, per_call, sigmoid
from gateway.taxonomy import ATTACK_STRATEGIES, HARM_CATEGORIES

__all__ = ["GuardInput", "GuardModel", "bundled_guard_dir", "check_guard_dir", "load_guard"]

WINDOW = 256  # text tokens per window: the length the model was trained near
STRIDE = 192  # windows overlap by WINDOW - STRIDE tokens, so no sentence is only ever seen cut
CONTEXT = 96  # tokens of the prompt kept (its end) when a response is scored
KEPT_PROMPTS = 32  # prompts whose keys and values a response-apart guard keeps (at most 1.2 MB each)


@dataclass(frozen=True, slots=True)
class GuardInput:
    """A text to judge; `prompt` is set when the text is a response to that prompt."""

    text: str
    prompt: str | None = None

    @property
    def is_response(self) -> bool:
        return self.prompt is not None


def bundled_guard_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "models" / "guard"


FILES = ("guard.onnx", "guard.json", "tokenizer.json")  # what a guard model directory holds


RESPONSE_GRAPH = "response.onnx"  # a response-apart guard's second graph


def check_guard_dir(directory: Path) -> dict[str, Any]:
    """`directory`'s guard.json; ValueError naming the files it lacks to be a guard model (FILES,
    then the file the graphs' weights are in when guard.json names one, and the response graph
    of a response-apart guard)."""
    missing = [name for name in FILES if not (directory / name).is_file()]
    if missing:
        raise ValueError(f"{directory} holds no {', '.join(missing)}")
    meta: dict[str, Any] = json.loads((directory / "guard.json").read_text(encoding="utf-8"))
    wanted = [meta.get("weights"), RESPONSE_GRAPH if meta.get("response_apart") else None]
    missing = [name for name in wanted if name is not None and not (directory / name).is_file()]
    if missing:
        raise ValueError(f"{directory} holds no {', '.join(missing)}")
    return meta


class GuardModel:
    """Tokenizer and the model's sessions, created once; `score` is thread-safe.

    `threads`: onnxruntime threads a model call; `parallel`: texts of one `score` call scored
    side by side (0 for either: one per core); a call on fewer than `short_tokens` tokens runs
    on one thread (see gateway.onnxsession.CpuModel)."""

    def __init__(
        self,
        directory: Path,
        *,
        threads: int = 0,
        parallel: int = 0,
        short_tokens: int = SHORT_CALL_TOKENS,
    ) -> None:
        meta = check_guard_dir(directory)
        if tuple(meta["outputs"]) != OUTPUTS:
            raise ValueError(f"{directory}/guard.json: outputs do not match this gateway's taxonomy")
        self.directory = directory
        self.thresholds: dict[str, float] = meta["thresholds"]
        self.version: str = meta.get("version", "unversioned")
        self._tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        self._cls = self._token_id("[CLS]")
        self._sep = self._token_id("[SEP]")
        self._session = CpuModel(directory / "guard.onnx", threads, short_tokens)
        self.response_apart = bool(meta.get("response_apart"))
        self._responses = (
            CpuModel(directory / RESPONSE_GRAPH, threads, short_tokens) if self.response_apart else None
        )
        self._prompts: OrderedDict[tuple[int, ...], tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._prompts_lock = threading.Lock()
        self._texts = TextPool(parallel)
        self._slices = head_slices()

    def _token_id(self, token: str) -> int:
        found = self._tokenizer.token_to_id(token)
        if found is None:
            raise ValueError(f"{self.directory}/tokenizer.json has no {token} token")
        return found

    @property
    def kept_prompts(self) -> int:
        """How many prompts' keys and values a response-apart guard holds now."""
        with self._prompts_lock:
            return len(self._prompts)

    def count_tokens(self, text: str) -> int:
        """Tokens of `text` as a prompt, [CLS] and [SEP] included."""
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids) + 2

    def score(self, items: Sequence[GuardInput]) -> list[GuardScores]:
        """Scores for each item, in order; an item's windows go through the model apart from others'."""
        texts = self._tokenizer.encode_batch_fast([item.text for item in items], add_special_tokens=False)
        return self._texts.map(self._score_one, list(zip(items, [t.ids for t in texts], strict=True)))

    def _score_one(self, job: tuple[GuardInput, list[int]]) -> GuardScores:
        item, text_ids = job
        if self._responses is None:
            probabilities = self._run(self._rows(item, text_ids))
        elif item.is_response:
            probabilities = self._run_response(self._context(item), text_ids)
        else:
            probabilities = self._run_prompt(text_ids)
        return self._scores(probabilities.max(axis=0), item.is_response)

    def read_prompt_end(self, prompt: str) -> bool:
        """Keep the keys and values that a response to `prompt` is read against (its last
        CONTEXT tokens' pass), unless they are kept already: the response's pass then finds them.
        Whether a pass ran (never for a guard that reads responses with their prompts)."""
        if self._responses is None:
            return False
        context = self._context(GuardInput("", prompt=prompt))
        with self._prompts_lock:
            if tuple(context) in self._prompts:
                return False
        self._pass_and_keep(context)
        return True

    def _context(self, item: GuardInput) -> list[int]:
        """The end of a response's prompt that the response is read with (CONTEXT tokens)."""
        return self._tokenizer.encode(item.prompt or "", add_special_tokens=False).ids[-CONTEXT:]

    def _rows(self, item: GuardInput, text_ids: list[int]) -> list[tuple[list[int], list[int]]]:
        """(input ids, token types) of each window of the item's text: [CLS] window [SEP] for a
        prompt, [CLS] prompt's end [SEP] window [SEP] for a response (the window as segment 1)."""
        head, text_type = [self._cls], 0
        if item.is_response:
            context = self._context(item)
            head, text_type = [self._cls, *context, self._sep], 1
        return [
            ([*head, *window, self._sep], [0] * len(head) + [text_type] * (len(window) + 1))
            for window in _windows(text_ids)
        ]

    def _run(self, rows: list[tuple[list[int], list[int]]]) -> np.ndarray:
        """Probabilities of each row."""
        logits = [self._session.run(["logits"], self._feed(chunk))[0] for chunk in per_call(rows)]
        return sigmoid(np.concatenate(logits))

    def _feed(self, rows: Sequence[tuple[list[int], list[int]]]) -> dict[str, np.ndarray]:
        """`padded` rows, without token types for a response-apart guard's graphs (its prompt
        graph reads type 0, its response graph type 1)."""
        feed = padded(rows)
        if self.response_apart:
            del feed["token_type_ids"]
        return feed

    def _run_prompt(self, ids: list[int]) -> np.ndarray:
        """A response-apart guard's probabilities for each window of a prompt; a prompt of one
        window that a response could be read with whole (CONTEXT tokens or fewer) leaves its
        keys and values kept."""
        if len(ids) > CONTEXT:
            return self._run([([self._cls, *w, self._sep], [0] * (len(w) + 2)) for w in _windows(ids)])
        logits, _ = self._pass_and_keep(ids)
        return sigmoid(logits)

    def _pass_and_keep(self, ids: list[int]) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
        """The prompt graph's pass over [CLS] `ids` [SEP] (one window): its logits, and its keys
        and values, which it keeps."""
        row = [([self._cls, *ids, self._sep], [0] * (len(ids) + 2))]
        logits, keys, values = self._session.run(["logits", "keys", "values"], self._feed(row))
        return logits, self._keep(tuple(ids), (keys, values))

    def _run_response(self, context: list[int], ids: list[int]) -> np.ndarray:
        """A response-apart guard's probabilities for each window of a response, read against
        the keys and values of [CLS] `context` [SEP]: kept, or from a pass over it."""
        assert self._responses is not None
        with self._prompts_lock:
            kept = self._prompts.get(tuple(context))
            if kept is not None:
                self._prompts.move_to_end(tuple(context))
        if kept is None:
            _, kept = self._pass_and_keep(context)
        rows = [([*window, self._sep], [1] * (len(window) + 1)) for window in _windows(ids)]
        logits = [
            self._responses.run(["logits"], {**self._feed(chunk), "keys": kept[0], "values": kept[1]})[0]
            for chunk in per_call(rows)
        ]
        return sigmoid(np.concatenate(logits))

    def _keep(
        self, prompt: tuple[int, ...], kept: tuple[np.ndarray, np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Keep a prompt's keys and values, the most recent KEPT_PROMPTS prompts'; returns them."""
        with self._prompts_lock:
            self._prompts[prompt] = kept
            self._prompts.move_to_end(prompt)
            while len(self._prompts) > KEPT_PROMPTS:
                self._prompts.popitem(last=False)
        return kept

    def _scores(self, row: np.ndarray, is_response: bool) -> GuardScores:
        harm = row[self._slices["harm"]]
        attack = row[self._slices["attack"]]
        return GuardScores(
            unsafe=round(float(row[0]), 4),
            harm={name: round(float(p), 4) for name, p in zip(HARM_CATEGORIES, harm, strict=True)},
            attack={name: round(float(p), 4) for name, p in zip(ATTACK_STRATEGIES, attack, strict=True)},
            refusal=round(float(row[-1]), 4) if is_response else None,
        )


def _windows(ids: list[int]) -> list[list[int]]:
    """Overlapping windows covering every token; one (possibly empty) window for short texts."""
    if len(ids) <= WINDOW:
        return [ids]
    starts = [*list(range(0, len(ids) - WINDOW, STRIDE)), len(ids) - WINDOW]
    return [ids[start : start + WINDOW] for start in starts]


@cache
def load_guard(
    directory: Path, threads: int = 0, parallel: int = 0, short_tokens: int = SHORT_CALL_TOKENS
) -> GuardModel:
    """One model per directory and thread settings for the whole process."""
    return GuardModel(directory, threads=threads, parallel=parallel, short_tokens=short_tokens)
