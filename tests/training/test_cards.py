"""The model cards say how a model was trained, from its metadata."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

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


def _card_of_guard(tmp_path: Path, layers: int, kept: list[int] | None, **training: str) -> str:
    """The card of a copy of the bundled guard trained with `layers`, `kept` and `training`."""
    directory = tmp_path / "guard"
    shutil.copytree(bundled_guard_dir(), directory)
    meta = json.loads((directory / "guard.json").read_text(encoding="utf-8"))
    meta.pop("response_apart", None)  # a one-graph guard: its card has no --response-apart
    meta["training"]["layers"] = layers
    meta["training"].pop("kept_layers", None)
    if kept is not None:
        meta["training"]["kept_layers"] = kept
    meta["training"] |= training
    (directory / "guard.json").write_text(json.dumps(meta), encoding="utf-8")
    return write_card(directory).read_text(encoding="utf-8")


def test_a_guard_without_kept_layers_kept_its_first_ones(tmp_path: Path) -> None:
    """Blocks not listed are the first ones; the default four need no --layers flag."""
    card = _card_of_guard(tmp_path, 6, None)
    assert "--output gateway/models/guard --layers 0,1,2,3,4,5`" in card
    assert "all 6 layers" in card
    card = _card_of_guard(tmp_path / "four", 4, None)
    assert "--output gateway/models/guard`" in card
    assert "its first 4 of 6 layers" in card


def test_a_guard_with_other_blocks_names_them(tmp_path: Path) -> None:
    card = _card_of_guard(tmp_path, 4, [0, 2, 4, 5])
    assert "--output gateway/models/guard --layers 0,2,4,5`" in card


def test_a_distilled_guard_names_its_teacher(tmp_path: Path) -> None:
    card = _card_of_guard(tmp_path, 4, None, teacher="build/guard-4", teacher_version="0123456789ab")
    assert "--output gateway/models/guard --teacher build/guard-4`" in card
    assert (
        "Half of each step's loss is against the probabilities guard 0123456789ab (`--teacher build/guard-4`)"
        " gives the same inputs." in card
    )


def test_a_response_apart_guard_says_how_it_reads_a_response(tmp_path: Path) -> None:
    directory = tmp_path / "guard"
    shutil.copytree(bundled_guard_dir(), directory)
    meta = json.loads((directory / "guard.json").read_text(encoding="utf-8"))
    meta.pop("response_apart", None)
    (directory / "guard.json").write_text(json.dumps(meta), encoding="utf-8")
    card = write_card(directory).read_text(encoding="utf-8")
    assert "in a single forward pass" in card
    assert "--response-apart" not in card
    (directory / "guard.json").write_text(json.dumps({**meta, "response_apart": True}), encoding="utf-8")
    card = write_card(directory).read_text(encoding="utf-8")
    assert "--output gateway/models/guard --response-apart`" in card
    assert "`response.onnx` for responses" in card
    assert "mean pooling (over a response's own tokens in a pair)" in card


def _bundled_pii(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    """A copy of the bundled PII model's directory, and its pii.json."""
    from gateway.pii.model import bundled_pii_dir

    directory = tmp_path / "pii"
    shutil.copytree(bundled_pii_dir(), directory)
    return directory, json.loads((directory / "pii.json").read_text(encoding="utf-8"))


def _pii_card(directory: Path, meta: dict[str, Any]) -> str:
    """The card written for `directory` with `meta` as its pii.json."""
    from gateway.training import pii_card

    (directory / "pii.json").write_text(json.dumps(meta), encoding="utf-8")
    return pii_card.write_card(directory).read_text(encoding="utf-8")


def _whole_window(meta: dict[str, Any]) -> dict[str, Any]:
    """A pii.json as a model that reads labels and text together, trained from the base, writes it."""
    training = {k: v for k, v in meta["training"].items() if k not in ("init", "init_recipe")}
    plain = {k: v for k, v in meta.items() if k not in ("labels_apart", "labels_join")}
    return {**plain, "training": training}


def test_a_pii_model_on_another_base_names_it_and_how_it_was_built(tmp_path: Path) -> None:
    from gateway.training import pii_card
    from gateway.training.e5_base import SOURCE

    directory, meta = _bundled_pii(tmp_path)
    meta = _whole_window(meta)
    meta["base_model"], meta["layers"] = SOURCE, 6
    meta["training"]["base"] = "build/base-e5"
    meta["training"]["base_command"] = "python -m gateway.training.e5_base --output build/base-e5"
    meta["training"]["device"] = "cuda"  # a GPU run's card also says what an epoch takes on CPU
    card = _pii_card(directory, meta)
    assert f"{SOURCE}. 6 layers" in card
    assert " --base build/base-e5`" in card
    assert "written by `python -m gateway.training.e5_base --output build/base-e5`" in card
    assert pii_card.CUT_VOCABULARY in card
    assert pii_card.ENGLISH_VOCABULARY not in card
    assert "about five to six minutes an epoch" in card
    assert "--labels-apart" not in card


def test_a_labels_apart_pii_model_says_so_and_how_to_train_it(tmp_path: Path) -> None:
    from gateway.training import pii_card

    directory, meta = _bundled_pii(tmp_path)
    meta = _whole_window(meta)
    meta["labels_apart"] = True
    card = _pii_card(directory, meta)
    assert " --labels-apart --base " in card
    assert pii_card.LABELS_APART in card
    assert "--labels-join" not in card


def test_a_pii_model_whose_labels_join_the_text_at_the_end_says_how_many_layers(tmp_path: Path) -> None:
    directory, meta = _bundled_pii(tmp_path)
    meta.update(labels_apart=True, labels_join=1)
    card = _pii_card(directory, meta)
    assert " --labels-apart --labels-join 1 --base " in card
    assert "Except in the last layer: there labels and text read each other" in card


def test_a_pii_model_trained_with_other_phrasings_says_so(tmp_path: Path) -> None:
    directory, meta = _bundled_pii(tmp_path)
    assert "--phrasings" not in _pii_card(directory, meta)
    meta["training"]["phrasings"] = True
    card = _pii_card(directory, meta)
    assert " --labels-apart --labels-join 1 --phrasings --base " in card
    assert "one of its other phrasings, `pii_templates.PHRASINGS`" in card


def test_a_pii_model_that_kept_some_blocks_names_them_and_the_flag(tmp_path: Path) -> None:
    directory, meta = _bundled_pii(tmp_path)
    meta["layers"] = 3
    meta["training"] |= {"keep_layers": [0, 2, 5], "base_layers": [0, 2, 5]}
    card = _pii_card(directory, meta)
    assert "3 layers (blocks 0, 2, 5 of the base's), hidden size 384" in card
    assert " --labels-apart --labels-join 1 --layers 0,2,5 --base " in card


def test_a_distilled_pii_model_names_its_teacher(tmp_path: Path) -> None:
    directory, meta = _bundled_pii(tmp_path)
    meta["training"] |= {
        "teacher": "build/pii-shipped/checkpoint.pt",
        "teacher_recipe": {"unpacked_from": "gateway/models/pii", "version": "0123456789ab"},
    }
    card = _pii_card(directory, meta)
    assert " --labels-apart --labels-join 1 --teacher build/pii-shipped/checkpoint.pt --base " in card
    assert (
        "Half of each step's loss is against the probabilities that model 0123456789ab, read back by"
        " pii_unpack (`--teacher build/pii-shipped/checkpoint.pt`) gives the same inputs." in card
    )


def test_a_pii_model_continued_from_a_shipped_one_gives_every_step_back_to_the_first(tmp_path: Path) -> None:
    directory, meta = _bundled_pii(tmp_path)
    base = {"base": "build/base-e5", "batch_size": 16, "lr": 1e-4, "seed": 7}
    first = {"data": "build/pii-first.jsonl", "epochs": 15, **base}
    second = {  # the earlier model's pii.json "training", itself started from a first run
        "data": "build/pii.jsonl",
        "epochs": 4,
        **base,
        "init": "build/pii-full/checkpoint.pt",
        "init_recipe": first,
    }
    meta.update(labels_apart=True, labels_join=1)
    meta["training"].update(
        epochs=4,
        phrasings=True,
        init="build/pii-shipped/checkpoint.pt",
        init_recipe={  # as pii_unpack records it
            "unpacked_from": "gateway/models/pii",
            "version": "0123456789ab",
            "base": "build/base-e5",
            "labels_apart": True,
            "labels_join": 1,
            "training": second,
        },
    )
    card = _pii_card(directory, meta)
    assert " --phrasings --base build/base-e5 --init build/pii-shipped/checkpoint.pt`" in card
    assert (
        "It starts from the weights of model 0123456789ab (`--init`), read back from its int8 graphs"
        " by `python -m gateway.training.pii_unpack --model gateway/models/pii --base build/base-e5"
        " --output build/pii-shipped/checkpoint.pt`."
    ) in card
    assert (
        "That model was trained by `python -m gateway.training.pii_train --data build/pii.jsonl --output"
        " gateway/models/pii --epochs 4 --labels-apart --labels-join 1 --base build/base-e5"
        " --init build/pii-full/checkpoint.pt`."
    ) in card
    assert (
        "That model starts from the weights of a first run (`--init`), the checkpoint kept by `python -m"
        " gateway.training.pii_train --data build/pii-first.jsonl --output build/pii-full"
        " --base build/base-e5 --keep-checkpoint`."
    ) in card


def test_a_pii_model_started_from_another_runs_weights_gives_both_commands(tmp_path: Path) -> None:
    directory, meta = _bundled_pii(tmp_path)
    meta.update(labels_apart=True, labels_join=1)
    first = {
        "data": "build/pii.jsonl",
        "base": "build/base-e5",
        "epochs": 15,
        "batch_size": 16,
        "lr": 1e-4,
        "seed": 7,
    }
    meta["training"].update(
        epochs=5,
        base="build/base-e5",
        base_command="python -m gateway.training.e5_base --output build/base-e5",
        init="build/pii-full/checkpoint.pt",
        init_recipe=first,
    )
    card = _pii_card(directory, meta)
    assert (
        "--epochs 5 --labels-apart --labels-join 1 --base build/base-e5 --init build/pii-full/checkpoint.pt`"
        in card
    )
    assert (
        "`python -m gateway.training.pii_train --data build/pii.jsonl --output build/pii-full"
        " --base build/base-e5 --keep-checkpoint`" in card
    )
    assert "written by `python -m gateway.training.e5_base --output build/base-e5`" in card


def test_each_step_of_a_two_step_pii_model_shows_its_own_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A checkpoint records its data's absolute path; the card shows it as typed in the repository."""
    directory, meta = _bundled_pii(tmp_path)
    monkeypatch.chdir(tmp_path)
    meta["training"]["data"] = "build/pii.jsonl"
    meta["training"]["init"] = "build/pii-full/checkpoint.pt"
    meta["training"]["init_recipe"] = {  # a first run's checkpoint, as pii_train records it
        "data": str(tmp_path / "build" / "pii-first.jsonl"),
        "base": "build/base-e5",
        "epochs": 15,
        "batch_size": 16,
        "lr": 1e-4,
        "seed": 7,
    }
    card = _pii_card(directory, meta)
    assert "`python -m gateway.training.pii_train --data build/pii.jsonl --output gateway/models/pii" in card
    assert (
        "`python -m gateway.training.pii_train --data build/pii-first.jsonl --output build/pii-full" in card
    )
    assert str(tmp_path) not in card
