"""The PII model's card, written from pii.json and the evaluation report beside it.

python -m gateway.training.pii_card gateway/models/pii
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from gateway.training.guard_card import trained_on
from gateway.training.recipes import MINILM, PII

ENGLISH_VOCABULARY = """\
- The base encoder's vocabulary is English (uncased WordPiece, accents stripped). The other
  six languages are trained and measured on synthetic text only."""
CUT_VOCABULARY = """\
- The base vocabulary is cut to the pieces the seven languages' frequent words, Faker's names
  and places and the training texts use (`gateway.training.e5_base`); other words and scripts
  are read in smaller pieces, down to single characters (other scripts' characters unknown).
  The base weights were stored in 4 bits; fine-tuning starts from them rounded."""
WEAKNESSES = """\
- Trained only on synthetic texts (templates written for this project, filled by Faker in
  seven locales). Real documents with unusual layouts, nicknames, or names that are also
  common words are harder; the presidio figures in the evaluation show the gap.
{vocabulary}
- Spans are whole words: a value glued to letters or digits (`Ana2024`) comes out with them;
  one joined by punctuation (`name:Ana`) does not.
- Labels far from anything trained (zero-shot) are found less reliably than trained ones; the
  evaluation reports three labels that were never trained.
- A capitalized word right before a name is sometimes taken into it or for a name of its own:
  a request that opens with a verb ("Warn Mark Evans about the outage", "Félicite Hugo Laurent
  pour sa promotion"), or "É de Lara Pinheiro" ("It is from ...").
- Place names are confused across their labels: a city or a country asked for beside
  `state_or_region` is often called a region, and a city named in running text, outside an
  address ("moved from Leiria to Lisbon last year"), is often missed.
"""


LABELS_APART = """
The labels are read apart from the text: the label prefix attends only to itself, so its keys
and values at every layer are computed once per set of labels (`labels.onnx`) and each window
is a pass over its text alone (`text.onnx`); see `gateway/training/pii_encoder.py`."""

WEIGHTS_FILE = """
The graphs read their weights from `weights.bin` beside them (ONNX external data), which holds
each tensor once: a layer both graphs run is stored once."""
LABELS_JOIN = """ Except in the last {layers}: there labels and text read each other,
so `labels.onnx` keeps the prefix up to there (and its queries, keys and values in the first of
them) and `text.onnx` runs the rest over prefix and text."""


def apart_flags(record: dict[str, Any]) -> str:
    """`--labels-apart` and `--labels-join K` as a pii.json or a run's recipe records them."""
    if not record.get("labels_apart"):
        return ""
    join = int(record.get("labels_join", 0))
    return " --labels-apart" + (f" --labels-join {join}" if join else "")


def _run_flags(layout: dict[str, Any], training: dict[str, Any]) -> str:
    """The flags beyond the schedule that rebuild a run: its layout (`apart_flags` of the pii.json
    or recipe that records it), the blocks it kept (`--layers`) and `--phrasings` when `training`
    (its recipe) used them."""
    layers = f" --layers {','.join(map(str, training['keep_layers']))}" if "keep_layers" in training else ""
    teacher = f" --teacher {training['teacher']}" if "teacher" in training else ""
    return apart_flags(layout) + layers + (" --phrasings" if training.get("phrasings") else "") + teacher


def _shown(path: str) -> str:
    """`path` as a command line in the repository gives it: relative to the working directory
    when it is below it (a checkpoint records its data's absolute path)."""
    resolved = Path(path).resolve()
    return str(resolved.relative_to(Path.cwd())) if resolved.is_relative_to(Path.cwd()) else path


def _started_from(training: dict[str, Any], base_flag: str, subject: str = "It") -> str:
    """How the weights a run started from (`--init`) were made: a first run's kept checkpoint,
    or a shipped model read back by pii_unpack (and then how that model was trained, in turn)."""
    first = training["init_recipe"]
    if "unpacked_from" not in first:
        return (
            f"\n{subject} starts from the weights of a first run (`--init`), the checkpoint kept by `python -m"
            f" gateway.training.pii_train --data {_shown(first['data'])} --output {Path(training['init']).parent}"
            f"{PII.flags(first)}{_run_flags(first, first)}{base_flag} --keep-checkpoint`."
        )
    earlier = first["training"]
    flags = PII.flags(earlier) + _run_flags(first, earlier) + base_flag
    flags += f" --init {earlier['init']}" if "init" in earlier else ""
    return (
        f"\n{subject} starts from the weights of model {first['version']} (`--init`), read back from its int8"
        f" graphs by `python -m gateway.training.pii_unpack --model {first['unpacked_from']} --base"
        f" {first['base']} --output {training['init']}`. That model was trained by `python -m"
        f" gateway.training.pii_train --data {_shown(earlier['data'])} --output {first['unpacked_from']}{flags}`."
        + (_started_from(earlier, base_flag, "That model") if "init" in earlier else "")
    )


def _taught_by(training: dict[str, Any]) -> str:
    """Which model a distilled run (`--teacher`) learned from."""
    recipe = training.get("teacher_recipe", {})
    model = f"model {recipe['version']}, read back by pii_unpack" if "unpacked_from" in recipe else "a run"
    return (
        f"\nHalf of each step's loss is against the probabilities that {model} (`--teacher"
        f" {training['teacher']}`) gives the same inputs."
    )


def _layers(meta: dict[str, Any]) -> str:
    """How many blocks the encoder has, and which of the base's when it kept some (`--layers`)."""
    kept = meta["training"].get("base_layers")
    count = f"{meta.get('layers', 6)} layers"
    return f"{count} (blocks {', '.join(map(str, kept))} of the base's)" if kept else count


def write_card(directory: Path) -> Path:
    meta = json.loads((directory / "pii.json").read_text(encoding="utf-8"))
    training = meta["training"]
    messages = training.get("messages", False)
    dates = (
        "Written-out dates use the month names of the text's language."
        if messages
        else "Dates are written with English month names in every language."
    )
    report = directory / "EVAL.md"
    evaluation = (
        report.read_text(encoding="utf-8").split("\n", 1)[1].strip()
        if report.exists()
        else "Not evaluated yet: run `python -m gateway.training.pii_eval`."
    )
    flags = PII.flags(training)
    # On two cores: nine minutes an epoch on the default base (an AVX2 machine), five to six on
    # e5_base's multilingual one (the EPYC: 276 steps of 1.15 to 1.2 s).
    cpu_epoch = "five to six minutes" if "base" in training else "nine minutes"
    device_flag, where = trained_on(training, gpu_time="three minutes", cpu_epoch=cpu_epoch)
    flags += device_flag
    apart = bool(meta.get("labels_apart"))
    join = int(meta.get("labels_join", 0))
    flags += _run_flags(meta, training)
    base_flag = f" --base {training['base']}" if "base" in training else ""
    flags += base_flag
    if "init" in training:
        flags += f" --init {training['init']}"
        where += _started_from(training, base_flag)
    if "teacher" in training:
        where += _taught_by(training)
    if "base" in training:
        where += f"\nThe base directory is written by `{training['base_command']}` (needs the same extra)."
    card = f"""# Shieldgate PII model, version {meta["version"]}

A label-conditioned span finder: the labels to find are given as words before the text, and
every (token, label) pair is scored for "a span begins here" and "inside a span". Served with
onnxruntime (int8, dynamic quantization) and tokenizers; no torch at serving time.{WEIGHTS_FILE if "weights" in meta else ""}{LABELS_APART if apart else ""}{LABELS_JOIN.format(layers="layer" if join == 1 else f"{join} layers") if join else ""}

## Base model and licence

{meta["base_model"]}. {_layers(meta)}, hidden size 384; two 128-dimensional projections (tokens and
labels) on top. Released under the project's licence (Apache-2.0).

## Data

`python -m gateway.training.pii_data --output build/pii.jsonl --seed {training["seed"]}`:
sentences (chat, support tickets, requests), forms, CSV rows, JSON objects, log lines and
two-message chats{", and messages strung together from short clauses (openers, connectors, sentences without personal data, order numbers, prices and times that are not PII)" if messages else ""},
in English, French, Spanish, German, Italian, Portuguese and Dutch, filled with Faker values of
each locale. {dates} {training.get("data_note", "")}
{training["texts"]} training texts and {training["validation_texts"]} validation texts (for the
threshold). The held-out set uses the last two sentence templates of each language, never
trained on. Labels never asked for in training (zero-shot): {", ".join(meta["zero_shot_labels"])}.

## Recipe

`python -m gateway.training.pii_train --data {_shown(training.get("data", "build/pii.jsonl"))} --output gateway/models/pii{flags}` (needs
`pip install -e '.[train]'`): each text asked for the labels it carries (each kept with
probability 0.9) and 3 to 16 it does not carry, in random order, described in words or by name{" (the words sometimes one of its other phrasings, `pii_templates.PHRASINGS`)" if training.get("phrasings") else ""};
binary cross-entropy on begin/inside, positives weighted 5x; AdamW, lr {training["lr"]},
{training["epochs"]} epochs, batch {training["batch_size"]}; ONNX export (opset 17), `quantize_dynamic` to int8.
{where}
Decision threshold {meta["threshold"]} (validation span F1 {meta.get("validation_f1", "n/a")}).
At serving time a span is widened to whole words (`gateway/pii/model.py`, `whole_words`): one
whose last word piece scored below the threshold ("Faivre" found as "Fai") takes the rest of
its word; a `person`, `full_name` or `first_name` span starts at its first capitalized word
(`from_capital`: "de Jose Ramón" in "un mensaje de Jose Ramón" is cut to "Jose Ramón"), and one
that is only surname particles in lower case ("van", "de la") is dropped (`only_particles`); a
span found as more than one of `city`, `state_or_region` and `country` keeps the best-scored
(`one_place_label`).

## Evaluation

{evaluation}

## Known weaknesses

{WEAKNESSES.format(vocabulary=ENGLISH_VOCABULARY if meta["base_model"] == MINILM else CUT_VOCABULARY)}"""
    path = directory / "MODEL_CARD.md"
    path.write_text(card, encoding="utf-8")
    return path


if __name__ == "__main__":
    print(write_card(Path(sys.argv[1])))
