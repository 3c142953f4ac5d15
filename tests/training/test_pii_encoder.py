"""The PII encoder with labels read apart: the same as BERT when there is no prefix, the prefix
blind to the text but in the joined layers, and the kept prefix plus a text pass give what the
whole window gives."""

from __future__ import annotations

import pytest
import torch
from transformers import BertConfig, BertModel

from gateway.training.pii_encoder import encode, joined_prefix, prefix, text


def tiny_bert() -> BertModel:
    torch.manual_seed(3)
    config = BertConfig(
        vocab_size=50, hidden_size=16, num_hidden_layers=2, num_attention_heads=4, intermediate_size=32
    )
    return BertModel(config, add_pooling_layer=False).eval()


def test_without_a_prefix_it_is_the_base_model() -> None:
    bert = tiny_bert()
    ids = torch.tensor([[5, 6, 7, 8, 9], [10, 11, 12, 0, 0]])
    attention = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
    types = torch.ones_like(ids)
    with torch.no_grad():
        expected = bert(input_ids=ids, attention_mask=attention, token_type_ids=types).last_hidden_state
        got = encode(bert, ids, attention, types)
    assert torch.allclose(got[0], expected[0], atol=1e-5)
    assert torch.allclose(got[1, :3], expected[1, :3], atol=1e-5)


def test_the_prefix_does_not_see_the_text() -> None:
    bert = tiny_bert()
    types = torch.tensor([[0, 0, 0, 1, 1, 1]])
    attention = torch.ones_like(types)
    with torch.no_grad():
        one = encode(bert, torch.tensor([[1, 20, 2, 30, 31, 2]]), attention, types)
        other = encode(bert, torch.tensor([[1, 20, 2, 40, 41, 2]]), attention, types)
    assert torch.allclose(one[:, :3], other[:, :3], atol=1e-6)
    assert not torch.allclose(one[:, 3:], other[:, 3:], atol=1e-3)


def test_joined_layers_let_the_prefix_read_the_text() -> None:
    bert = tiny_bert()
    types = torch.tensor([[0, 0, 0, 1, 1, 1]])
    attention = torch.ones_like(types)
    with torch.no_grad():
        one = encode(bert, torch.tensor([[1, 20, 2, 30, 31, 2]]), attention, types, join=1)
        other = encode(bert, torch.tensor([[1, 20, 2, 40, 41, 2]]), attention, types, join=1)
    assert not torch.allclose(one[:, :3], other[:, :3], atol=1e-3)


LABEL_PREFIX = [1, 20, 21, 2, 22, 2]  # [CLS] two words [SEP] one word [SEP]
TEXTS = [[30, 31, 32, 33, 2], [34, 35, 2]]


def windows(
    label_prefix: list[int], texts: list[list[int]]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Whole windows (ids, attention, token types) and the texts' rows alone (ids, attention)."""
    width = max(len(t) for t in texts)
    whole = torch.zeros((2, len(label_prefix) + width), dtype=torch.long)
    whole_attention, whole_types = torch.zeros_like(whole), torch.zeros_like(whole)
    rows, rows_attention = (
        torch.zeros((2, width), dtype=torch.long),
        torch.zeros((2, width), dtype=torch.long),
    )
    for i, ids in enumerate(texts):
        n = len(label_prefix) + len(ids)
        whole[i, :n] = torch.tensor(label_prefix + ids)
        whole_attention[i, :n] = 1
        whole_types[i, len(label_prefix) : n] = 1
        rows[i, : len(ids)] = torch.tensor(ids)
        rows_attention[i, : len(ids)] = 1
    return whole, whole_attention, whole_types, rows, rows_attention


@pytest.mark.parametrize("join", [0, 1])
def test_a_kept_prefix_and_a_text_pass_give_the_whole_windows_states(join: int) -> None:
    bert = tiny_bert()
    label_prefix, texts = LABEL_PREFIX, TEXTS
    whole, whole_attention, whole_types, rows, rows_attention = windows(label_prefix, texts)
    with torch.no_grad():
        expected = encode(bert, whole, whole_attention, whole_types, join)
        prefix_hidden, keys, values = prefix(bert, torch.tensor([label_prefix]), join)
        prefix_states, got = text(bert, rows, rows_attention, keys, values, prefix_hidden, join)
    assert keys.shape == (2 - join, 1, 4, len(label_prefix), 4)
    start = len(label_prefix)
    for i, ids in enumerate(texts):
        assert torch.allclose(prefix_states.expand(2, -1, -1)[i], expected[i, :start], atol=1e-5)
        assert torch.allclose(got[i, : len(ids)], expected[i, start : start + len(ids)], atol=1e-5)


def test_kept_joined_projections_and_some_prefix_rows_give_those_rows_and_the_text() -> None:
    bert = tiny_bert()
    whole, whole_attention, whole_types, rows, rows_attention = windows(LABEL_PREFIX, TEXTS)
    wanted = [1, 2, 4]  # the descriptions' positions, not [CLS] or [SEP]
    with torch.no_grad():
        expected = encode(bert, whole, whole_attention, whole_types, join=1)
        prefix_hidden, keys, values = prefix(bert, torch.tensor([LABEL_PREFIX]), 1)
        queries, joined_keys, joined_values = joined_prefix(bert, prefix_hidden, 1)
        assert queries.shape == joined_keys.shape == (1, 4, len(LABEL_PREFIX), 4)
        for rows_kept in (list(range(len(LABEL_PREFIX))), wanted):
            prefix_states, got = text(
                bert,
                rows,
                rows_attention,
                keys,
                values,
                prefix_hidden[:, rows_kept],
                1,
                (queries[:, :, rows_kept], joined_keys, joined_values),
            )
            assert prefix_states.shape == (2, len(rows_kept), 16)
            start = len(LABEL_PREFIX)
            for i, ids in enumerate(TEXTS):
                assert torch.allclose(prefix_states[i], expected[i, rows_kept], atol=1e-5)
                assert torch.allclose(got[i, : len(ids)], expected[i, start : start + len(ids)], atol=1e-5)
