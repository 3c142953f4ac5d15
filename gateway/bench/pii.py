"""Latency of the PII model alone, in process, for texts of a given token length.

The model is asked for the gateway's default labels. Batch 1, on one onnxruntime thread (one
CPU core) and on every thread (a call of any length, not only from SHORT_CALL_TOKENS on as the
gateway does).
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any

from gateway.bench.guard import time_calls
from gateway.pii.model import PiiModel, bundled_pii_dir
from gateway.scanners import model_labels

__all__ = ["run"]

SENTENCE = (
    "Hello, this is Maria Keller from the Berlin office; call me on +49 30 1234567 or write to the "
    "address Hauptstrasse 12, 10115 Berlin, about the invoice for customer ACC-88231. "
)


def text_of(model: PiiModel, tokens: int) -> str:
    """A text of about `tokens` text tokens, full of PII."""
    text = ""
    while len(model.tokenizer.encode(text, add_special_tokens=False).ids) < tokens:
        text += SENTENCE
    words = text.split()
    while len(model.tokenizer.encode(" ".join(words), add_special_tokens=False).ids) > tokens:
        words.pop()
    return " ".join(words)


def run(lengths: list[int], runs: int, output: Path | None, model_dir: Path | None = None) -> dict[str, Any]:
    directory = model_dir or bundled_pii_dir()
    results: dict[str, Any] = {"runs": runs}
    for threads, name in ((1, "one_thread"), (0, "all_threads")):
        model = PiiModel(directory, threads=threads, short_tokens=0)
        labels = model_labels(set(), {}, model.descriptions)
        results["labels"] = len(labels)
        for tokens in lengths:
            text = text_of(model, tokens)
            row = time_calls(partial(model.find, [text], labels), runs, warmup=5)
            results[f"{tokens}_tokens_{name}"] = row
            print(
                f"{tokens} tokens, {len(labels)} labels, batch 1, {name.replace('_', ' ')}: {row}", flush=True
            )
    if output is not None:
        output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return results
