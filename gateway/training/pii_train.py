"""Fine-tune the label-conditioned PII span model, export it to ONNX and quantize it to int8.

    python -m gateway.training.pii_train --data build/pii.jsonl --output gateway/models/pii

Base encoder: all-MiniLM-L6-v2 (the guard's), or the directory given with `--base` (for
example the multilingual one `gateway.training.e5_base` writes). Inputs are built by the runtime's own
`encode_window`, so training and serving read texts identically. Each training text is asked
for the labels it carries (each kept with probability 0.9) and for random labels it does not
carry, in random order, and sometimes by the label's name instead of its description (with
`--phrasings`, sometimes by another phrasing of it, `pii_templates.PHRASINGS`). Labels in
`pii_data.ZERO_SHOT` are never asked for. The decision threshold is chosen on a validation
tenth of the training texts. A checkpoint is written at the end of every epoch; `--resume`
continues an interrupted run from it.

`--labels-apart` trains a model whose label prefix attends only to itself
(gateway.training.pii_encoder) and exports it as two graphs, labels.onnx (the prefix, once per
set of labels) and text.onnx (a window's text against the kept prefix), instead of pii.onnx.
`--labels-join K` lets labels and text read each other in the last K layers: the prefix is kept up
to them, and text.onnx runs them over prefix and text.

`--init CHECKPOINT` starts from the weights of an earlier run's checkpoint (on the same base; for
example one kept with `--keep-checkpoint`, which does not delete it after the export), so a
labels-apart model can be adapted from a trained one instead of trained from the base.

`--layers 0,2,5` keeps those blocks of the encoder (of the `--init` model's, with `--init`) and
drops the others before training: fewer blocks, less time per token. A labels-apart model's
joined layers are its last ones, so keep the last block(s) of a model trained with them.

`--teacher CHECKPOINT` distils a trained model (a checkpoint on the same base, for example a
shipped model unpacked by pii_unpack) into the one being trained: half the loss is the usual
one against the labelled spans, half against the teacher's probabilities for every (token,
label) pair of the same inputs, so a smaller model learns how sure the larger one is, not only
where its spans are.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tokenizers import Tokenizer
from torch import nn
from transformers import BertModel, get_linear_schedule_with_warmup

from gateway.pii.model import PREFIX_PARTS, encode_window, kept_prefix, text_windows
from gateway.taxonomy import PII_LABELS
from gateway.training import pii_encoder
from gateway.training.checkpoint import (
    CHECKPOINT,
    CannotResume,
    Training,
    add_resume_argument,
    load_checkpoint,
    save_checkpoint,
)
from gateway.training.guard_train import base_config, base_model_dir, kept_layers
from gateway.training.onnx_export import check_difference, fp32_session, quantize, to_onnx
from gateway.training.onnx_share import WEIGHTS, share_weights
from gateway.training.pii_card import write_card
from gateway.training.pii_data import ZERO_SHOT, split_validation
from gateway.training.pii_eval import choose_threshold
from gateway.training.pii_templates import DESCRIPTIONS, PHRASINGS
from gateway.training.recipes import PII, add_training_arguments

PROJECTION = 128


class SpanModel(nn.Module):
    """The encoder and two projections: (token, label) logits for [begin, inside].

    `labels_apart`: the label prefix attends only to itself (gateway.training.pii_encoder), so a
    served model keeps it per set of labels and reads each window's text alone; but in the last
    `labels_join` layers, where labels and text read each other."""

    def __init__(self, base: Path, labels_apart: bool = False, labels_join: int = 0) -> None:
        super().__init__()
        self.encoder = BertModel.from_pretrained(base, add_pooling_layer=False, dtype=torch.float32)
        layers = self.encoder.config.num_hidden_layers
        if labels_join and not labels_apart:
            raise ValueError("labels_join is a number of layers of a labels-apart model")
        if not 0 <= labels_join < layers:
            raise ValueError(f"labels_join must be 0 to {layers - 1} (the base has {layers} layers)")
        hidden = self.encoder.config.hidden_size
        self.token_proj = nn.Linear(hidden, 2 * PROJECTION)
        self.label_proj = nn.Linear(hidden, 2 * PROJECTION)
        self.bias = nn.Parameter(torch.zeros(2))
        self.labels_apart = labels_apart
        self.labels_join = labels_join
        self.base_layers = list(range(layers))  # which of the base's blocks the encoder has
        self._base_blocks = layers

    @classmethod
    def as_recorded(cls, base: Path, record: Mapping[str, Any]) -> SpanModel:
        """A model on `base` laid out as `record` says (a run's recipe, or what pii_unpack reads
        from pii.json): how it reads its labels (labels_apart, labels_join) and the base's blocks
        it kept (base_layers)."""
        model = cls(
            base, labels_apart=bool(record.get("labels_apart")), labels_join=int(record.get("labels_join", 0))
        )
        model.keep_recorded_blocks(record)
        return model

    def keep_recorded_blocks(self, record: Mapping[str, Any]) -> None:
        """Keep the base's blocks `record["base_layers"]` names, when it names some (a model that
        kept some of them); the encoder must still have all of the base's."""
        if record.get("base_layers") is not None:
            self.keep_layers(record["base_layers"])

    def keep_layers(self, layers: list[int]) -> None:
        """Keep only the encoder blocks `layers` (indices into its blocks now), in that order."""
        blocks = self.encoder.encoder.layer
        if not layers or any(not 0 <= i < len(blocks) for i in layers):
            raise ValueError(f"layers must be indices of the encoder's {len(blocks)} blocks, not {layers}")
        if self.labels_join >= len(layers):
            raise ValueError(f"labels_join {self.labels_join} needs more than {len(layers)} layers")
        self.encoder.encoder.layer = nn.ModuleList(blocks[i] for i in layers)
        self.encoder.config.num_hidden_layers = len(layers)
        self.base_layers = [self.base_layers[i] for i in layers]

    def kept_blocks(self) -> dict[str, list[int]]:
        """{"base_layers": the base's blocks the encoder has} when it dropped some (kept with
        `--layers`, or by the `--init` model), for a recipe; {} when it has them all."""
        whole = self.base_layers == list(range(self._base_blocks))
        return {} if whole else {"base_layers": self.base_layers}

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor,
        label_mask: torch.Tensor,
    ) -> torch.Tensor:
        if self.labels_apart:
            hidden = pii_encoder.encode(
                self.encoder, input_ids, attention_mask, token_type_ids, self.labels_join
            )
        else:
            hidden = self.encoder(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
        labels = torch.bmm(label_mask, hidden)  # (batch, labels, hidden): mean of each description
        return self.logits(hidden, self.describe(labels))

    def describe(self, labels: torch.Tensor) -> torch.Tensor:
        """(batch, labels, hidden) label vectors -> (batch, labels, 2, PROJECTION)."""
        return self.label_proj(labels).view(labels.shape[0], labels.shape[1], 2, PROJECTION)

    def logits(self, hidden: torch.Tensor, described: torch.Tensor) -> torch.Tensor:
        """(batch, positions, labels, [begin, inside]) for token states and described labels
        (batch or 1, labels, 2, PROJECTION)."""
        b, s, _ = hidden.shape
        tokens = self.token_proj(hidden).view(b, s, 2, PROJECTION)
        described = described.expand(b, -1, -1, -1)
        logits = torch.einsum("bskd,blkd->bslk", tokens, described) / math.sqrt(PROJECTION)
        return logits + self.bias


class LabelPart(nn.Module):
    """A labels-apart model's prefix pass: (1, prefix) ids -> the prefix's keys and values
    (layers - labels_join, heads, prefix, head size), its hidden states (1, prefix, hidden) before
    the joined layers and, with joined layers, the first one's queries, keys and values (1,
    heads, prefix, head size): PREFIX_PARTS."""

    def __init__(self, model: SpanModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor) -> tuple[torch.Tensor, ...]:
        join = self.model.labels_join
        hidden, keys, values = pii_encoder.prefix(self.model.encoder, input_ids, join)
        if not join:
            return keys[:, 0], values[:, 0], hidden
        return keys[:, 0], values[:, 0], hidden, *pii_encoder.joined_prefix(self.model.encoder, hidden, join)


class TextPart(nn.Module):
    """A labels-apart model's text pass: text rows, their attention mask, the prefix's label
    mask (1, labels, rows) and a LabelPart's outputs -> (batch, positions, labels, [begin,
    inside]) logits. With one joined layer the prefix's hidden states, joined queries and label
    mask may hold only the rows the labels are described by (gateway.pii.model.kept_prefix)."""

    def __init__(self, model: SpanModel) -> None:
        super().__init__()
        self.model = model

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        label_mask: torch.Tensor,
        keys: torch.Tensor,
        values: torch.Tensor,
        prefix: torch.Tensor,
        *joined: torch.Tensor,
    ) -> torch.Tensor:
        prefix_states, hidden = pii_encoder.text(
            self.model.encoder,
            input_ids,
            attention_mask,
            keys[:, None],
            values[:, None],
            prefix,
            self.model.labels_join,
            (joined[0], joined[1], joined[2]) if joined else None,
        )
        labels = torch.bmm(label_mask.expand(prefix_states.shape[0], -1, -1), prefix_states)
        return self.model.logits(hidden, self.model.describe(labels))


def span_loss(
    logits: torch.Tensor, targets: torch.Tensor, known: torch.Tensor, taught: torch.Tensor | None = None
) -> torch.Tensor:
    """Binary cross-entropy of the (token, label) logits against the labelled spans, over the
    `known` pairs, span pairs weighing 5 (spans are rare among pairs); with `taught` (a teacher's
    probabilities for the same pairs), the mean of that and the same loss against them."""
    weight = known * (1 + 4 * targets)

    def against(wanted: torch.Tensor) -> torch.Tensor:
        pairs = nn.functional.binary_cross_entropy_with_logits(logits, wanted, reduction="none")
        return (pairs * weight).sum() / known.sum()

    return against(targets) if taught is None else (against(targets) + against(taught)) / 2


TRAINABLE = [label for label in PII_LABELS if label not in ZERO_SHOT]


def ask(record: dict[str, Any], rng: random.Random) -> list[str]:
    """The labels this text is asked for in one training example."""
    present = sorted({s["label"] for s in record["spans"]} - set(ZERO_SHOT))
    asked = [label for label in present if rng.random() < 0.9]
    absent = [label for label in TRAINABLE if label not in present]
    asked += rng.sample(absent, rng.randint(3, 16))
    rng.shuffle(asked)
    return asked


def describe(label: str, rng: random.Random, phrasings: bool = False) -> str:
    """The words `label` is asked for by: its description, else its name (a fifth of the time);
    with `phrasings`, a fifth of the time one of its other phrasings instead of the description."""
    if rng.random() >= 0.8:
        return label.replace("_", " ")
    if phrasings and rng.random() < 0.25:
        return rng.choice(PHRASINGS[label])
    return DESCRIPTIONS[label]


def examples(
    record: dict[str, Any],
    labels: list[str],
    descriptions: list[str],
    tokenizer: Tokenizer,
    cls: int,
    sep: int,
) -> list[tuple[Any, np.ndarray, np.ndarray]]:
    """(window, begin targets, inside targets) for each window of the text."""
    encoding = tokenizer.encode(record["text"], add_special_tokens=False)
    label_ids = [tokenizer.encode(d, add_special_tokens=False).ids[:12] for d in descriptions]
    out = []
    for token_range in text_windows(encoding):
        window = encode_window(label_ids, encoding, token_range, cls, sep)
        begin = np.zeros((len(window.offsets), len(labels)), dtype=np.float32)
        inside = np.zeros_like(begin)
        for j, label in enumerate(labels):
            for span in record["spans"]:
                if span["label"] != label:
                    continue
                first = True
                for t, (a, b) in enumerate(window.offsets):
                    if a >= span["start"] and b <= span["end"] and b > a:
                        inside[t, j] = 1.0
                        if first:
                            begin[t, j] = 1.0
                            first = False
        out.append((window, begin, inside))
    return out


def collate(batch: list[tuple[Any, np.ndarray, np.ndarray]]) -> dict[str, torch.Tensor]:
    width = max(len(w.ids) for w, _, _ in batch)
    labels = max(w.label_mask.shape[0] for w, _, _ in batch)
    n = len(batch)
    ids = torch.zeros((n, width), dtype=torch.long)
    types = torch.zeros_like(ids)
    attention = torch.zeros_like(ids)
    label_mask = torch.zeros((n, labels, width))
    targets = torch.zeros((n, width, labels, 2))
    known = torch.zeros((n, width, labels, 1))
    for i, (w, begin, inside) in enumerate(batch):
        k = w.label_mask.shape[0]
        ids[i, : len(w.ids)] = torch.tensor(w.ids)
        types[i, : len(w.ids)] = torch.tensor(w.types)
        attention[i, : len(w.ids)] = 1
        label_mask[i, :k, : len(w.ids)] = torch.from_numpy(w.label_mask)
        t = len(w.offsets)
        targets[i, w.text_start : w.text_start + t, :k, 0] = torch.from_numpy(begin)
        targets[i, w.text_start : w.text_start + t, :k, 1] = torch.from_numpy(inside)
        known[i, w.text_start : w.text_start + t, :k] = 1.0
    return {
        "input_ids": ids,
        "attention_mask": attention,
        "token_type_ids": types,
        "label_mask": label_mask,
        "targets": targets,
        "known": known,
    }


def apart(args: argparse.Namespace) -> dict[str, Any]:
    """How a labels-apart model reads its labels, for its recipe and pii.json; {} otherwise."""
    if not args.labels_apart:
        return {}
    return {"labels_apart": True, **({"labels_join": args.labels_join} if args.labels_join else {})}


def start_from(model: SpanModel, checkpoint: Path, base: Path, flag: str = "--init") -> dict[str, Any]:
    """Load an earlier run's weights from its checkpoint into `model`, which first keeps the
    blocks that run kept; returns that run's recipe.
    SystemExit as `_read_checkpoint` says; `flag` names the option the checkpoint came with in
    messages."""
    state = _read_checkpoint(checkpoint, base, flag)
    model.keep_recorded_blocks(state["recipe"])
    return _load_into(model, state, f"{flag}: the weights of {checkpoint}")


def _read_checkpoint(checkpoint: Path, base: Path, flag: str) -> dict[str, Any]:
    """An earlier run's checkpoint (its "recipe" and "model" weights). SystemExit if it does not
    exist or the run had another base: not the same directory, nor one with the same
    tokenizer.json (a copy), so its vocabulary and weights would not fit."""
    if not checkpoint.is_file():
        raise SystemExit(f"{flag}: {checkpoint} does not exist")
    state: dict[str, Any] = torch.load(checkpoint, map_location="cpu", weights_only=False)
    recorded = state["recipe"]["base"]
    if not _same_base(Path(recorded), base):
        raise SystemExit(f"{flag}: {checkpoint} was trained on {recorded}, not on {base}")
    return state


def _load_into(model: SpanModel, state: dict[str, Any], said: str) -> dict[str, Any]:
    """`state`'s weights in `model` (which has the blocks its run kept), said in the log;
    returns its recipe."""
    recipe: dict[str, Any] = state["recipe"]
    model.load_state_dict(state["model"])
    print(f"{said} ({_brief(recipe)})", flush=True)
    return recipe


def _teacher(args: argparse.Namespace, base: Path) -> tuple[SpanModel, dict[str, Any]]:
    """The `--teacher` model, frozen, in evaluation mode on the training device, and its recipe;
    it reads the labels as it was trained to (its recipe's labels_apart and labels_join)."""
    state = _read_checkpoint(args.teacher, base, "--teacher")
    teacher = SpanModel.as_recorded(base, state["recipe"])
    recipe = _load_into(teacher, state, f"--teacher: the weights of {args.teacher}")
    teacher.eval().requires_grad_(False)
    return teacher.to(args.device), recipe


def _brief(recipe: dict[str, Any]) -> dict[str, Any]:
    """A recipe without the runs it started from (its nested recipes), for the log: a model
    with a long chain of runs behind it would print the whole chain."""
    return {key: value for key, value in recipe.items() if not isinstance(value, dict)}


def _same_base(recorded: Path, base: Path) -> bool:
    if recorded.resolve() == base.resolve():
        return True
    tokenizers = [directory / "tokenizer.json" for directory in (recorded, base)]
    return all(t.is_file() for t in tokenizers) and tokenizers[0].read_bytes() == tokenizers[1].read_bytes()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_training_arguments(parser, PII)
    add_resume_argument(parser)
    parser.add_argument(
        "--labels-apart",
        action="store_true",
        help="the label prefix attends only to itself, so serving keeps it per label set",
    )
    parser.add_argument(
        "--labels-join",
        type=int,
        default=0,
        metavar="K",
        help="with --labels-apart: labels and text read each other in the last K layers (default 0)",
    )
    parser.add_argument(
        "--init",
        type=Path,
        metavar="CHECKPOINT",
        help="start from this earlier run's weights (its checkpoint.pt, same base) instead of the base's",
    )
    parser.add_argument(
        "--layers",
        metavar="BLOCKS",
        help='keep only these encoder blocks: "3" (the first three) or "0,2,5" (those), of the'
        " --init model's blocks with --init (default: all)",
    )
    parser.add_argument(
        "--teacher",
        type=Path,
        metavar="CHECKPOINT",
        help="distil this trained model (a checkpoint on the same base): half the loss is against its"
        " probabilities",
    )
    parser.add_argument(
        "--phrasings",
        action="store_true",
        help="ask for a label by one of its other phrasings (pii_templates.PHRASINGS) a fifth of the time",
    )
    parser.add_argument(
        "--keep-checkpoint",
        action="store_true",
        help="keep OUTPUT/checkpoint.pt after the export (for a later run's --init)",
    )
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    records = [json.loads(line) for line in args.data.read_text(encoding="utf-8").splitlines()]
    train_records, validation = split_validation(records, rng)
    base = args.base or base_model_dir()
    tokenizer = Tokenizer.from_file(str(base / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    if cls is None or sep is None:
        raise ValueError("the base tokenizer has no [CLS] or [SEP] token")
    try:
        model = SpanModel(base, labels_apart=args.labels_apart, labels_join=args.labels_join)
    except ValueError as error:
        parser.error(str(error))
    init_recipe = start_from(model, args.init, base) if args.init else None
    layers = kept_layers(args.layers)
    if layers is not None:
        try:
            model.keep_layers(layers)
        except ValueError as error:
            parser.error(f"--layers: {error}")
    # Which blocks the run keeps (the flag) and has (of the base's), for its recipe and pii.json.
    blocks = {**({"keep_layers": layers} if layers is not None else {}), **model.kept_blocks()}
    model.to(args.device)
    teacher, teacher_recipe = _teacher(args, base) if args.teacher else (None, None)

    steps = args.epochs * math.ceil(len(train_records) / args.batch_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    schedule = get_linear_schedule_with_warmup(optimizer, int(0.06 * steps), steps)
    training = Training(model, optimizer, schedule, rng)
    print(
        f"training on {len(train_records)} texts, validating on {len(validation)}, {steps} steps", flush=True
    )
    checkpoint = args.output / CHECKPOINT
    recipe = {
        "data": str(args.data),
        "base": str(base),
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "seed": args.seed,
        **apart(args),
        **({"phrasings": True} if args.phrasings else {}),
        **({"init": str(args.init)} if args.init else {}),
        **blocks,
        **({"teacher": str(args.teacher)} if args.teacher else {}),
    }
    step, first_epoch, started = 0, 0, time.monotonic()
    if args.resume:
        try:
            progress = load_checkpoint(checkpoint, recipe, training, args.device)
        except CannotResume as error:
            parser.error(str(error))
        train_records, step, first_epoch = progress["order"], progress["step"], progress["epoch"]
    args.output.mkdir(parents=True, exist_ok=True)
    for epoch in range(first_epoch, args.epochs):
        model.train()
        rng.shuffle(train_records)
        for start in range(0, len(train_records), args.batch_size):
            batch = []
            for record in train_records[start : start + args.batch_size]:
                labels = ask(record, rng)
                words = [describe(label, rng, args.phrasings) for label in labels]
                batch += examples(record, labels, words, tokenizer, cls, sep)
            tensors = {name: tensor.to(args.device) for name, tensor in collate(batch).items()}
            targets, known = tensors.pop("targets"), tensors.pop("known")
            logits = model(**tensors)
            taught = None
            if teacher is not None:
                with torch.no_grad():
                    taught = torch.sigmoid(teacher(**tensors))
            loss = span_loss(logits, targets, known, taught)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            step += 1
            if step % 20 == 0:
                print(
                    f"epoch {epoch + 1} step {step}/{steps} loss {loss.item():.4f} ({time.monotonic() - started:.0f} s)",
                    flush=True,
                )
        save_checkpoint(checkpoint, recipe, training, epoch=epoch + 1, step=step, order=train_records)
        print(f"epoch {epoch + 1} done; checkpoint {checkpoint}", flush=True)

    graphs = export(model, tokenizer, cls, sep, args.output)
    shutil.copy(base / "tokenizer.json", args.output / "tokenizer.json")
    config = base_config(base)
    meta = {
        "version": version_of(args.output, graphs),
        "weights": WEIGHTS,
        **apart(args),
        "base_model": config["shieldgate_source"],
        "layers": model.encoder.config.num_hidden_layers,
        "threshold": 0.5,
        "descriptions": DESCRIPTIONS,
        "zero_shot_labels": list(ZERO_SHOT),
        "training": {
            "data": str(args.data),
            "texts": len(train_records),
            "validation_texts": len(validation),
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "lr": args.lr,
            "seed": args.seed,
            **({"phrasings": True} if args.phrasings else {}),
            "device": torch.device(args.device).type,
            **(
                {"base": str(args.base), "base_command": config["shieldgate_command"]}
                if args.base and "shieldgate_command" in config
                else {}
            ),
            "messages": any(r["format"] == "message" for r in records),
            **({"init": str(args.init), "init_recipe": init_recipe} if args.init else {}),
            **blocks,
            **({"teacher": str(args.teacher), "teacher_recipe": teacher_recipe} if teacher else {}),
        },
    }
    (args.output / "pii.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    meta["threshold"], f1 = choose_threshold(args.output, validation)
    meta["validation_f1"] = f1
    (args.output / "pii.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    write_card(args.output)
    if not args.keep_checkpoint:
        checkpoint.unlink()  # the model is exported: nothing left to resume
    print(f"threshold {meta['threshold']} (validation span F1 {f1:.3f}); wrote {args.output}")


def version_of(directory: Path, files: list[str]) -> str:
    """A model's version: the first 12 hex digits of the SHA-256 of its exported files."""
    return hashlib.sha256(b"".join((directory / name).read_bytes() for name in files)).hexdigest()[:12]


def export(model: SpanModel, tokenizer: Tokenizer, cls: int, sep: int, output: Path) -> list[str]:
    """Write the model's int8 graph(s) to `output`, each checked against torch first, their
    weights in one file (gateway.training.onnx_share); returns the files' names (pii.onnx, or
    labels.onnx and text.onnx for a labels-apart model; then weights.bin)."""
    model.eval().cpu()
    model.encoder.set_attn_implementation("eager")  # written-out attention, as the guard's export
    record = {"text": "Mail Ana Lopez at ana@example.org", "spans": []}
    sample = collate(
        examples(record, ["email", "person"], ["email address", "person name"], tokenizer, cls, sep)
    )
    check = collate(
        examples(
            {"text": "Anna Schmidt lives at Hauptstr. 5, 10115 Berlin. " * 3, "spans": []},
            ["person", "city", "iban"],
            ["person name", "city", "iban"],
            tokenizer,
            cls,
            sep,
        )
    )
    if model.labels_apart:
        return _export_apart(model, sample, check, output)
    inputs = {k: sample[k] for k in ("input_ids", "attention_mask", "token_type_ids", "label_mask")}
    fp32 = output / "pii-fp32.onnx"
    to_onnx(
        model,
        inputs,
        fp32,
        {
            "input_ids": {0: "batch", 1: "sequence"},
            "attention_mask": {0: "batch", 1: "sequence"},
            "token_type_ids": {0: "batch", 1: "sequence"},
            "label_mask": {0: "batch", 1: "labels", 2: "sequence"},
            "logits": {0: "batch", 1: "sequence", 2: "labels"},
        },
    )
    feed = {k: check[k] for k in inputs}
    with torch.no_grad():
        expected = model(**feed).numpy()
    (got,) = fp32_session(fp32).run(["logits"], {k: v.numpy() for k, v in feed.items()})
    check_difference(float(np.abs(got - expected).max()))
    quantize(fp32, output / "pii.onnx")
    share_weights(output, ["pii.onnx"])
    return ["pii.onnx", WEIGHTS]


def _export_apart(
    model: SpanModel, sample: dict[str, torch.Tensor], check: dict[str, torch.Tensor], output: Path
) -> list[str]:
    """labels.onnx and text.onnx; their composition, fed as gateway.pii.model feeds it, is
    checked against the whole-window model."""
    parts = list(PREFIX_PARTS if model.labels_join else PREFIX_PARTS[:3])

    def split(batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The first window's label prefix ids, and every window's text rows."""
        start = int((batch["token_type_ids"][0] == 0).sum() - (batch["attention_mask"][0] == 0).sum())
        rows = {
            "input_ids": batch["input_ids"][:, start:],
            "attention_mask": batch["attention_mask"][:, start:],
        }
        return batch["input_ids"][:1, :start], rows

    def text_feed(batch: dict[str, torch.Tensor], kept: list[np.ndarray]) -> dict[str, np.ndarray]:
        """text.onnx's inputs for `batch`'s text rows after its prefix's LabelPart outputs `kept`."""
        ids, rows = split(batch)
        label_mask = batch["label_mask"][:1, :, : ids.shape[1]].numpy()
        return {
            **{k: v.numpy() for k, v in rows.items()},
            **kept_prefix(dict(zip(parts, kept, strict=True)), label_mask, model.labels_join),
        }

    labels_fp32, text_fp32 = output / "labels-fp32.onnx", output / "text-fp32.onnx"
    ids, _ = split(sample)
    with torch.no_grad():
        kept = [t.numpy() for t in LabelPart(model).eval()(ids)]
    to_onnx(
        LabelPart(model).eval(),  # export() restores the mode a module had, model's included
        {"input_ids": ids},
        labels_fp32,
        {"input_ids": {1: "prefix"}, **{part: {2: "prefix"} for part in parts}, "prefix": {1: "prefix"}},
        outputs=parts,
    )
    feed = text_feed(sample, kept)
    to_onnx(
        TextPart(model).eval(),
        {name: torch.from_numpy(value) for name, value in feed.items()},
        text_fp32,
        {
            "input_ids": {0: "batch", 1: "sequence"},
            "attention_mask": {0: "batch", 1: "sequence"},
            "label_mask": {1: "labels", 2: "rows"},
            "keys": {2: "prefix"},
            "values": {2: "prefix"},
            "prefix": {1: "rows"},
            **(
                {"joined_queries": {2: "rows"}, "joined_keys": {2: "prefix"}, "joined_values": {2: "prefix"}}
                if model.labels_join
                else {}
            ),
            "logits": {0: "batch", 1: "sequence", 2: "labels"},
        },
    )
    with torch.no_grad():
        expected = model(
            **{k: check[k] for k in ("input_ids", "attention_mask", "token_type_ids", "label_mask")}
        )
    ids, rows = split(check)
    kept = fp32_session(labels_fp32).run(parts, {"input_ids": ids.numpy()})
    (got,) = fp32_session(text_fp32).run(["logits"], text_feed(check, kept))
    start = ids.shape[1]
    real = rows["attention_mask"].numpy().astype(bool)
    check_difference(float(np.abs(got[real] - expected.numpy()[:, start:][real]).max()))
    quantize(labels_fp32, output / "labels.onnx")
    quantize(text_fp32, output / "text.onnx")
    share_weights(output, ["labels.onnx", "text.onnx"])  # their shared layers stored once
    return ["labels.onnx", "text.onnx", WEIGHTS]


if __name__ == "__main__":
    main()
