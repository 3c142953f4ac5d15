"""The shipped recipes are the trainers' defaults; a card names only the flags that differ."""

from __future__ import annotations

import argparse
import json

from gateway.guard.model import bundled_guard_dir
from gateway.pii.model import bundled_pii_dir
from gateway.training.recipes import GUARD, GUARD_LAYERS, PII, Recipe, add_training_arguments


def test_flags_name_only_what_differs_from_the_recipe() -> None:
    recipe = Recipe(epochs=3, lr=1e-4, batch_size=32, seed=13)
    assert recipe.flags({"epochs": 3, "lr": 1e-4, "batch_size": 32, "seed": 13, "layers": 6}) == ""
    assert recipe.flags({"epochs": 8, "lr": 2e-4, "batch_size": 32, "seed": 13}) == " --epochs 8 --lr 0.0002"
    assert recipe.flags({"batch_size": 16}) == " --batch-size 16"  # missing keys are not flags


def test_the_shipped_models_were_trained_with_the_default_recipes() -> None:
    guard = json.loads((bundled_guard_dir() / "guard.json").read_text(encoding="utf-8"))["training"]
    pii = json.loads((bundled_pii_dir() / "pii.json").read_text(encoding="utf-8"))["training"]
    assert GUARD.flags(guard) == ""
    assert guard["kept_layers"] == list(range(GUARD_LAYERS))
    # The PII model is adapted (4 epochs, labels apart) from a run of the default recipe.
    assert PII.flags(pii["init_recipe"]) == ""
    assert PII.flags(pii) == " --epochs 4"


def test_the_trainers_take_the_recipe_as_their_defaults() -> None:
    parser = argparse.ArgumentParser()
    add_training_arguments(parser, PII)
    args = parser.parse_args(["--data", "d.jsonl", "--output", "out"])
    assert (args.epochs, args.lr, args.batch_size, args.seed) == (
        PII.epochs,
        PII.lr,
        PII.batch_size,
        PII.seed,
    )
