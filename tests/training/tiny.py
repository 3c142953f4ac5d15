"""A tiny random encoder on the shipped PII tokenizer's vocabulary, and that tokenizer, for
tests that train or export a PII model without the real base."""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import Tokenizer
from transformers import BertConfig, BertModel

from gateway.pii.model import bundled_pii_dir


def shipped_tokenizer() -> tuple[Tokenizer, int, int]:
    """The shipped PII model's tokenizer as training uses it (no truncation, no padding), with
    its [CLS] and [SEP] ids."""
    tokenizer = Tokenizer.from_file(str(bundled_pii_dir() / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer, tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")


def tiny_base(directory: Path, seed: int, layers: int = 2) -> Path:
    """Write a `layers`-layer, 32-wide BERT with random weights (seeded) into `directory`."""
    vocabulary = Tokenizer.from_file(str(bundled_pii_dir() / "tokenizer.json")).get_vocab_size()
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=vocabulary,
        hidden_size=32,
        num_hidden_layers=layers,
        num_attention_heads=4,
        intermediate_size=64,
    )
    BertModel(config, add_pooling_layer=False).save_pretrained(directory)
    return directory
