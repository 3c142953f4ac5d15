"""Choose the guard's decision thresholds on the validation split, with the model as it is served.

    python -m gateway.training.guard_thresholds --model gateway/models/guard --data build/guard.jsonl

Scores the validation examples with the int8 ONNX model through `GuardModel` (the windows and
the prompt context of serving included), picks one threshold per head (best F1 over the pooled
known labels of its outputs) and writes them into the model's guard.json and card. guard_train
calls the same selection after its export; this command redoes it for an exported model. Never
run it on an evaluation set.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from gateway.guard.labels import OUTPUTS, head_slices
from gateway.guard.model import GuardInput, GuardModel
from gateway.training.guard_card import write_card
from gateway.training.guard_data import load_examples, targets

GRID = np.round(np.arange(0.05, 0.96, 0.01), 2)


def best_threshold(scores: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """The threshold with the best F1 on these scores (0.5 when there are no positives).

    When several thresholds tie for the best F1 (a head that separates its validation examples
    perfectly), the middle one of them is taken, as far from both classes as the data allows,
    rather than the lowest."""
    if truth.sum() == 0:
        return 0.5, float("nan")
    predicted = scores[None, :] >= GRID[:, None]  # one row per candidate threshold
    true_positives = (predicted & truth[None, :]).sum(axis=1)
    f1s = 2 * true_positives / (predicted.sum(axis=1) + truth.sum())
    tied = GRID[f1s >= f1s.max() - 1e-12]
    return float(tied[len(tied) // 2]), float(f1s.max())


def choose_thresholds(
    probabilities: np.ndarray, examples: list[dict[str, Any]], quiet: bool = False
) -> dict[str, dict[str, float]]:
    """One threshold per head from `probabilities` (examples x OUTPUTS) and the examples' labels.

    A head's outputs share its threshold, chosen on their pooled known labels."""
    labelled = [targets(e) for e in examples]
    values = np.array([v for v, _ in labelled])
    known = np.array([k for _, k in labelled]).astype(bool)
    chosen: dict[str, dict[str, float]] = {}
    for head, cols in head_slices().items():
        scores = probabilities[:, cols][known[:, cols]]
        truth = values[:, cols][known[:, cols]].astype(bool)
        threshold, f1 = best_threshold(scores, truth)
        chosen[head] = {"threshold": threshold, "validation_f1": round(f1, 3)}
        if not quiet:
            print(f"  {head:<8} threshold {threshold:.2f}  validation F1 {f1:.3f}")
    return chosen


def served_probabilities(model: GuardModel, examples: list[dict[str, Any]]) -> np.ndarray:
    """The served model's probabilities (examples x OUTPUTS); a response is scored with its prompt."""
    items = [
        GuardInput(e["response"], prompt=e["prompt"])
        if e.get("response") is not None
        else GuardInput(e["prompt"])
        for e in examples
    ]
    rows = [
        [s.unsafe, *s.harm.values(), *s.attack.values(), s.refusal if s.refusal is not None else 0.0]
        for s in model.score(items)
    ]
    probabilities = np.array(rows, dtype=np.float32)
    assert probabilities.shape == (len(examples), len(OUTPUTS))
    return probabilities


def served_thresholds(directory: Path, validation: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Choose the thresholds of the exported model in `directory` and write them to its guard.json."""
    chosen = choose_thresholds(served_probabilities(GuardModel(directory, threads=0), validation), validation)
    path = directory / "guard.json"
    meta = json.loads(path.read_text(encoding="utf-8"))
    meta["thresholds"] = {head: value["threshold"] for head, value in chosen.items()}
    meta["validation_f1"] = {head: value["validation_f1"] for head, value in chosen.items()}
    meta["thresholds_chosen_on"] = "validation split, int8 model as served"
    path.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return chosen


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, required=True, help="an exported guard model directory")
    parser.add_argument("--data", type=Path, required=True, help="the file guard_data wrote")
    args = parser.parse_args(argv)
    _, validation = load_examples(args.data)
    if not validation:
        raise SystemExit(f"{args.data} has no validation examples")
    print(f"thresholds chosen on {len(validation)} validation examples with {args.model}/guard.onnx:")
    served_thresholds(args.model, validation)
    write_card(args.model)
    print(f"wrote {args.model}/guard.json and its card")


if __name__ == "__main__":
    main()
