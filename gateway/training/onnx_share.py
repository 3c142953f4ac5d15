"""One weights file for graphs that hold the same tensors.

A labels-apart PII model is two graphs (labels.onnx, text.onnx) that both carry the embeddings
and the layers they share, byte for byte. `share_weights` moves every large initializer of the
graphs into one file beside them, each distinct tensor once, and leaves each graph a reference
(ONNX external data: file, offset, length), which onnxruntime follows when it loads a graph.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import onnx

__all__ = ["WEIGHTS", "share_weights"]

WEIGHTS = "weights.bin"
ALIGN = 4096  # each tensor starts on a page, so that it can be mapped in place
SMALLEST = 1024  # bytes: smaller tensors (scales, shapes) stay inside their graph


def share_weights(directory: Path, graphs: Sequence[str], store: str = WEIGHTS) -> int:
    """Rewrite `graphs` (file names in `directory`) to read their initializers of SMALLEST
    bytes or more from `store`, written once per distinct tensor; returns `store`'s size."""
    offsets: dict[str, tuple[int, int]] = {}  # sha256 of a tensor's bytes -> (offset, length)
    with (directory / store).open("wb") as out:
        for name in graphs:
            model = onnx.load(str(directory / name))
            for tensor in model.graph.initializer:
                data = tensor.raw_data
                if len(data) < SMALLEST:
                    continue
                digest = hashlib.sha256(data).hexdigest()
                if digest not in offsets:
                    out.write(b"\0" * (-out.tell() % ALIGN))
                    offsets[digest] = (out.tell(), len(data))
                    out.write(data)
                offset, length = offsets[digest]
                tensor.ClearField("raw_data")
                tensor.data_location = onnx.TensorProto.EXTERNAL
                del tensor.external_data[:]
                for key, value in (("location", store), ("offset", str(offset)), ("length", str(length))):
                    entry = tensor.external_data.add()
                    entry.key, entry.value = key, value
            (directory / name).write_bytes(model.SerializeToString())
        return out.tell()
