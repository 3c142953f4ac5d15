"""The PII encoder with the labels read apart from the text, so their part of a pass can be kept.

A window, as gateway.pii.model writes it, is a label prefix (token type 0: [CLS], then each
label's description and a [SEP]) followed by the text's tokens and a [SEP] (type 1). Read apart,
a prefix position attends only to prefix positions and a text position to every position. The
prefix's hidden states, and so its keys and values at every layer, then depend on the labels
alone: `prefix` computes them once for a set of labels, and `text` reads a window's text against
them, a pass over the text's tokens instead of over labels and text (with the default policy's
labels, some 55 prefix tokens against 20 for a short message).

`join` layers at the end can read labels and text together (every position attends to every
position), so the labels' vectors see the text they are looked for in: the prefix is then kept
up to those layers, and `text` runs them over prefix and text. `join` 0 reads the labels apart
throughout. The first joined layer's queries, keys and values of the prefix still depend on the
labels alone: `joined_prefix` computes them once too, and `text` given them projects only the
text's rows there. With one joined layer, the last, `text` can then also be given only the
prefix rows whose states are wanted (a label's description, not [CLS] or [SEP]): the others'
keys and values are all the text's rows need of them.

The safety guard reads a response's prompt apart the same way (gateway.training.guard_train
`--response-apart`): the prompt is the prefix, the response the text, and `after` reads the
response against the prompt's kept keys and values.

`encode` is the same computation over whole windows, as training runs it; it gives what `prefix`
then `text` give (tests/training/test_pii_encoder.py).

Only BERT's self-attention is written out here (it must take kept keys and values); the
embeddings, the attention's output projection and the feed-forward part are the base model's own
modules.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import BertModel

__all__ = ["after", "encode", "joined_prefix", "prefix", "text"]


def _blocked(allowed: torch.Tensor) -> torch.Tensor:
    """An additive attention mask: 0 where `allowed`, the dtype's lowest value elsewhere."""
    zero = torch.zeros((), dtype=torch.float32)
    return torch.where(allowed, zero, torch.finfo(torch.float32).min)


def _projections(layer: Any, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A BERT layer's queries, keys and values of `hidden` (batch, positions, hidden), each
    (batch, heads, positions, head size)."""
    attention = layer.attention.self
    batch = hidden.shape[0]

    def by_head(x: torch.Tensor) -> torch.Tensor:
        return x.view(batch, -1, attention.num_attention_heads, attention.attention_head_size).transpose(1, 2)

    return by_head(attention.query(hidden)), by_head(attention.key(hidden)), by_head(attention.value(hidden))


def _layer(
    layer: Any,  # a BertLayer (torch types its submodules as plain modules)
    hidden: torch.Tensor,
    mask: torch.Tensor,
    kept_keys: torch.Tensor | None = None,
    kept_values: torch.Tensor | None = None,
    kept_rows: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One BERT layer over `hidden` (batch, positions, hidden), attending to kept keys and values
    (batch or 1, heads, kept positions, head size) before its own; `mask` is additive, (batch, 1,
    positions or 1, kept + positions). `kept_rows`, (queries (batch or 1, heads, rows, head size),
    hidden states (batch or 1, rows, hidden)), are rows before `hidden`'s whose projections are
    already done: they go through the rest of the layer with `hidden` and come first in its
    output. Returns the layer's output and the keys and values of `hidden`'s rows."""
    attention = layer.attention.self
    batch = hidden.shape[0]
    query, key, value = _projections(layer, hidden)
    keys, values = key, value
    if kept_keys is not None and kept_values is not None:
        keys = torch.cat([kept_keys.expand(batch, -1, -1, -1), key], dim=2)
        values = torch.cat([kept_values.expand(batch, -1, -1, -1), value], dim=2)
    if kept_rows is not None:
        query = torch.cat([kept_rows[0].expand(batch, -1, -1, -1), query], dim=2)
        hidden = torch.cat([kept_rows[1].expand(batch, -1, -1), hidden], dim=1)
    scores = torch.matmul(query, keys.transpose(-1, -2)) * attention.scaling + mask
    weights = attention.dropout(torch.softmax(scores, dim=-1))
    context = torch.matmul(weights, values).transpose(1, 2).reshape(batch, -1, attention.all_head_size)
    attended = layer.attention.output(context, hidden)
    return layer.output(layer.intermediate(attended), attended), key, value


def encode(
    bert: BertModel,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    token_type_ids: torch.Tensor,
    join: int = 0,
) -> torch.Tensor:
    """Hidden states of whole windows (batch, positions, hidden), the prefix read apart but in
    the last `join` layers."""
    hidden: torch.Tensor = bert.embeddings(input_ids=input_ids, token_type_ids=token_type_ids)
    is_text = token_type_ids.bool()
    real = attention_mask.bool()[:, None, :]
    # A text position sees every real position, a prefix position only the prefix.
    apart = _blocked(real & (is_text[:, :, None] | ~is_text[:, None, :]))[:, None]
    together = _blocked(real)[:, None]
    layers = bert.encoder.layer
    for index, layer in enumerate(layers):
        hidden, _, _ = _layer(layer, hidden, together if index >= len(layers) - join else apart)
    return hidden


def prefix(
    bert: BertModel, input_ids: torch.Tensor, join: int = 0, attention_mask: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A prefix's (batch, positions) hidden states (batch, positions, hidden) before the last
    `join` layers, and its keys and values at the layers before them, each (layers - join, batch,
    heads, positions, head size). Every position sees every other; with `attention_mask`, every
    real one (padded rows)."""
    hidden: torch.Tensor = bert.embeddings(input_ids=input_ids, token_type_ids=torch.zeros_like(input_ids))
    if attention_mask is None:
        mask = torch.zeros_like(input_ids, dtype=torch.float32)[:, None, None, :]  # all see all
    else:
        mask = _blocked(attention_mask.bool())[:, None, None, :]
    keys, values = [], []
    for layer in bert.encoder.layer[: len(bert.encoder.layer) - join]:
        hidden, key, value = _layer(layer, hidden, mask)
        keys.append(key)
        values.append(value)
    return hidden, torch.stack(keys), torch.stack(values)


def joined_prefix(
    bert: BertModel, prefix_hidden: torch.Tensor, join: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The first of the last `join` layers' queries, keys and values (batch, heads, positions,
    head size) of a prefix whose hidden states before it `prefix` gave: the labels' part of
    that layer's projections."""
    return _projections(bert.encoder.layer[len(bert.encoder.layer) - join], prefix_hidden)


def text(
    bert: BertModel,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    keys: torch.Tensor,
    values: torch.Tensor,
    prefix_hidden: torch.Tensor,
    join: int = 0,
    joined: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Text rows (batch, positions: the window's text tokens and [SEP], padded) read after the
    prefix that `prefix` gave (`keys`, `values`, `prefix_hidden`; the same `join`): the prefix's
    hidden states (batch or 1, prefix positions, hidden) and the text's (batch, positions,
    hidden) after the last layer.

    `joined`: the prefix's queries, keys and values in the first joined layer, which
    `joined_prefix` gives. With them and `join` 1, `prefix_hidden` and the queries may hold only
    some of the prefix's rows (the same ones, in the same order; the keys and values all of them):
    the prefix states returned are then those rows'."""
    layers = bert.encoder.layer
    hidden, mask = after(bert, input_ids, attention_mask, keys, values, len(layers) - join)
    if join == 0:
        return prefix_hidden, hidden
    first = layers[len(layers) - join]
    if joined is None:
        both = torch.cat([prefix_hidden.expand(input_ids.shape[0], -1, -1), hidden], dim=1)
        both, _, _ = _layer(first, both, mask)
    else:
        queries, joined_keys, joined_values = joined
        both, _, _ = _layer(first, hidden, mask, joined_keys, joined_values, (queries, prefix_hidden))
    for layer in layers[len(layers) - join + 1 :]:
        both, _, _ = _layer(layer, both, mask)
    return both[:, : prefix_hidden.shape[1]], both[:, prefix_hidden.shape[1] :]


def after(
    bert: BertModel,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    keys: torch.Tensor,
    values: torch.Tensor,
    depth: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows (batch, positions; token type 1, padded) read through the first `depth` layers after a
    kept prefix, whose keys and values (depth, batch or 1, heads, prefix positions, head size) they
    attend to before their own: the rows' hidden states, and the additive mask (batch, 1, 1,
    prefix + positions) that hides their padding."""
    # Sizes come from tensors, not Python ints, so an exported graph takes any prefix and text.
    prefix_positions = torch.ones_like(keys[0, 0, 0, :, 0], dtype=torch.long)
    ones = torch.ones_like(input_ids)
    position_ids = torch.cumsum(ones, dim=1) - 1 + prefix_positions.sum()
    hidden: torch.Tensor = bert.embeddings(
        input_ids=input_ids, token_type_ids=ones, position_ids=position_ids
    )
    seen_prefix = prefix_positions.bool()[None].expand(input_ids.shape[0], -1)
    seen = torch.cat([seen_prefix, attention_mask.bool()], dim=1)
    mask = _blocked(seen)[:, None, None, :]
    for index, layer in enumerate(bert.encoder.layer[:depth]):
        hidden, _, _ = _layer(layer, hidden, mask, keys[index], values[index])
    return hidden, mask
