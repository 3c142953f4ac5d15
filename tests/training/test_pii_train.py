"""A labels-apart PII model exported as two graphs reads texts as the torch model does, its labels
apart throughout or joining the text in the last layer."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
import torch

from gateway.pii.model import PiiModel, bundled_pii_dir, text_window
from gateway.training.pii_templates import DESCRIPTIONS
from gateway.training.pii_train import SpanModel, collate, examples, export
from tests.training.tiny import shipped_tokenizer, tiny_base

TEXT = "Anna Schmidt lives at Hauptstr. 5, 10115 Berlin, anna@example.org."
LABELS = {"person": "person name", "city": "city", "email": "email address"}


@pytest.fixture(scope="module", params=[0, 1], ids=["apart", "last-layer-joined"])
def exported(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[SpanModel, Path]:
    """A small random labels-apart model on the shipped tokenizer (labels joining the text in
    `request.param` last layers), and its exported directory."""
    base, output = tmp_path_factory.mktemp("base"), tmp_path_factory.mktemp("model")
    tokenizer_file = bundled_pii_dir() / "tokenizer.json"
    tiny_base(base, seed=5)
    model = SpanModel(base, labels_apart=True, labels_join=request.param)
    tokenizer, cls, sep = shipped_tokenizer()
    assert export(model, tokenizer, cls, sep, output) == ["labels.onnx", "text.onnx", "weights.bin"]
    shutil.copy(tokenizer_file, output / "tokenizer.json")
    meta = {
        "version": "test",
        "threshold": 0.5,
        "descriptions": DESCRIPTIONS,
        "labels_apart": True,
        "labels_join": request.param,
        "weights": "weights.bin",
    }
    (output / "pii.json").write_text(json.dumps(meta), encoding="utf-8")
    return model, output


def test_the_export_writes_two_int8_graphs_and_no_whole_window_graph(
    exported: tuple[SpanModel, Path],
) -> None:
    _, directory = exported
    assert sorted(p.name for p in directory.glob("*.onnx")) == ["labels.onnx", "text.onnx"]


def test_a_text_pass_against_the_kept_prefix_scores_as_the_whole_window(
    exported: tuple[SpanModel, Path],
) -> None:
    model, directory = exported
    pii = PiiModel(directory)
    label_ids = [pii._label_ids(description) for description in LABELS.values()]
    encoding = pii.tokenizer.encode(TEXT, add_special_tokens=False)
    n = len(encoding.ids)
    begin, inside = pii._run_apart([text_window(encoding, (0, n), pii.sep)], label_ids)

    batch = collate(
        examples(
            {"text": TEXT, "spans": []}, list(LABELS), list(LABELS.values()), pii.tokenizer, pii.cls, pii.sep
        )
    )
    start = int((batch["token_type_ids"][0] == 0).sum())
    with torch.no_grad():
        feed = {k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids", "label_mask")}
        expected = torch.sigmoid(model(**feed))[0, start : start + n].numpy()
    assert begin.shape[1:] == (n + 1, len(LABELS))  # the text's tokens and its [SEP]
    # int8 against fp32: within 0.03 on a CPU with VNNI (int8 dot products), 0.042 on one with
    # AVX2 only, where onnxruntime's int8 kernel sums pairs of products in saturating 16 bits.
    assert np.abs(begin[0, :n] - expected[..., 0]).max() < 0.05
    assert np.abs(inside[0, :n] - expected[..., 1]).max() < 0.05


def test_the_prefix_is_computed_once_per_label_set(exported: tuple[SpanModel, Path]) -> None:
    _, directory = exported
    pii = PiiModel(directory)
    first = pii.find([TEXT, "Call Bob in Lyon."], LABELS)
    assert pii.find([TEXT, "Call Bob in Lyon."], LABELS) == first
    assert len(pii._prefixes) == 1
    pii.find([TEXT], {"city": "city"})
    assert len(pii._prefixes) == 2


def test_with_one_joined_layer_only_the_rows_that_describe_a_label_are_kept(
    exported: tuple[SpanModel, Path],
) -> None:
    model, directory = exported
    pii = PiiModel(directory)
    label_ids = [pii._label_ids(description) for description in LABELS.values()]
    kept = pii._prefix(label_ids)
    described = sum(len(ids) for ids in label_ids)
    prefix = 1 + described + len(label_ids)  # [CLS], then each description and its [SEP]
    rows = described if model.labels_join == 1 else prefix
    assert kept["keys"].shape[2] == prefix
    assert kept["prefix"].shape[1] == kept["label_mask"].shape[2] == rows
    assert np.allclose(kept["label_mask"].sum(axis=2), 1.0)  # each label's mean, over its own rows
    if model.labels_join:
        assert kept["joined_queries"].shape[2] == rows
        assert kept["joined_keys"].shape[2] == kept["joined_values"].shape[2] == prefix


def test_a_labels_graph_of_another_layout_is_refused_with_the_way_to_export_it_again(
    exported: tuple[SpanModel, Path], tmp_path: Path
) -> None:
    _, directory = exported
    shutil.copytree(directory, tmp_path / "model")
    graph = onnx.load(str(tmp_path / "model" / "labels.onnx"), load_external_data=False)
    graph.graph.output.pop()  # as an older export, without the joined layer's projections
    onnx.save(graph, str(tmp_path / "model" / "labels.onnx"))
    with pytest.raises(
        ValueError, match=r"older layout \(export them again: gateway\.training\.pii_unpack --export\)"
    ):
        PiiModel(tmp_path / "model")


def test_joined_layers_need_a_labels_apart_model_and_fewer_than_its_layers(
    exported: tuple[SpanModel, Path], tmp_path: Path
) -> None:
    model, _ = exported
    model.encoder.save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="labels-apart"):
        SpanModel(tmp_path, labels_join=1)
    with pytest.raises(ValueError, match=r"0 to 1 \(the base has 2 layers\)"):
        SpanModel(tmp_path, labels_apart=True, labels_join=2)


def _save_run(
    model: SpanModel, recipe: dict[str, Any], checkpoint: Path, epoch: int = 1, step: int = 1
) -> None:
    """`model` saved as a training run's checkpoint with `recipe`, as pii_train writes one."""
    import random

    from gateway.training.checkpoint import Training, save_checkpoint

    optimizer = torch.optim.AdamW(model.parameters())
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
    save_checkpoint(
        checkpoint, recipe, Training(model, optimizer, schedule, random.Random(1)), epoch=epoch, step=step
    )


def test_a_run_can_start_from_an_earlier_runs_checkpoint_on_the_same_base(
    exported: tuple[SpanModel, Path], tmp_path: Path
) -> None:
    from gateway.training.pii_train import start_from

    model, _ = exported
    base = tmp_path / "base"
    model.encoder.save_pretrained(base)
    earlier = SpanModel(base)
    with torch.no_grad():
        earlier.bias.fill_(0.25)
    recipe = {"data": "d.jsonl", "base": str(base), "epochs": 15}
    checkpoint = tmp_path / "run" / "checkpoint.pt"
    _save_run(earlier, recipe, checkpoint, epoch=15, step=9)

    adapted = SpanModel(base, labels_apart=True, labels_join=1)
    assert start_from(adapted, checkpoint, base) == recipe
    assert torch.equal(adapted.bias, earlier.bias)
    with pytest.raises(SystemExit, match="was trained on"):
        start_from(SpanModel(base), checkpoint, tmp_path)
    shutil.copy(bundled_pii_dir() / "tokenizer.json", base / "tokenizer.json")
    copy = tmp_path / "copy"
    shutil.copytree(base, copy)  # the same base elsewhere
    assert start_from(SpanModel(copy), checkpoint, copy) == recipe
    with pytest.raises(SystemExit, match="does not exist"):
        start_from(SpanModel(base), tmp_path / "none.pt", base)


def test_kept_layers_are_the_chosen_blocks_and_a_run_started_from_them_keeps_them(tmp_path: Path) -> None:
    from gateway.training.pii_train import start_from

    base = tiny_base(tmp_path / "base", seed=3, layers=3)
    model = SpanModel(base, labels_apart=True, labels_join=1)
    blocks = list(model.encoder.encoder.layer)
    with pytest.raises(ValueError, match="needs more than 1 layers"):
        model.keep_layers([2])  # the joined layer would be the only one
    with pytest.raises(ValueError, match="indices of the encoder's 3 blocks"):
        model.keep_layers([0, 3])
    model.keep_layers([0, 2])
    assert list(model.encoder.encoder.layer) == [blocks[0], blocks[2]]
    assert model.encoder.config.num_hidden_layers == 2
    assert model.base_layers == [0, 2]
    whole = SpanModel(base)  # labels read with the text: any one block will do
    whole.keep_layers([1, 2])
    whole.keep_layers([1])  # indices into the blocks it has now: the base's block 2
    assert whole.base_layers == [2]

    kept = SpanModel(base, labels_apart=True, labels_join=1)
    kept.keep_layers([0, 2])
    checkpoint = tmp_path / "run" / "checkpoint.pt"
    _save_run(kept, {"data": "d.jsonl", "base": str(base), "base_layers": [0, 2]}, checkpoint)
    again = SpanModel(base, labels_apart=True, labels_join=1)
    assert again.kept_blocks() == {}  # all the base's blocks: nothing for a recipe to say
    start_from(again, checkpoint, base)
    assert again.base_layers == [0, 2]
    assert again.kept_blocks() == {"base_layers": [0, 2]}  # kept by the --init model
    for name, value in kept.state_dict().items():
        assert torch.equal(again.state_dict()[name], value), name

    # Laid out as a record says (a teacher's recipe, pii.json's entries read back by pii_unpack).
    recorded = SpanModel.as_recorded(base, {"labels_apart": True, "labels_join": 1, "base_layers": [0, 2]})
    assert (recorded.labels_apart, recorded.labels_join, recorded.base_layers) == (True, 1, [0, 2])
    assert recorded.state_dict().keys() == kept.state_dict().keys()
    plain = SpanModel.as_recorded(base, {"data": "d.jsonl"})
    assert (plain.labels_apart, plain.labels_join, plain.base_layers) == (False, 0, [0, 1, 2])


def test_the_loss_weighs_span_pairs_five_times_and_a_teacher_takes_half_of_it() -> None:
    from gateway.training.pii_train import span_loss

    logits = torch.tensor([[2.0, -1.0, 0.5]])
    targets = torch.tensor([[1.0, 0.0, 0.0]])
    known = torch.tensor([[1.0, 1.0, 0.0]])  # the third pair was not asked for
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, targets, reduction="none")[0]
    assert span_loss(logits, targets, known).item() == pytest.approx((5 * bce[0] + bce[1]).item() / 2)
    assert span_loss(logits, targets, known, taught=targets).item() == pytest.approx(
        span_loss(logits, targets, known).item()
    )
    taught = torch.tensor([[0.6, 0.3, 0.9]])
    soft = torch.nn.functional.binary_cross_entropy_with_logits(logits, taught, reduction="none")[0]
    expected = ((5 * bce[0] + bce[1]) / 2 + (5 * soft[0] + soft[1]) / 2) / 2
    assert span_loss(logits, targets, known, taught).item() == pytest.approx(expected.item())


def test_a_teacher_is_the_checkpoints_model_frozen(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import argparse

    from gateway.training.pii_train import _teacher

    base = tiny_base(tmp_path / "base", seed=4, layers=3)
    trained = SpanModel(base, labels_apart=True, labels_join=1)
    trained.keep_layers([0, 2])
    with torch.no_grad():
        trained.bias.fill_(0.5)
    checkpoint = tmp_path / "teacher.pt"
    recipe = {
        "data": "d.jsonl",
        "base": str(base),
        "labels_apart": True,
        "labels_join": 1,
        "base_layers": [0, 2],
        "init_recipe": {"data": "first.jsonl", "epochs": 15},
    }
    _save_run(trained, recipe, checkpoint)
    # The teacher reads the labels as it was trained to, whatever the model being trained does.
    args = argparse.Namespace(labels_apart=False, labels_join=0, teacher=checkpoint, device="cpu")
    teacher, taught_recipe = _teacher(args, base)
    assert taught_recipe == recipe
    # The log names the teacher's own run, not the runs it started from.
    logged = capsys.readouterr().out
    assert f"--teacher: the weights of {checkpoint}" in logged
    assert "'base_layers': [0, 2]" in logged
    assert "first.jsonl" not in logged
    assert (teacher.labels_apart, teacher.labels_join, teacher.base_layers) == (True, 1, [0, 2])
    assert not teacher.training
    assert not any(parameter.requires_grad for parameter in teacher.parameters())
    assert torch.equal(teacher.bias, trained.bias)
    with pytest.raises(SystemExit, match=r"--teacher: .* does not exist"):
        _teacher(argparse.Namespace(teacher=tmp_path / "none.pt", device="cpu"), base)


def test_phrasings_ask_for_a_trained_label_in_other_words_and_leave_the_default_draws_alone() -> None:
    import random

    from gateway.training.pii_data import ZERO_SHOT
    from gateway.training.pii_templates import PHRASINGS
    from gateway.training.pii_train import TRAINABLE, describe

    assert set(PHRASINGS) == set(TRAINABLE)  # every trained label, no zero-shot one
    zero_shot_words = {"passport", "routing", "recovery"}
    assert zero_shot_words <= {w for label in ZERO_SHOT for w in DESCRIPTIONS[label].split()}
    assert not [p for ps in PHRASINGS.values() for p in ps if zero_shot_words & set(p.lower().split())]

    plain = [describe("phone_number", random.Random(seed)) for seed in range(300)]
    assert set(plain) == {"phone number"}  # its description and its name are the same words
    phrased = [describe("phone_number", random.Random(seed), phrasings=True) for seed in range(300)]
    assert set(phrased) <= {"phone number", *PHRASINGS["phone_number"]}
    assert 25 < sum(w != "phone number" for w in phrased) < 95  # about a fifth of 300
    # Without phrasings a label takes one draw, as before, so a run's later draws do not move.
    described, counted = random.Random(9), random.Random(9)
    for label in TRAINABLE:
        describe(label, described)
        counted.random()
    assert described.random() == counted.random()
