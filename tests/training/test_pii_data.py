"""The PII model's training set: rebuilt exactly from its seed, spans that point at their values,
held-out templates that training never sees, and dates written in the text's language."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from gateway.training.pii_clauses import CLAUSES, MONTHS, ROLES
from gateway.training.pii_data import AND, HELD_OUT_TEMPLATES, LOCALES, SUFFIXES, Values, build
from gateway.training.pii_templates import SENTENCES


def test_every_span_covers_a_nonempty_value_and_the_splits_are_there() -> None:
    records = build(7, 40)
    assert {r["split"] for r in records} == {"train", "heldout", "zeroshot"}
    assert {r["lang"] for r in records} == set(LOCALES)
    assert "message" in {r["format"] for r in records}
    for record in records:
        for span in record["spans"]:
            value = record["text"][span["start"] : span["end"]]
            assert value
            assert value == value.strip(), (record["text"], span)


def test_held_out_sentences_are_never_in_training() -> None:
    records = build(7, 60)
    for lang, templates in SENTENCES.items():
        for template in templates[-HELD_OUT_TEMPLATES:]:
            opening = template.split("{")[0].strip() or template.split("}")[1].split("{")[0].strip()
            trained = [r for r in records if r["split"] == "train" and r["lang"] == lang]
            assert not [r for r in trained if opening in r["text"]], (lang, opening)
        assert all(template not in CLAUSES[lang] for template in templates)


def test_written_out_dates_use_the_texts_language() -> None:
    records = build(7, 80)
    german = " ".join(r["text"] for r in records if r["lang"] == "de")
    english_only = [m for m in MONTHS["en"] if m not in MONTHS["de"]]
    assert any(month in german for month in MONTHS["de"] if month not in MONTHS["en"])
    assert not any(f" {month} " in german for month in english_only)


def test_the_command_gives_the_same_file_twice(tmp_path: Path) -> None:
    """Faker picks some values from sets, so the command fixes string hashing for itself."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONHASHSEED"}
    outputs = []
    for run in ("a", "b"):
        path = tmp_path / f"{run}.jsonl"
        command = [sys.executable, "-m", "gateway.training.pii_data", "--output", str(path)]
        subprocess.run([*command, "--per-language", "30"], check=True, env=env)
        outputs.append(path.read_bytes())
    assert outputs[0] == outputs[1]


def test_a_postal_address_holds_its_parts_and_a_name_list_its_names() -> None:
    for lang in LOCALES:
        values = Values(lang, 11)
        for _ in range(40):
            postal = values.slot("postal")
            (whole,) = [(s, e) for label, s, e in postal.spans if label == "address"]
            assert whole == (0, len(postal.text))
            parts = {label for label, _, _ in postal.spans}
            assert {"street_address", "postal_code"} <= parts
            names = values.slot("names")
            people = [names.text[s:e] for label, s, e in names.spans if label == "person"]
            assert 3 <= len(people) <= 6
            assert names.text.endswith(AND[lang] + people[-1])
            lower = values.slot("name_lower")
            assert lower.text == lower.text.lower()
            assert [lower.text[s:e] for label, s, e in lower.spans if label == "person"] == [lower.text]
            assert values.slot("company").spans == []
            assert values.slot("work").spans == []


def test_address_blocks_put_the_name_and_the_address_on_lines_of_their_own() -> None:
    blocks = [r for r in build(7, 200) if r["format"] == "block"]
    assert blocks
    for record in blocks:
        text = record["text"]
        addresses = [(s["start"], s["end"]) for s in record["spans"] if s["label"] == "address"]
        assert len(addresses) == 1
        start, end = addresses[0]
        assert text[start - 1] == "\n"
        assert end == len(text) or text[end] == "\n"


def test_a_name_from_elsewhere_is_one_person_with_its_parts() -> None:
    values = Values("de", 5)
    seen = {"initial": False, "suffix": False, "elsewhere": False}
    german = {values.fake.first_name() for _ in range(300)}
    for _ in range(300):
        name = values.slot("other_name")
        text = name.text
        spans = {label: text[s:e] for label, s, e in name.spans}
        assert spans["person"] == spans["full_name"] == text
        assert text.startswith(spans["first_name"] + " ")
        words = text.split()
        assert spans["last_name"] in text
        if "middle_name" in spans:
            assert len(spans["middle_name"]) == 1
            assert spans["middle_name"].isupper()
            seen["initial"] = True
        seen["suffix"] |= words[-1] in SUFFIXES
        seen["elsewhere"] |= spans["first_name"] not in german
    assert all(seen.values()), seen


def test_a_surname_list_names_each_surname_as_a_person() -> None:
    for lang in LOCALES:
        values = Values(lang, 3)
        for _ in range(20):
            surnames = values.slot("surnames")
            people = [surnames.text[s:e] for label, s, e in surnames.spans if label == "person"]
            last = [surnames.text[s:e] for label, s, e in surnames.spans if label == "last_name"]
            assert 2 <= len(people) <= 4
            assert people == last
            assert surnames.text.endswith(AND[lang] + people[-1])


def test_a_transcripts_speakers_are_people_or_roles_that_are_not() -> None:
    transcripts = [r for r in build(7, 300) if r["format"] == "chat" and ": " in r["text"].split("\n")[0]]
    seen = {"person": False, "role": False}
    for record in transcripts:
        text = record["text"]
        people = {(s["start"], s["end"]) for s in record["spans"] if s["label"] == "person"}
        for line_start in [0, *(i + 1 for i, c in enumerate(text) if c == "\n")]:
            speaker = text[line_start:].split(": ", 1)[0]
            if speaker in ROLES[record["lang"]]:
                assert (line_start, line_start + len(speaker)) not in people
                seen["role"] = True
            elif (line_start, line_start + len(speaker)) in people:
                seen["person"] = True
    assert all(seen.values()), seen
