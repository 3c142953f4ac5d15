"""Evaluate the PII model (and the recognizers beside it) and write the report.

    python -m gateway.training.pii_eval --data build/pii.jsonl --eval-dir ../shared/eval \
        --report gateway/models/pii/EVAL.md [--model gateway/models/pii]

Span-level exact match (label, start, end), after trimming whitespace and trailing
punctuation from both sides, on:
- the held-out synthetic set (`split == "heldout"`: templates never trained on), per label and
  per language;
- the validation texts, per format (sentence, form, CSV, ...): the tenth of the training split
  pii_train held back, drawn again with the seed in the model's pii.json; where the model is
  weakest on the kinds of text it was trained on (its "all formats" row is the validation F1
  the threshold was chosen by);
- presidio-research's synthetic set, for the labels it shares with ours (its labels mapped),
  scoring the outermost spans found: its gold spans never nest, where ours do by design (an
  address and the postal code inside it); the row "nested spans kept" scores them all;
- zero-shot labels (`split == "zeroshot"`): labels never asked for in training, found from
  their description alone;
- the recognizers alone on every synthetic text (they are rules: no split is unseen to them).
Rows "model + recognizers" are what the gateway reports (see gateway/pii/merge.py).
The threshold is the model's own, chosen on validation texts; nothing is tuned here.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from gateway.findings import Span
from gateway.pii import find_spans
from gateway.pii.merge import merge_spans
from gateway.pii.model import PiiModel, bundled_pii_dir, check_pii_dir
from gateway.pii.patterns import PATTERNS
from gateway.training.pii_card import write_card
from gateway.training.pii_data import ZERO_SHOT, split_validation

PRESIDIO = {
    "PERSON": "person",
    "STREET_ADDRESS": "address",
    "PHONE_NUMBER": "phone_number",
    "EMAIL_ADDRESS": "email",
    "CREDIT_CARD": "payment_card",
    "IBAN_CODE": "iban",
    "IP_ADDRESS": "ip_address",
    "US_SSN": "national_id_number",
    "US_DRIVER_LICENSE": "drivers_license_number",
    "ZIP_CODE": "postal_code",
}
# The labels asked for on the synthetic held-out set: every trained label its templates carry.
HELDOUT_LABELS = (
    "person",
    "full_name",
    "first_name",
    "last_name",
    "email",
    "phone_number",
    "address",
    "street_address",
    "city",
    "postal_code",
    "country",
    "state_or_region",
    "date_of_birth",
    "iban",
    "payment_card",
    "card_expiry",
    "card_cvv",
    "username",
    "password",
    "ip_address",
    "api_key",
    "access_token",
    "account_id",
    "tax_id",
    "national_id_number",
    "drivers_license_number",
    "bank_account",
    "expiration_date",
    "transaction_date",
    "document_date",
)
NESTED = "all shared labels, nested spans kept"
_TRIM = " \t\n.,;:!?\"'()"


def _norm(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start] in _TRIM:
        start += 1
    while end > start and text[end - 1] in _TRIM:
        end -= 1
    return start, end


Keys = set[tuple[str, int, int]]  # (label, start, end) of spans, trimmed


def _keys(text: str, spans: Iterable[tuple[str, int, int]]) -> Keys:
    return {(label, *_norm(text, s, e)) for label, s, e in spans}


def _per_label(
    record: dict[str, Any], found: Sequence[Span], labels: Iterable[str]
) -> Iterator[tuple[str, Keys, Keys]]:
    """(label, gold keys, found keys) for each of `labels` that `record`'s gold or `found` holds."""
    text = record["text"]
    for label in labels:
        gold = _keys(
            text, ((s["label"], s["start"], s["end"]) for s in record["spans"] if s["label"] == label)
        )
        predicted = _keys(text, ((s.label, s.start, s.end) for s in found if s.label == label))
        if gold or predicted:
            yield label, gold, predicted


class Tally:
    def __init__(self) -> None:
        self.counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # tp, fp, fn

    def add(self, group: str, gold: Keys, predicted: Keys) -> None:
        c = self.counts[group]
        c[0] += len(gold & predicted)
        c[1] += len(predicted - gold)
        c[2] += len(gold - predicted)

    def row(self, group: str) -> tuple[int, float, float, float]:
        tp, fp, fn = self.counts[group]
        p = tp / (tp + fp) if tp + fp else float("nan")
        r = tp / (tp + fn) if tp + fn else float("nan")
        f = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else float("nan")
        return tp + fn, p, r, f


def outermost(spans: Sequence[Span]) -> list[Span]:
    """The spans that no longer span contains (a postal code found inside an address is dropped)."""
    return [
        s
        for s in spans
        if not any(o.start <= s.start and s.end <= o.end and o.end - o.start > s.end - s.start for o in spans)
    ]


def predict(model: PiiModel, texts: Sequence[str], labels: Sequence[str]) -> list[list[Span]]:
    return model.find(texts, {label: model.descriptions[label] for label in labels})


def span_f1(model: PiiModel, records: Sequence[dict[str, Any]], labels: Sequence[str]) -> float:
    tally = Tally()
    for record, spans in zip(records, predict(model, [r["text"] for r in records], labels), strict=True):
        gold = _keys(
            record["text"],
            ((s["label"], s["start"], s["end"]) for s in record["spans"] if s["label"] in labels),
        )
        tally.add("all", gold, _keys(record["text"], ((s.label, s.start, s.end) for s in spans)))
    return tally.row("all")[3]


def choose_threshold(directory: Path, validation: Sequence[dict[str, Any]]) -> tuple[float, float]:
    """The threshold with the best span F1 on `validation` (texts from the training split)."""
    model = PiiModel(directory)
    labels = [label for label in HELDOUT_LABELS if label not in ZERO_SHOT]
    best = (0.5, -1.0)
    for threshold in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
        model.threshold = threshold
        f1 = span_f1(model, validation, labels)
        print(f"  threshold {threshold}: validation span F1 {f1:.3f}", flush=True)
        if f1 > best[1]:
            best = (threshold, round(f1, 3))
    return best


def _table(title: str, tally: Tally, groups: Iterable[str]) -> list[str]:
    def f(x: float) -> str:
        return "-" if x != x else f"{x:.3f}"

    lines = [f"### {title}", "", "| | gold spans | precision | recall | F1 |", "|---|---:|---:|---:|---:|"]
    for group in groups:
        n, p, r, f1 = tally.row(group)
        lines.append(f"| {group} | {n} | {f(p)} | {f(r)} | {f(f1)} |")
    return [*lines, ""]


def evaluate(model: PiiModel, data: Path, eval_dir: Path) -> str:
    records = [json.loads(line) for line in data.read_text(encoding="utf-8").splitlines()]
    started = time.monotonic()
    sections: list[str] = []

    heldout = [r for r in records if r["split"] == "heldout"]
    labels = [label for label in HELDOUT_LABELS if label not in ZERO_SHOT]
    per_label, per_lang = Tally(), Tally()
    for record, spans in zip(heldout, predict(model, [r["text"] for r in heldout], labels), strict=True):
        text = record["text"]
        merged = merge_spans(text, find_spans(text), spans)
        for label, gold, predicted in _per_label(record, merged, labels):
            per_label.add(label, gold, predicted)
            per_lang.add(record["lang"], gold, predicted)
            per_lang.add("all languages", gold, predicted)
    sections += _table(
        f"Held-out synthetic set ({len(heldout)} texts, unseen templates): per language",
        per_lang,
        [*sorted(k for k in per_lang.counts if k != "all languages"), "all languages"],
    )
    sections += _table("Held-out synthetic set: per label", per_label, sorted(per_label.counts))

    seed = check_pii_dir(model.directory).get("training", {}).get("seed")
    if seed is not None:
        _, validation = split_validation(records, random.Random(seed))
        per_format = Tally()
        texts = [r["text"] for r in validation]
        for record, spans in zip(validation, predict(model, texts, labels), strict=True):
            for _, gold, predicted in _per_label(record, spans, labels):
                per_format.add(record["format"], gold, predicted)
                per_format.add("all formats", gold, predicted)
        sections += _table(
            f"Validation texts ({len(validation)} texts of the training templates that training held back,"
            f" drawn with the run's seed {seed}; model alone): per format",
            per_format,
            [*sorted(k for k in per_format.counts if k != "all formats"), "all formats"],
        )

    rows = json.loads(
        (eval_dir / "presidio_research_synth/synth_dataset_v2.json").read_text(encoding="utf-8")
    )
    shared = sorted(set(PRESIDIO.values()))
    model_only, gateway = Tally(), Tally()
    texts = [r["full_text"] for r in rows]
    for row, spans in zip(rows, predict(model, texts, shared), strict=True):
        text = row["full_text"]
        gold_all = {
            (PRESIDIO[s["entity_type"]], s["start_position"], s["end_position"])
            for s in row["spans"]
            if s["entity_type"] in PRESIDIO
        }
        merged = merge_spans(text, [s for s in find_spans(text) if s.label in shared], spans)
        views = ((model_only, outermost(spans), spans), (gateway, outermost(merged), merged))
        for label in shared:
            gold = _keys(text, (g for g in gold_all if g[0] == label))
            for tally, outer, every in views:
                predicted = _keys(text, ((s.label, s.start, s.end) for s in outer if s.label == label))
                tally.add(label, gold, predicted)
                tally.add("all shared labels", gold, predicted)
                nested = _keys(text, ((s.label, s.start, s.end) for s in every if s.label == label))
                tally.add(NESTED, gold, nested)
    groups = [*shared, "all shared labels", NESTED]
    sections += _table(
        f"presidio-research synthetic set ({len(rows)} texts): model + recognizers, outermost spans",
        gateway,
        groups,
    )
    sections += _table("presidio-research synthetic set: model alone, outermost spans", model_only, groups)

    zeroshot = [r for r in records if r["split"] == "zeroshot"]
    asked = [*ZERO_SHOT, "person", "email", "expiration_date"]
    zero = Tally()
    for record, spans in zip(zeroshot, predict(model, [r["text"] for r in zeroshot], asked), strict=True):
        for label, gold, predicted in _per_label(record, spans, ZERO_SHOT):
            zero.add(label, gold, predicted)
    sections += _table(
        f"Zero-shot labels ({len(zeroshot)} texts; never asked for in training; model alone)",
        zero,
        list(ZERO_SHOT),
    )

    recognizer_labels = sorted({pattern.label for pattern in PATTERNS})
    recognizers = Tally()
    for record in records:
        for label, gold, predicted in _per_label(record, find_spans(record["text"]), recognizer_labels):
            recognizers.add(label, gold, predicted)
    sections += _table(
        f"Recognizers alone, on every synthetic text ({len(records)} texts, all splits; rules, nothing trained)",
        recognizers,
        sorted(recognizers.counts),
    )

    header = [
        "# PII model evaluation",
        "",
        "Written by `python -m gateway.training.pii_eval --data build/pii.jsonl --eval-dir ../shared/eval "
        "--report gateway/models/pii/EVAL.md`. Span-level exact match after trimming surrounding spaces and "
        f"punctuation. Threshold {model.threshold} (chosen on validation texts from the training split). "
        f"Evaluation took {time.monotonic() - started:.0f} s on this machine.",
        "",
    ]
    return "\n".join(header + sections)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data", type=Path, required=True, help="the pii_data output (held-out and zero-shot splits)"
    )
    parser.add_argument("--eval-dir", type=Path, required=True)
    parser.add_argument("--model", type=Path, default=bundled_pii_dir())
    parser.add_argument("--report", type=Path)
    args = parser.parse_args(argv)
    text = evaluate(PiiModel(args.model), args.data, args.eval_dir)
    print(text)
    if args.report:
        args.report.write_text(text, encoding="utf-8")
        if args.report.resolve() == (args.model / "EVAL.md").resolve():
            write_card(args.model)  # the card quotes the report


if __name__ == "__main__":
    main()
