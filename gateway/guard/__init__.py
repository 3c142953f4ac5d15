"""The safety guard: an int8 ONNX encoder scoring safety, harm, attacks and refusal in one pass."""

from gateway.guard.batcher import MicroBatcher
from gateway.guard.labels import HEADS, OUTPUTS
from gateway.guard.model import GuardInput, GuardModel, bundled_guard_dir, load_guard
from gateway.guard.service import Guard

__all__ = [
    "HEADS",
    "OUTPUTS",
    "Guard",
    "GuardInput",
    "GuardModel",
    "MicroBatcher",
    "bundled_guard_dir",
    "load_guard",
]
