"""What the trainers' exports share: a module to an fp32 ONNX graph, a session to check it
against torch, and the graph quantized to int8 (dynamic quantization, weights QInt8)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

__all__ = ["check_difference", "fp32_session", "quantize", "to_onnx"]

TOLERANCE = 1e-3  # largest difference allowed between torch and its fp32 graph


def to_onnx(
    module: nn.Module,
    inputs: dict[str, torch.Tensor],
    path: Path,
    dynamic_axes: dict[str, dict[int, str]],
    outputs: list[str] | None = None,
) -> None:
    """`module` run on `inputs` (named as the graph's inputs, in its forward's order), written to
    `path` as an opset-17 graph whose outputs are `outputs` (default: logits)."""
    with warnings.catch_warnings():
        # The TorchScript exporter is chosen on purpose; torch warns that it is no longer the
        # default, about functions it calls itself, and about how it traces (a tensor turned
        # into a Python value, advanced indexing: transformers' mask code does both). Each
        # trainer checks the graph against torch on other shapes than the traced ones instead.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            tuple(inputs.values()),
            str(path),
            input_names=list(inputs),
            output_names=outputs or ["logits"],
            dynamic_axes=dynamic_axes,
            opset_version=17,
            dynamo=False,
        )


def fp32_session(path: Path) -> Any:
    """An onnxruntime session on an exported graph, to compare it with torch."""
    import onnxruntime as ort

    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def check_difference(difference: float) -> None:
    """Print the largest difference between torch and the exported graph; RuntimeError past
    TOLERANCE."""
    print(f"exported graph matches torch within {difference:.2e} (fp32)")
    if difference > TOLERANCE:
        raise RuntimeError(f"the exported graph differs from the model by {difference}")


def quantize(fp32: Path, int8: Path) -> None:
    """`fp32` quantized to `int8` (weights int8, activations scaled per call); `fp32` removed."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8)
    fp32.unlink()
