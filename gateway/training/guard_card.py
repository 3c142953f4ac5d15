"""The guard's model card, written from guard.json and the evaluation report beside it.

python -m gateway.training.guard_card gateway/models/guard
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from gateway.training.recipes import GUARD, GUARD_LAYERS

WEAKNESSES = """\
- The training set is small and mostly synthetic (templates written for this project plus the
  deepset prompt-injection train split). Texts far from those templates, such as long forum
  posts, slang, or sarcasm, are judged less reliably: most of OpenAI's moderation samples that
  are not harmful are still flagged (see the evaluation), and about a third of plainly harmful
  requests phrased unlike the templates are missed (SimpleSafetyTests).
- The base encoder's vocabulary is English (uncased WordPiece). French, Spanish, German,
  Italian, Portuguese and Dutch templates are in the training set, but accuracy in those
  languages is lower and is not measured by the public sets.
- There is one threshold per head (unsafe, harm, attack, refusal), chosen on the validation
  split; rarer harm categories and attack strategies are less well calibrated than the
  unsafe score. Policies should prefer the `unsafe` score for blocking and use categories
  to route or to explain.
- At the output stage the gateway scores an answer as the pair (the user's last message,
  answer); earlier turns of a conversation are not seen.
- Each 256-token window is mean pooled, so one short harmful sentence inside a long benign
  text is diluted and can score below the threshold; a harmful paragraph is found wherever it
  sits.
- Dynamic int8 quantization takes one activation scale per model input, so the gateway gives
  each text a model call of its own (its windows together): a verdict depends on the text alone,
  never on the requests it arrived with. The int8 scores differ from the fp32 model's by a few
  hundredths.
"""


def trained_on(training: dict[str, Any], *, gpu_time: str, cpu_epoch: str) -> tuple[str, str]:
    """The recipe's `--device` flag (empty on CPU) and a sentence saying where the model was
    trained; both cards use it, each with its own GPU time and CPU time an epoch."""
    device = training.get("device", "cpu")
    if device == "cpu":
        return "", "Trained on CPU (the default; `--device cuda` trains on a GPU)."
    return f" --device {device}", (
        f"Trained on a GPU (`--device {device}`, about {gpu_time}); on two CPU cores (the default) the same "
        f"command takes about {cpu_epoch} an epoch and gives close, not bit-identical, weights."
    )


def write_card(directory: Path) -> Path:
    meta = json.loads((directory / "guard.json").read_text(encoding="utf-8"))
    training = meta["training"]
    layers = (
        f"its first {training['layers']} of 6 layers" if training.get("layers", 6) < 6 else "all 6 layers"
    )
    weights = (
        (
            f" The graphs read their weights from `{meta['weights']}` beside them (ONNX external data)."
            if meta.get("response_apart")
            else f" The graph reads its weights from `{meta['weights']}` beside it (ONNX external data)."
        )
        if "weights" in meta
        else ""
    )
    report = directory / "EVAL.md"
    evaluation = (
        report.read_text(encoding="utf-8").split("\n", 1)[1].strip()
        if report.exists()
        else "Not evaluated yet: run `python -m gateway.training.guard_eval`."
    )
    flags = GUARD.flags(training)
    # Models made before kept_layers was written kept the first ones.
    kept = list(training.get("kept_layers", range(training.get("layers", 6))))
    if kept != list(range(GUARD_LAYERS)):
        flags += f" --layers {','.join(map(str, kept))}"
    device_flag, where = trained_on(training, gpu_time="a minute", cpu_epoch="ten minutes")
    flags += device_flag
    passes = "in a single forward pass"
    pooled = "mean pooling"
    if meta.get("response_apart"):  # guard_train --response-apart
        flags += " --response-apart"
        passes = (
            "in one forward pass; a response\nin a pass over its own tokens, read against the keys and values "
            "its prompt's pass left\n(`guard.onnx` for prompts, `response.onnx` for responses: in a pair the "
            "prompt attends only to\nitself)"
        )
        pooled = "mean pooling (over a response's own tokens in a pair)"
    taught = ""
    if "teacher" in training:  # distilled (guard_train --teacher)
        flags += f" --teacher {training['teacher']}"
        taught = (
            f" Half of each step's loss is against the probabilities guard {training['teacher_version']}"
            f" (`--teacher {training['teacher']}`) gives the same inputs."
        )
    chosen_how = (
        "Chosen with the int8 model as it is served (`python -m gateway.training.guard_thresholds`, also\n"
        "run by guard_train): per head, the best F1 over its outputs' pooled validation labels; where\n"
        "several thresholds tie, the middle one."
        if meta.get("thresholds_chosen_on")
        else "Chosen with the fp32 torch model before export: per head, the best F1 over its outputs'\n"
        "pooled validation labels."
    )
    validation = "\n".join(
        f"| {head} | {meta['thresholds'][head]} | {meta['validation_f1'][head]} |"
        for head in meta["thresholds"]
    )
    card = f"""# Shieldgate guard, version {meta["version"]}

One encoder that judges a prompt, or a response to a prompt, {passes}:
`unsafe`, 14 harm categories, 11 attack strategies and `refusal` (responses only), each a
sigmoid probability. Served with onnxruntime (int8, dynamic quantization) and tokenizers;
no torch at serving time.{weights}

## Base model and licence

{meta["base_model"]}, {layers}. Hidden size 384; {pooled} and one
linear layer of {len(meta["outputs"])} outputs on top. The fine-tuned weights are released under
the project's licence (Apache-2.0).

## Data

Built by `python -m gateway.training.guard_data --output build/guard.jsonl --seed {training["seed"]}
--deepset-train ../shared/eval/deepset_prompt_injections/train.csv`:
{training["examples"]} training and {training["validation_examples"]} validation examples. Requests are
frames times intents written for every harm category, with benign near-misses on the same topics
in the same frames (killing a process, suicide-prevention questions, fiction, security
education, medical and legal questions); statements (hate, threats, self-harm disclosures,
explicit content) beside ordinary statements about the same subjects; every attack strategy
wrapped around harmful or harmless payloads, alone and stacked, and injections hidden inside
long documents; long benign texts (pieces of Python's documentation, PSF licence, and Faker's
word salad in seven languages); safe questions that sound alarming (definitions, history, public
facts, homonyms such as "kill a process") and informal benign statements; refusals in many styles,
partial refusals (a refusal followed by general information) and long compliant answers, to
harmful and benign requests in seven languages; requests carrying pasted identifiers (hashes,
UUIDs, ticket numbers, tokens, log paths), labelled as the request beneath them; small talk and
the short answers it gets ("Hi" / "ok") in seven languages, and requests that only sound harmful
(figurative language, harmless targets, games and fiction, nonsense groups, the history of
discrimination); and the train split of deepset/prompt-injections (Apache-2.0, English and
German). The validation split holds out whole intents and templates, so validation figures are
on phrasings never trained on. No evaluation set below was trained on.

## Recipe

`python -m gateway.training.guard_train --data build/guard.jsonl --output gateway/models/guard{flags}`
(needs `pip install -e '.[train]'`): AdamW, lr {training["lr"]}, {training["epochs"]} epochs, batch {training["batch_size"]},
max length {training["max_length"]}, binary cross-entropy per output (unknown labels masked, harm and
attack positives weighted up), then ONNX export (opset 17; attention written out) and
`quantize_dynamic` to int8.{taught}
Long inputs are read in overlapping windows of 256 tokens at serving time; a text's score is the
maximum over its windows. {where}

## Thresholds (chosen on the validation split)

{chosen_how}

| head | threshold | validation F1 |
|---|---:|---:|
{validation}

## Evaluation

{evaluation}

## Known weaknesses

{WEAKNESSES}"""
    path = directory / "MODEL_CARD.md"
    path.write_text(card, encoding="utf-8")
    return path


if __name__ == "__main__":
    print(write_card(Path(sys.argv[1])))
