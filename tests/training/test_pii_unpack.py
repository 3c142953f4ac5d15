"""A shipped (int8) PII model unpacks into a checkpoint that `pii_train --init` starts from, and
exporting that checkpoint again gives back the same int8 graphs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import numpy_helper

from gateway.pii.model import PiiModel, bundled_pii_dir
from gateway.training.pii_train import SpanModel, export, start_from
from gateway.training.pii_unpack import main, unpack
from tests.training.tiny import shipped_tokenizer, tiny_base

SHIPPED_TOKENIZER = bundled_pii_dir() / "tokenizer.json"
# Tracing the one-graph model through transformers' mask code warns, and so does torch about its
# label indexing; the exporter checks the graph against torch.
pytestmark = [
    pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning"),
    pytest.mark.filterwarnings("ignore:Exporting aten..index operator:UserWarning"),
]
LAYOUTS = {"one-graph": (False, 0), "last-layer-joined": (True, 1)}


def _export(model: SpanModel, output: Path) -> list[str]:
    output.mkdir(exist_ok=True)
    graphs = export(model, *shipped_tokenizer(), output)
    shutil.copy(SHIPPED_TOKENIZER, output / "tokenizer.json")
    meta = {"version": "v1", "threshold": 0.5, "descriptions": {}, "weights": "weights.bin"}
    if model.labels_apart:
        meta |= {"labels_apart": True, "labels_join": model.labels_join}
    (output / "pii.json").write_text(json.dumps(meta), encoding="utf-8")
    return [g for g in graphs if g.endswith(".onnx")]


def _initializers(path: Path) -> dict[str, np.ndarray]:
    return {t.name: numpy_helper.to_array(t) for t in onnx.load(str(path)).graph.initializer}


def _assert_same_graphs(first_dir: Path, second_dir: Path, graphs: list[str]) -> None:
    """Each of `graphs` in the two directories holds the same initializers: int8 values equal,
    float ones within rounding."""
    for graph in graphs:
        first, second = _initializers(first_dir / graph), _initializers(second_dir / graph)
        assert set(first) == set(second)
        for name, value in first.items():
            if value.dtype in (np.int8, np.uint8):
                assert np.array_equal(value, second[name]), name
            else:
                np.testing.assert_allclose(second[name], value, rtol=1e-6, atol=1e-9, err_msg=name)


@pytest.fixture(scope="module", params=list(LAYOUTS), ids=list(LAYOUTS))
def shipped(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[SpanModel, Path, Path, list[str]]:
    """A small random model on the shipped tokenizer, its base and its exported directory."""
    base, output = tmp_path_factory.mktemp("base"), tmp_path_factory.mktemp("model")
    tiny_base(base, seed=11)
    shutil.copy(SHIPPED_TOKENIZER, base / "tokenizer.json")
    labels_apart, labels_join = LAYOUTS[request.param]
    model = SpanModel(base, labels_apart=labels_apart, labels_join=labels_join)
    with torch.no_grad():  # as after training: no two tensors alike, biases not zero
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.05)
    return model, base, output, _export(model, output)


def test_every_weight_comes_back_within_its_int8_step(
    shipped: tuple[SpanModel, Path, Path, list[str]], tmp_path: Path
) -> None:
    model, base, directory, _ = shipped
    recipe = unpack(directory, base, tmp_path / "checkpoint.pt")
    assert recipe["version"] == "v1"
    assert recipe["labels_apart"] is model.labels_apart
    unpacked = torch.load(tmp_path / "checkpoint.pt", weights_only=False)["model"]
    original = model.state_dict()
    assert set(unpacked) == set(original)
    for name, value in original.items():
        if value.dtype != torch.float32:
            continue
        # Matrices are int8 (embeddings uint8, over their range): within a step of the grid.
        step = float(value.max() - value.min()) / 127 if value.ndim == 2 else 0.0
        assert torch.allclose(unpacked[name], value, atol=step), name
    assert torch.equal(unpacked["bias"], original["bias"])  # vectors stay float


def test_exporting_the_unpacked_checkpoint_gives_the_same_int8_graphs(
    shipped: tuple[SpanModel, Path, Path, list[str]], tmp_path: Path
) -> None:
    model, base, directory, graphs = shipped
    unpack(directory, base, tmp_path / "checkpoint.pt")
    again = SpanModel(base, labels_apart=model.labels_apart, labels_join=model.labels_join)
    assert start_from(again, tmp_path / "checkpoint.pt", base)["version"] == "v1"
    assert _export(again, tmp_path / "again") == graphs
    _assert_same_graphs(directory, tmp_path / "again", graphs)


def test_a_base_with_another_vocabulary_is_refused(
    shipped: tuple[SpanModel, Path, Path, list[str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, base, directory, _ = shipped
    other = tmp_path / "other"
    shutil.copytree(base, other)
    (other / "tokenizer.json").write_text("{}", encoding="utf-8")
    with pytest.raises(SystemExit):
        main(["--model", str(directory), "--base", str(other), "--output", str(tmp_path / "c.pt")])
    assert "another tokenizer.json" in capsys.readouterr().err
    assert not (tmp_path / "c.pt").exists()
    with pytest.raises(SystemExit):
        main(["--model", str(tmp_path), "--base", str(base), "--output", str(tmp_path / "c.pt")])
    assert "holds no pii.json" in capsys.readouterr().err


def test_a_model_that_kept_some_blocks_unpacks_into_them(tmp_path: Path) -> None:
    base = tiny_base(tmp_path / "base", seed=12, layers=3)
    shutil.copy(SHIPPED_TOKENIZER, base / "tokenizer.json")
    model = SpanModel(base, labels_apart=True, labels_join=1)
    model.keep_layers([0, 2])
    graphs = _export(model, tmp_path / "model")
    meta = json.loads((tmp_path / "model" / "pii.json").read_text(encoding="utf-8"))
    meta["training"] = {"keep_layers": [0, 2], "base_layers": [0, 2]}
    (tmp_path / "model" / "pii.json").write_text(json.dumps(meta), encoding="utf-8")
    recipe = unpack(tmp_path / "model", base, tmp_path / "checkpoint.pt")
    assert recipe["base_layers"] == [0, 2]
    again = SpanModel(base, labels_apart=True, labels_join=1)
    start_from(again, tmp_path / "checkpoint.pt", base)
    assert again.encoder.config.num_hidden_layers == 2
    assert _export(again, tmp_path / "again") == graphs
    _assert_same_graphs(tmp_path / "model", tmp_path / "again", graphs)


def test_export_writes_a_model_directory_in_this_layout_that_finds_the_same_spans(
    shipped: tuple[SpanModel, Path, Path, list[str]], tmp_path: Path
) -> None:
    _, base, directory, graphs = shipped
    old = json.loads((directory / "pii.json").read_text(encoding="utf-8"))
    (tmp_path / "again").mkdir()
    (tmp_path / "again" / "EVAL.md").write_text("an evaluation of other graphs", encoding="utf-8")
    main(
        [
            *("--model", str(directory), "--base", str(base)),
            *("--output", str(tmp_path / "checkpoint.pt"), "--export", str(tmp_path / "again")),
        ]
    )
    meta = json.loads((tmp_path / "again" / "pii.json").read_text(encoding="utf-8"))
    assert meta["exported_from"] == "v1"
    assert len(meta["version"]) == 12  # the graphs' digest
    assert {k: v for k, v in meta.items() if k != "exported_from"} == old | {"version": meta["version"]}
    assert (tmp_path / "checkpoint.pt").is_file()
    assert not (tmp_path / "again" / "EVAL.md").exists()
    assert not (tmp_path / "again" / "MODEL_CARD.md").exists()  # the model had none
    _assert_same_graphs(directory, tmp_path / "again", graphs)  # already this layout: unchanged
    texts = ["Anna Schmidt lives in Berlin.", "Mail ana@example.org"]
    labels = {"person": "person name", "city": "city", "email": "email address"}
    assert PiiModel(tmp_path / "again").find(texts, labels) == PiiModel(directory).find(texts, labels)
