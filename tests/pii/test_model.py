"""The shipped PII model: label-conditioned spans in several languages, long texts, own labels."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from gateway.onnxsession import ROWS_PER_CALL
from gateway.pii.model import (
    PiiModel,
    bundled_pii_dir,
    from_capital,
    load_pii_model,
    one_place_label,
    only_particles,
    text_windows,
    whole_words,
)

ASK = {
    "person": "person name",
    "phone_number": "phone number",
    "city": "city",
    "date_of_birth": "date of birth",
}


@pytest.fixture(scope="module")
def model() -> PiiModel:
    return load_pii_model(bundled_pii_dir())


def _found(model: PiiModel, text: str, labels: dict[str, str]) -> set[tuple[str, str]]:
    (spans,) = model.find([text], labels)
    return {(span.label, text[span.start : span.end]) for span in spans}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hi, I'm Laura Bianchi and you can call me on +39 333 123 4567.", {("person", "Laura Bianchi")}),
        (
            "Bonjour, je m'appelle Julien Moreau et j'habite à Lyon.",
            {("person", "Julien Moreau"), ("city", "Lyon")},
        ),
        ("Julien Moreau lives in Lyon.", {("person", "Julien Moreau"), ("city", "Lyon")}),
        ("Kunde Jonas Becker, geboren am 14.03.1985, hat angerufen.", {("person", "Jonas Becker")}),
    ],
)
def test_names_and_other_labels_are_found_across_languages(
    model: PiiModel, text: str, expected: set[tuple[str, str]]
) -> None:
    assert expected <= _found(model, text, ASK)


def test_only_the_asked_labels_are_reported(model: PiiModel) -> None:
    found = _found(model, "Hi, I'm Laura Bianchi from Milan.", {"city": "city"})
    assert {label for label, _ in found} <= {"city"}


def test_a_label_of_your_own_is_found_from_its_description(model: PiiModel) -> None:
    # The label is an input: any name, described in words, is answered under that name.
    text = "Hi, I'm Laura Bianchi and you can call me on +39 333 123 4567."
    assert ("contact", "Laura Bianchi") in _found(model, text, {"contact": "person name"})


@pytest.mark.parametrize("sentences", [60, 250])  # 250: more windows than one model call takes
def test_spans_point_into_the_text_and_long_texts_are_read_to_the_end(
    model: PiiModel, sentences: int
) -> None:
    filler = "The meeting notes cover the budget, hiring and the office move. " * sentences
    text = f"{filler}Please send the contract to Marta Lopez."
    if sentences == 250:
        assert len(text_windows(model.tokenizer.encode(text, add_special_tokens=False))) > ROWS_PER_CALL
    (spans,) = model.find([text], {"person": "person name"})
    assert any(text[s.start : s.end] == "Marta Lopez" for s in spans)
    assert all(0 <= s.start < s.end <= len(text) for s in spans)


def test_a_text_finds_the_same_spans_alone_and_beside_others(model: PiiModel) -> None:
    texts = [
        "Hi, I'm Laura Bianchi and you can call me on +39 333 123 4567.",
        "Kunde Jonas Becker, geboren am 14.03.1985, hat angerufen.",
        "Julien Moreau lives in Lyon.",
        "The meeting notes cover the budget, hiring and the office move. " * 30 + "Signed, Marta Lopez.",
    ]
    beside_others = model.find(texts, ASK)
    for text, spans in zip(texts, beside_others, strict=True):
        assert model.find([text], ASK) == [spans]


def test_no_labels_or_no_texts_means_no_work(model: PiiModel) -> None:
    assert model.find([], ASK) == []
    assert model.find(["Laura Bianchi"], {}) == [[]]


def test_a_directory_missing_a_file_of_its_layout_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"holds no pii\.json"):
        PiiModel(tmp_path)
    directory = tmp_path / "model"
    shutil.copytree(bundled_pii_dir(), directory)
    meta = json.loads((directory / "pii.json").read_text(encoding="utf-8"))
    (directory / "text.onnx").unlink()
    with pytest.raises(ValueError, match=r"holds no text\.onnx$"):
        PiiModel(directory)
    whole = {k: v for k, v in meta.items() if k not in ("labels_apart", "labels_join")}
    (directory / "pii.json").write_text(json.dumps(whole), encoding="utf-8")  # one graph, pii.onnx
    with pytest.raises(ValueError, match=r"holds no pii\.onnx$"):
        PiiModel(directory)
    (directory / "pii.json").write_text(json.dumps(meta), encoding="utf-8")
    (directory / "tokenizer.json").unlink()
    with pytest.raises(ValueError, match=r"holds no text\.onnx, tokenizer\.json$"):
        PiiModel(directory)
    (directory / "weights.bin").unlink()  # pii.json names it
    with pytest.raises(ValueError, match=r"holds no text\.onnx, weights\.bin, tokenizer\.json$"):
        PiiModel(directory)


@pytest.mark.parametrize(
    ("text", "cut", "whole"),
    [
        ("Ask Guy Faivre today", "Guy Fai", "Guy Faivre"),  # the last word piece scored low
        ("Ask Guy Faivre today", "ivre", "Faivre"),  # and the first
        ("Boyer-les-Bains", "les-Bain", "les-Bains"),  # punctuation bounds a word
        ("Déménagé à Genève", "Genè", "Genève"),  # letters beyond ASCII are letters
        ("name:Ana", "Ana", "Ana"),  # a whole word stays as it is
        ("Ana", "An", "Ana"),  # at the ends of the text
    ],
)
def test_spans_are_widened_to_whole_words(text: str, cut: str, whole: str) -> None:
    start = text.index(cut)
    widened = whole_words(text, start, start + len(cut))
    assert text[widened[0] : widened[1]] == whole


def test_no_token_of_the_text_starts_or_ends_on_whitespace(model: PiiModel) -> None:
    # Training marks a token inside a span only if its offsets lie within the span: a token
    # that took the space before a name along would never be part of one.
    text = "Kunde  Jonas Becker\nwohnt in Köln,\tStraße 5; mail jonas@example.org"
    encoding = model.tokenizer.encode(text, add_special_tokens=False)
    pieces = [text[start:end] for start, end in encoding.offsets]
    assert all(piece and piece == piece.strip() for piece in pieces)


@pytest.mark.parametrize(
    ("text", "found", "name"),
    [
        ("Un mensaje de Jose Ramón Vilaplana.", "de Jose Ramón Vilaplana", "Jose Ramón Vilaplana"),
        ("Een bericht van Nora Kalman.", "van Nora Kalman", "Nora Kalman"),
        ("Fleur van der Sande belt.", "Fleur van der Sande", "Fleur van der Sande"),
        ("ask maria keller", "maria keller", "maria keller"),  # typed in lower case: kept whole
    ],
)
def test_a_name_starts_at_its_first_capitalized_word(text: str, found: str, name: str) -> None:
    start = text.index(found)
    assert text[from_capital(text, start, start + len(found)) : start + len(found)] == name


def test_the_model_leaves_the_preposition_before_a_name_out() -> None:
    text = "Hola, tengo un mensaje de Jose Ramón Vilaplana para el equipo."
    spans = load_pii_model(bundled_pii_dir()).find([text], {"person": "person name"})[0]
    assert [text[s.start : s.end] for s in spans if s.label == "person"] == ["Jose Ramón Vilaplana"]


@pytest.mark.parametrize(
    ("found", "particles"),
    [("van", True), ("van der", True), ("de la", True), ("Van", False), ("van Dijk", False), ("", False)],
)
def test_surname_particles_alone_are_no_name(found: str, particles: bool) -> None:
    assert only_particles(found) is particles


def test_a_lone_particle_before_a_name_is_not_reported_as_one(model: PiiModel) -> None:
    text = "Het is van Tessa Martel uit Beek."  # the model alone calls "van" a given name here
    labels = {"person": "person name", "first_name": "first name", "full_name": "full name"}
    assert not [value for _, value in _found(model, text, labels) if only_particles(value)]


def test_a_place_is_reported_under_one_place_label_only() -> None:
    found = {
        ("city", 0, 7): 0.95,
        ("state_or_region", 0, 7): 0.97,
        ("country", 0, 7): 0.91,
        ("city", 10, 15): 0.92,
        ("person", 0, 7): 0.93,  # not a place label: left alone
        ("country", 20, 25): 0.9,
        ("city", 20, 25): 0.9,  # a tie: the first found stays
    }
    assert one_place_label(found) == {
        ("state_or_region", 0, 7): 0.97,
        ("city", 10, 15): 0.92,
        ("person", 0, 7): 0.93,
        ("country", 20, 25): 0.9,
    }


def test_the_model_gives_a_span_one_place_label(model: PiiModel) -> None:
    # The model alone calls "Chile" both a country and a region here.
    texts = ["Luis se fue de Teruel a Chile.", "Ze woont in Groningen, Nederland."]
    labels = {"city": "city", "state_or_region": "state or region", "country": "country"}
    found = model.find(texts, labels)
    assert all(found)
    for spans in found:
        places = [(s.start, s.end) for s in spans]
        assert len(places) == len(set(places))
