"""The PII evaluation's report, on a few texts of each kind with the shipped model."""

from __future__ import annotations

import json
from pathlib import Path

from gateway.findings import Span
from gateway.pii.model import PiiModel, bundled_pii_dir
from gateway.training.pii_eval import NESTED, evaluate, outermost


def _record(text: str, split: str, spans: list[tuple[str, str]]) -> dict[str, object]:
    return {
        "text": text,
        "lang": "en",
        "split": split,
        "format": "sentence",
        "spans": [{"label": label, "start": text.index(value), "end": text.index(value) + len(value)}
                  for label, value in spans],
    }  # fmt: skip


def test_the_report_has_every_table_and_scores_the_recognizers_alone(tmp_path: Path) -> None:
    records = [
        _record("My SSN is 138-73-1034, email ana@example.com.", "train",
                [("national_id_number", "138-73-1034"), ("email", "ana@example.com")]),
        _record("Mijn BSN is 214035797.", "train", [("national_id_number", "214035797")]),
        _record("Order 214035797 shipped.", "train", []),  # a valid BSN, but nothing names it
        _record("Hi, I'm Ana Lopez and my email is ana@example.com.", "heldout",
                [("person", "Ana Lopez"), ("email", "ana@example.com")]),
        _record("Your passport AB1234567 expires soon.", "zeroshot", [("passport_number", "AB1234567")]),
        *(_record(f"Call Marta Rossi, ticket {n}.", "train", [("person", "Marta Rossi")]) for n in range(7)),
    ]  # fmt: skip
    data = tmp_path / "pii.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    presidio = tmp_path / "eval" / "presidio_research_synth"
    presidio.mkdir(parents=True)
    text = "Call Ana Lopez at ana@example.com."
    rows = [
        {
            "full_text": text,
            "spans": [{"entity_type": "EMAIL_ADDRESS", "start_position": 18, "end_position": 33}],
        }
    ]
    (presidio / "synth_dataset_v2.json").write_text(json.dumps(rows), encoding="utf-8")

    report = evaluate(PiiModel(bundled_pii_dir()), data, tmp_path / "eval")

    for title in (
        "Held-out synthetic set (1 texts",
        "Validation texts (1 texts of the training templates that training held back",
        "presidio-research synthetic set (1 texts)",
        "Zero-shot labels (1 texts",
        "Recognizers alone, on every synthetic text (12 texts",
    ):
        assert title in report  # fmt: skip
    recognizers = report[report.index("Recognizers alone") :]
    assert "| national_id_number | 2 | 1.000 | 1.000 | 1.000 |" in recognizers  # the order number is not one
    assert "| email | 2 | 1.000 | 1.000 | 1.000 |" in recognizers
    presidio_rows = report[report.index("presidio-research synthetic set (1 texts)") :]
    assert "| email | 1 | 1.000 | 1.000 | 1.000 |" in presidio_rows
    assert f"| {NESTED} | 1 |" in presidio_rows
    validation = report[report.index("Validation texts") : report.index("presidio-research")]
    assert "| all formats | 1 |" in validation  # one of the ten training texts, its one span


def test_outermost_drops_a_span_inside_a_longer_one_and_keeps_the_rest() -> None:
    address = Span("address", 10, 40, 0.95)
    postal_code = Span("postal_code", 30, 35, 0.97)  # inside the address
    person = Span("person", 0, 8, 0.99)
    same_bounds = Span("city", 10, 40, 0.91)  # as long as the address: neither contains the other
    assert outermost([address, postal_code, person, same_bounds]) == [address, person, same_bounds]
