"""The model cards say how a model was trained, from its metadata."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from gateway.guard.model import bundled_guard_dir
from gateway.training.guard_card import trained_on, write_card


def test_a_gpu_model_names_its_device_and_a_cpu_model_none() -> None:
    assert trained_on({}, gpu_time="a minute", cpu_epoch="ten minutes") == (
        "",
        "Trained on CPU (the default; `--device cuda` trains on a GPU).",
    )
    flag, sentence = trained_on({"device": "cuda"}, gpu_time="a minute", cpu_epoch="ten minutes")
    assert flag == " --device cuda"
    assert "about a minute" in sentence
    assert "about ten minutes an epoch" in sentence


def test_a_cut_guard_without_kept_layers_kept_its_first_ones(tmp_path: Path) -> None:
    directory = tmp_path / "guard"
    shutil.copytree(bundled_guard_dir(), directory)
    meta = json.loads((directory / "guard.json").read_text(encoding="utf-8"))
    meta["training"]["layers"] = 4
    meta["training"].pop("kept_layers", None)
    (directory / "guard.json").write_text(json.dumps(meta), encoding="utf-8")
    card = write_card(directory).read_text(encoding="utf-8")
    assert "--output gateway/models/guard --layers 0,1,2,3`" in card
    assert "its first 4 of 6 layers" in card
