"""`shieldgate scan`: guard verdicts, PII spans and redacted text for a JSONL file, offline.

Each input line is a JSON object with a string `text` (and optionally `prompt`: then `text` is
judged as the answer to it). The output line is the input object with `guard`, `pii` and
`redacted` (every PII span masked as [LABEL]) added. The whole input is checked before any
model work starts, so a bad line is reported with its number and nothing half-done is left.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from gateway.findings import GuardScores
from gateway.guard import GuardInput, GuardModel
from gateway.pii import find_spans
from gateway.pii.merge import merge_spans
from gateway.pii.model import PiiModel
from gateway.redaction import Redactor

__all__ = ["ScanInputError", "read_lines", "scan_file"]

BATCH = 32


class ScanInputError(ValueError):
    """A line of the input that is not a JSON object with a string `text`."""


def read_lines(path: Path) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ScanInputError(f"{path}:{number}: not valid JSON ({exc.msg})") from exc
            if not isinstance(record, dict) or not isinstance(record.get("text"), str):
                raise ScanInputError(f'{path}:{number}: expected an object with a string "text"')
            if "prompt" in record and not isinstance(record["prompt"], str):
                raise ScanInputError(f'{path}:{number}: "prompt" must be a string')
            records.append(record)
    return records


def _guard_json(scores: GuardScores) -> dict[str, Any]:
    result: dict[str, Any] = {
        "unsafe": scores.unsafe,
        "harm": dict(scores.harm),
        "attack": dict(scores.attack),
    }
    if scores.refusal is not None:
        result["refusal"] = scores.refusal
    return result


def _scanned(
    records: list[dict[str, Any]], guard: GuardModel | None, pii: PiiModel | None, labels: dict[str, str]
) -> Iterator[dict[str, Any]]:
    for start in range(0, len(records), BATCH):
        chunk = records[start : start + BATCH]
        scores = guard.score([GuardInput(r["text"], r.get("prompt")) for r in chunk]) if guard else None
        predicted = pii.find([r["text"] for r in chunk], labels) if pii else [[] for _ in chunk]
        for i, record in enumerate(chunk):
            spans = merge_spans(record["text"], find_spans(record["text"]), predicted[i])
            out = dict(record)
            if scores is not None:
                out["guard"] = _guard_json(scores[i])
            out["pii"] = [{"label": s.label, "start": s.start, "end": s.end, "score": s.score} for s in spans]
            out["redacted"] = Redactor(b"").redact(record["text"], spans, lambda _label: "mask")
            yield out


def scan_file(
    input_path: Path,
    output: IO[str],
    guard: GuardModel | None,
    pii: PiiModel | None = None,
    labels: dict[str, str] | None = None,
    progress: IO[str] = sys.stderr,
) -> int:
    """Scan every line of `input_path` into `output`; returns the number of lines written.

    `labels` ({label: description}) are what the PII model is asked for.
    """
    records = read_lines(input_path)
    started = last = time.monotonic()
    done = 0
    for out in _scanned(records, guard, pii, labels or {}):
        output.write(json.dumps(out, ensure_ascii=False) + "\n")
        done += 1
        now = time.monotonic()
        if now - last >= 1.0 or done == len(records):
            last = now
            rate = done / max(now - started, 1e-9)
            end = "\r" if progress.isatty() and done < len(records) else "\n"
            progress.write(f"scanned {done}/{len(records)} lines ({rate:.0f}/s){end}")
            progress.flush()
    return done
