"""What the shipped ONNX models share: CPU sessions with a chosen number of threads (short calls
on one), a pool that scores the texts of a batch side by side, padded batches of token rows cut
to a bounded size, and the sigmoid of their logits."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import numpy as np
import onnxruntime as ort

__all__ = [
    "ROWS_PER_CALL",
    "SHORT_CALL_TOKENS",
    "CpuModel",
    "TextPool",
    "cpu_session",
    "padded",
    "per_call",
    "sigmoid",
]

# Most windows one model call takes. A text's windows go through in calls of this many, so
# memory stays bounded for any text length (an 8 MiB prompt is some 10,000 windows).
ROWS_PER_CALL = 16

# A model call on fewer tokens than this (rows x padded width) runs on one onnxruntime thread.
# On a 2-core EPYC, a second thread makes such a call no faster and spends 40 to 55 % more CPU;
# from about 96 tokens on it makes the call faster (the measurement is in the README, under
# Safety guard).
SHORT_CALL_TOKENS = 64

T = TypeVar("T")
R = TypeVar("R")


def per_call(rows: Sequence[T]) -> Iterator[Sequence[T]]:
    """`rows` in consecutive slices of at most ROWS_PER_CALL, one slice a model call."""
    for start in range(0, len(rows), ROWS_PER_CALL):
        yield rows[start : start + ROWS_PER_CALL]


class TextPool:
    """Runs `score(text)` for each text of a batch, `workers` texts at a time (0: one per core).

    The texts share one InferenceSession, whose `run` is thread-safe. Side by side, each text's
    call keeps a core busy with less waiting between operators than one text spread over all
    cores, so a batch is scored sooner; a lone text runs in the caller's thread, with every core.
    """

    def __init__(self, workers: int = 0) -> None:
        self.workers = workers or len(os.sched_getaffinity(0))
        self._executor = (
            ThreadPoolExecutor(self.workers, thread_name_prefix="onnx-text") if self.workers > 1 else None
        )

    def map(self, score: Callable[[T], R], texts: Sequence[T]) -> list[R]:
        """`score` of each of `texts`, in order."""
        if self._executor is None or len(texts) < 2:
            return [score(text) for text in texts]
        return list(self._executor.map(score, texts))


def cpu_session(path: Path, threads: int = 0) -> ort.InferenceSession:
    """An InferenceSession on `path`; `threads` onnxruntime threads per call (0: one per core).

    The pool's threads sleep between calls instead of spinning: in the gateway the model
    shares the cores with the event loop, which a spinning thread would slow down
    (the measurement is in the README, under Benchmarks).
    """
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class CpuModel:
    """One ONNX model file for calls of any size: a call on fewer than `short_tokens` tokens runs
    on a session of one thread, a longer one on a session of `threads` (0: one per core).

    Both sessions hold the same weights and give the same outputs; `run` is thread-safe.
    `short_tokens` 0, or one thread anyway, keeps a single session.
    """

    def __init__(self, path: Path, threads: int = 0, short_tokens: int = SHORT_CALL_TOKENS) -> None:
        self._long = cpu_session(path, threads)
        one_thread = threads == 1 or (threads == 0 and len(os.sched_getaffinity(0)) == 1)
        self.short_tokens = 0 if one_thread else short_tokens
        self._short = cpu_session(path, 1) if self.short_tokens else self._long

    def outputs(self) -> list[str]:
        """The graph's output names, in order."""
        return [output.name for output in self._long.get_outputs()]

    def is_short(self, feed: Mapping[str, np.ndarray]) -> bool:
        """Whether the call on `feed` runs on the one-thread session."""
        return int(feed["input_ids"].size) < self.short_tokens

    def run(self, outputs: list[str], feed: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        session = self._short if self.is_short(feed) else self._long
        results: list[np.ndarray] = session.run(outputs, dict(feed))
        return results


def padded(rows: Sequence[tuple[Sequence[int], Sequence[int]]]) -> dict[str, np.ndarray]:
    """`input_ids`, `token_type_ids` and `attention_mask` for (ids, token types) rows, zero padded."""
    width = max(len(ids) for ids, _ in rows)
    input_ids = np.zeros((len(rows), width), dtype=np.int64)
    token_types = np.zeros_like(input_ids)
    attention = np.zeros_like(input_ids)
    for i, (ids, types) in enumerate(rows):
        input_ids[i, : len(ids)] = ids
        token_types[i, : len(ids)] = types
        attention[i, : len(ids)] = 1
    return {"input_ids": input_ids, "token_type_ids": token_types, "attention_mask": attention}


def sigmoid(logits: np.ndarray) -> np.ndarray:
    probabilities: np.ndarray = 1.0 / (1.0 + np.exp(-np.asarray(logits, dtype=np.float32)))
    return probabilities
