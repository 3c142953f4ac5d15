"""Resumable training runs: the trainers' state at the end of every epoch, and `--resume`.

A checkpoint holds the model, optimizer and schedule, the epoch and step reached, the Python
and torch random generators, whatever else the trainer passes (the PII trainer's shuffled
text order) and the recipe it was written with; a resumed run refuses a checkpoint written
with another recipe. It is written beside and then renamed, so a run stopped while saving
keeps the previous epoch's checkpoint whole. The trainers delete it once the model is exported.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path
from typing import Any, NamedTuple

import torch

__all__ = [
    "CHECKPOINT",
    "CannotResume",
    "Training",
    "add_resume_argument",
    "load_checkpoint",
    "save_checkpoint",
]

CHECKPOINT = "checkpoint.pt"


class CannotResume(ValueError):
    """No checkpoint, or one written with another recipe."""


def add_resume_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--resume",
        action="store_true",
        help=f"continue from OUTPUT/{CHECKPOINT}, written at the end of every epoch (same options)",
    )


class Training(NamedTuple):
    """The objects a checkpoint saves and restores."""

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    schedule: Any  # a torch learning-rate scheduler
    rng: random.Random


def save_checkpoint(path: Path, recipe: dict[str, Any], training: Training, **progress: Any) -> None:
    """Save the run's state; `progress` holds at least `epoch` (finished) and `step`."""
    model, optimizer, schedule, rng = training
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    torch.save(
        {
            "recipe": recipe,
            "progress": progress,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "schedule": schedule.state_dict(),
            "rng": rng.getstate(),
            "torch_rng": torch.get_rng_state(),
        },
        partial,
    )
    partial.replace(path)


def load_checkpoint(path: Path, recipe: dict[str, Any], training: Training, device: str) -> dict[str, Any]:
    """Restore the state `save_checkpoint` wrote into `training` and return its `progress`;
    CannotResume if there is none or it was written with another recipe."""
    model, optimizer, schedule, rng = training
    if not path.exists():
        raise CannotResume(f"--resume: {path} does not exist")
    state = torch.load(path, map_location=device, weights_only=False)
    if state["recipe"] != recipe:
        raise CannotResume(f"--resume: {path} was written with {state['recipe']}, not {recipe}")
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    schedule.load_state_dict(state["schedule"])
    rng.setstate(state["rng"])
    torch.set_rng_state(state["torch_rng"].cpu())  # a CPU generator, whatever the device
    progress: dict[str, Any] = state["progress"]
    print(f"resumed after epoch {progress['epoch']} (step {progress['step']}) from {path}", flush=True)
    return progress
