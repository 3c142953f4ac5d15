"""The PII span model: label-conditioned, so the labels to find are an input.

The encoder reads the wanted labels, described in words, followed by the text:

    [CLS] email address [SEP] person name [SEP] ... [SEP] text tokens [SEP]

Each label is represented by the mean of its description's token vectors, each text token by
its own vector, and two dot products score every (token, label) pair: does a span of this
label begin here, and is this token inside one. A label the model was never trained on is
found the same way, from its description. Long texts are read in overlapping windows.

A model can read the labels apart from the text (`labels_apart` in pii.json; how it is trained:
gateway.training.pii_encoder): the label prefix then attends only to itself, so its keys and
values at every layer are computed once per set of labels (labels.onnx) and kept, and each window
is a pass over its text alone (text.onnx); but in its last `labels_join` layers (pii.json), which
text.onnx runs over the kept prefix and the text together, the first of them from the prefix's
kept queries, keys and values. With one joined layer, the last, only the prefix rows that describe
a label go through it (not [CLS] or the [SEP]s). Otherwise one graph (pii.onnx) reads labels and
text.

A text's windows go through the model apart from any other text's (ROWS_PER_CALL at a time):
int8 dynamic quantization scales activations by the largest value in the whole input, so texts
scored together would find other spans than alone, and what is redacted must depend on the
text only.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Encoding, Tokenizer

from gateway.findings import Span
from gateway.onnxsession import SHORT_CALL_TOKENS, CpuModel, TextPool, padded, per_call, sigmoid

__all__ = [
    "GIVEN_NAME_FIRST",
    "PREFIX_PARTS",
    "PiiModel",
    "bundled_pii_dir",
    "check_pii_dir",
    "encode_prefix",
    "encode_window",
    "from_capital",
    "graph_files",
    "kept_prefix",
    "load_pii_model",
    "text_windows",
    "whole_words",
]

MAX_TOKENS = 320  # labels + one window of text
WINDOW = 192  # text tokens per window
STRIDE = 160
SPLIT = 0.9  # begin probability that splits a running span in two
KEPT_PREFIXES = 64  # label sets whose prefix a labels-apart model keeps (a policy has a few)
# A labels-apart model's kept prefix, as labels.onnx outputs it and text.onnx takes it; the last
# three only with joined layers (labels_join > 0).
PREFIX_PARTS = ("keys", "values", "prefix", "joined_queries", "joined_keys", "joined_values")


@dataclass(frozen=True, slots=True)
class Window:
    """One model input: label descriptions, then a slice of the text's tokens."""

    ids: list[int]
    types: list[int]
    label_mask: np.ndarray  # (labels, len(ids)): which positions describe each label
    text_start: int  # position of the first text token in `ids`
    offsets: list[tuple[int, int]]  # character offsets of the window's text tokens


def bundled_pii_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "models" / "pii"


def text_windows(encoding: Encoding, window: int = WINDOW, stride: int = STRIDE) -> list[tuple[int, int]]:
    """Token ranges covering the whole text, overlapping by `window - stride`."""
    n = len(encoding.ids)
    if n <= window:
        return [(0, n)]
    starts = [*range(0, n - window, stride), n - window]
    return [(start, start + window) for start in starts]


def encode_prefix(label_ids: Sequence[Sequence[int]], cls: int, sep: int) -> tuple[list[int], np.ndarray]:
    """The label prefix, [CLS] description [SEP] ..., and its mask (labels, prefix positions):
    which positions describe each label, each weighing 1 / the description's length."""
    ids: list[int] = [cls]
    spans: list[tuple[int, int]] = []
    for description in label_ids:
        spans.append((len(ids), len(ids) + len(description)))
        ids += [*description, sep]
    mask = np.zeros((len(label_ids), len(ids)), dtype=np.float32)
    for row, (a, b) in enumerate(spans):
        mask[row, a:b] = 1.0 / max(b - a, 1)
    return ids, mask


def encode_window(
    label_ids: Sequence[Sequence[int]], text: Encoding, token_range: tuple[int, int], cls: int, sep: int
) -> Window:
    """A whole window: the label prefix (token type 0), then the text's tokens and [SEP] (type 1)."""
    prefix_ids, prefix_mask = encode_prefix(label_ids, cls, sep)
    start, end = token_range
    ids = [*prefix_ids, *text.ids[start:end], sep]
    mask = np.zeros((len(label_ids), len(ids)), dtype=np.float32)
    mask[:, : len(prefix_ids)] = prefix_mask
    types = [0] * len(prefix_ids) + [1] * (end - start + 1)
    return Window(ids, types, mask, len(prefix_ids), list(text.offsets[start:end]))


def text_window(text: Encoding, token_range: tuple[int, int], sep: int) -> Window:
    """A window's text alone, for a model that keeps the label prefix apart."""
    start, end = token_range
    ids = [*text.ids[start:end], sep]
    return Window(ids, [1] * len(ids), np.zeros((0, len(ids)), np.float32), 0, list(text.offsets[start:end]))


def kept_prefix(
    parts: Mapping[str, np.ndarray], label_mask: np.ndarray, labels_join: int
) -> dict[str, np.ndarray]:
    """text.onnx's prefix inputs: labels.onnx's outputs `parts` ({name: array}) and the prefix's
    label mask (1, labels, prefix). With one joined layer (the last), only the rows that describe a
    label are kept of the prefix's hidden states, its joined queries and the label mask: the
    other rows' states are never read, and their keys and values stay."""
    kept = dict(parts)
    if labels_join == 1:
        rows = np.flatnonzero(label_mask[0].any(axis=0))
        kept["prefix"] = parts["prefix"][:, rows]
        kept["joined_queries"] = parts["joined_queries"][:, :, rows]
        label_mask = label_mask[:, :, rows]
    return {"label_mask": label_mask, **kept}


def graph_files(meta: Mapping[str, Any]) -> tuple[str, ...]:
    """The graphs a model directory with pii.json `meta` holds: labels.onnx and text.onnx for a
    labels-apart model, else pii.onnx."""
    return ("labels.onnx", "text.onnx") if meta.get("labels_apart") else ("pii.onnx",)


def check_pii_dir(directory: Path) -> dict[str, Any]:
    """`directory`'s pii.json; ValueError naming the files it lacks to be a PII model (its
    graphs: pii.onnx, or labels.onnx and text.onnx for a labels-apart model; the file their
    weights are in, when pii.json names one)."""
    if not (directory / "pii.json").is_file():
        raise ValueError(f"{directory} holds no pii.json")
    meta: dict[str, Any] = json.loads((directory / "pii.json").read_text(encoding="utf-8"))
    graphs = graph_files(meta)
    weights = (meta["weights"],) if "weights" in meta else ()
    missing = [name for name in (*graphs, *weights, "tokenizer.json") if not (directory / name).is_file()]
    if missing:
        raise ValueError(f"{directory} holds no {', '.join(missing)}")
    return meta


class PiiModel:
    """Tokenizer and the model's sessions, created once; `find` is thread-safe.

    `threads`: onnxruntime threads a model call; `parallel`: texts of one `find` call searched
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
        meta = check_pii_dir(directory)
        self.labels_apart = bool(meta.get("labels_apart", False))
        self.directory = directory
        self.version: str = meta["version"]
        self.threshold: float = meta["threshold"]
        self.descriptions: dict[str, str] = meta["descriptions"]
        self.tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        cls, sep = self.tokenizer.token_to_id("[CLS]"), self.tokenizer.token_to_id("[SEP]")
        if cls is None or sep is None:
            raise ValueError(f"{directory}/tokenizer.json has no [CLS] or [SEP] token")
        self.cls, self.sep = cls, sep
        self.labels_join = int(meta.get("labels_join", 0))
        self._prefix_parts = list(PREFIX_PARTS if self.labels_join else PREFIX_PARTS[:3])
        if self.labels_apart:
            self._labels = CpuModel(directory / "labels.onnx", threads, short_tokens)
            self._session = CpuModel(directory / "text.onnx", threads, short_tokens)
            if self._labels.outputs() != self._prefix_parts:
                raise ValueError(
                    f"{directory}/labels.onnx outputs {self._labels.outputs()}, not {self._prefix_parts}: "
                    "graphs of an older layout (export them again: gateway.training.pii_unpack --export)"
                )
        else:
            self._session = CpuModel(directory / "pii.onnx", threads, short_tokens)
        self._texts = TextPool(parallel)
        self._label_cache: dict[str, list[int]] = {}
        self._prefixes: dict[tuple[tuple[int, ...], ...], dict[str, np.ndarray]] = {}
        self._prefixes_lock = threading.Lock()

    def _label_ids(self, description: str) -> list[int]:
        if description not in self._label_cache:
            self._label_cache[description] = self.tokenizer.encode(description, add_special_tokens=False).ids[
                :12
            ]
        return self._label_cache[description]

    def find(self, texts: Sequence[str], labels: Mapping[str, str]) -> list[list[Span]]:
        """Spans of `labels` ({label: description in words}) in each text, in order."""
        if not texts or not labels:
            return [[] for _ in texts]
        names = list(labels)
        label_ids = [self._label_ids(labels[name]) for name in names]
        encodings = self.tokenizer.encode_batch(list(texts), add_special_tokens=False)  # with offsets

        def find_one(job: tuple[str, Encoding]) -> list[Span]:
            return self._find(*job, names, label_ids)

        return self._texts.map(find_one, list(zip(texts, encodings, strict=True)))

    def _find(
        self, text: str, encoding: Encoding, names: list[str], label_ids: list[list[int]]
    ) -> list[Span]:
        """One text's spans, its windows ROWS_PER_CALL a model call."""
        found: dict[tuple[str, int, int], float] = {}
        for ranges in per_call(text_windows(encoding)):
            if self.labels_apart:
                windows = [text_window(encoding, r, self.sep) for r in ranges]
                begin, inside = self._run_apart(windows, label_ids)
            else:
                windows = [encode_window(label_ids, encoding, r, self.cls, self.sep) for r in ranges]
                begin, inside = self._run(windows, len(names))
            for w, window in enumerate(windows):
                for label_index, name in enumerate(names):
                    for start, end, score in _decode(
                        begin[w, :, label_index], inside[w, :, label_index], window, self.threshold
                    ):
                        start, end = whole_words(text, start, end)
                        if name in GIVEN_NAME_FIRST:
                            start = from_capital(text, start, end)
                            if only_particles(text[start:end]):
                                continue
                        key = (name, start, end)
                        found[key] = max(score, found.get(key, 0.0))
        return sorted(
            (
                Span(label, start, end, round(score, 4))
                for (label, start, end), score in one_place_label(found).items()
            ),
            key=lambda s: (s.start, s.label),
        )

    def _run(self, windows: list[Window], labels: int) -> tuple[np.ndarray, np.ndarray]:
        """Begin and inside probabilities, each (windows, text positions, labels)."""
        feeds = padded([(w.ids, w.types) for w in windows])
        width = feeds["input_ids"].shape[1]
        label_mask = np.zeros((len(windows), labels, width), dtype=np.float32)
        for i, w in enumerate(windows):
            label_mask[i, :, : len(w.ids)] = w.label_mask
        (logits,) = self._session.run(["logits"], {**feeds, "label_mask": label_mask})
        probabilities = sigmoid(logits)
        # Align each window's text tokens at position 0.
        begin = np.zeros((len(windows), width, labels), dtype=np.float32)
        inside = np.zeros_like(begin)
        for i, w in enumerate(windows):
            n = len(w.offsets)
            begin[i, :n] = probabilities[i, w.text_start : w.text_start + n, :, 0]
            inside[i, :n] = probabilities[i, w.text_start : w.text_start + n, :, 1]
        return begin, inside

    def _run_apart(self, windows: list[Window], label_ids: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
        """`_run` for a labels-apart model: text rows read against the labels' kept prefix."""
        feeds = padded([(w.ids, w.types) for w in windows])
        del feeds["token_type_ids"]  # every text position is of type 1
        (logits,) = self._session.run(["logits"], {**feeds, **self._prefix(label_ids)})
        probabilities = sigmoid(logits)
        return probabilities[..., 0], probabilities[..., 1]

    def _prefix(self, label_ids: list[list[int]]) -> dict[str, np.ndarray]:
        """The label prefix's keys and values at every layer it is kept for, its hidden states
        after them and its label mask, computed once per set of labels (the KEPT_PREFIXES last
        computed are kept)."""
        key = tuple(tuple(ids) for ids in label_ids)
        with self._prefixes_lock:
            kept = self._prefixes.get(key)
        if kept is None:
            ids, mask = encode_prefix(label_ids, self.cls, self.sep)
            outputs = self._labels.run(self._prefix_parts, {"input_ids": np.asarray([ids], dtype=np.int64)})
            parts = dict(zip(self._prefix_parts, outputs, strict=True))
            kept = kept_prefix(parts, mask[None], self.labels_join)
            with self._prefixes_lock:
                while len(self._prefixes) >= KEPT_PREFIXES:
                    del self._prefixes[next(iter(self._prefixes))]
                self._prefixes[key] = kept
        return kept


def _decode(
    begin: np.ndarray, inside: np.ndarray, window: Window, threshold: float
) -> list[tuple[int, int, float]]:
    """Character spans: a run of inside tokens opened by a begin token."""
    spans: list[tuple[int, int, float]] = []
    current: list[int] | None = None
    scores: list[float] = []
    for t in range(len(window.offsets)):
        # Inside an open span, only a confident begin splits it (a surname is not a new person).
        opens = begin[t] >= (SPLIT if current is not None and inside[t] >= threshold else threshold)
        if opens and inside[t] >= threshold * 0.5:
            if current is not None:
                spans.append(
                    (window.offsets[current[0]][0], window.offsets[current[-1]][1], float(np.mean(scores)))
                )
            current, scores = [t], [float(min(begin[t], max(inside[t], begin[t])))]
        elif current is not None and inside[t] >= threshold:
            current.append(t)
            scores.append(float(inside[t]))
        elif current is not None:
            spans.append(
                (window.offsets[current[0]][0], window.offsets[current[-1]][1], float(np.mean(scores)))
            )
            current, scores = None, []
    if current is not None:
        spans.append((window.offsets[current[0]][0], window.offsets[current[-1]][1], float(np.mean(scores))))
    return spans


# Labels whose spans begin with a given name, which all seven languages write with a capital:
# lowercase words in front of one ("un mensaje de Jose Ramón", "een bericht van Nora Kalman")
# belong to the sentence. A surname alone ("van der Sande") keeps its particle.
GIVEN_NAME_FIRST = frozenset({"person", "full_name", "first_name"})


def from_capital(text: str, start: int, end: int) -> int:
    """The start of `text[start:end]`'s first capitalized word; `start` when no word is
    capitalized (a name typed in lower case stays whole)."""
    for word in re.finditer(r"\S+", text[start:end]):
        if word.group()[0].isupper():
            return start + word.start()
    return start


# Particles of surnames in the seven languages ("van der Sande", "de la Fuente", "von Arnim"):
# part of a name, never a name on their own ("Het is van Thijs" must not give a given name "van").
PARTICLES = frozenset(
    {"da", "das", "de", "del", "della", "den", "der", "des", "di", "do", "dos", "du", "la", "le",
     "ten", "ter", "van", "von", "zu"}
)  # fmt: skip


def only_particles(found: str) -> bool:
    """Whether `found` is nothing but surname particles written in lower case."""
    words = found.split()
    return bool(words) and all(word in PARTICLES for word in words)


# Labels that name kinds of place: a span is one of them, not several ("Granada" is a city or
# a province, and the model may score it as both).
PLACES = frozenset({"city", "state_or_region", "country"})


def one_place_label(found: dict[tuple[str, int, int], float]) -> dict[tuple[str, int, int], float]:
    """`found` ({(label, start, end): score}) with each span found under several PLACES labels
    kept under the best-scored one only (the first found, on a tie)."""
    best: dict[tuple[int, int], tuple[str, float]] = {}
    for (label, start, end), score in found.items():
        if label in PLACES and ((start, end) not in best or score > best[start, end][1]):
            best[start, end] = (label, score)
    return {
        (label, start, end): score
        for (label, start, end), score in found.items()
        if label not in PLACES or best[start, end][0] == label
    }


def whole_words(text: str, start: int, end: int) -> tuple[int, int]:
    """`start`..`end` widened to whole words: a span that ends inside a word (its last word
    piece scored below the threshold, "Faivre" found as "Fai") takes the rest of the word."""
    while start > 0 and text[start - 1].isalnum() and text[start].isalnum():
        start -= 1
    while end < len(text) and text[end].isalnum() and text[end - 1].isalnum():
        end += 1
    return start, end


@cache
def load_pii_model(
    directory: Path, threads: int = 0, parallel: int = 0, short_tokens: int = SHORT_CALL_TOKENS
) -> PiiModel:
    """One model per directory and thread settings for the whole process."""
    return PiiModel(directory, threads=threads, parallel=parallel, short_tokens=short_tokens)
