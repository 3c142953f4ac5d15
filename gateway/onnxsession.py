"""One way to open the shipped ONNX models: on the CPU, with a chosen number of threads."""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort

__all__ = ["cpu_session"]


def cpu_session(path: Path, threads: int = 0) -> ort.InferenceSession:
    """An InferenceSession on `path`; `threads` onnxruntime threads per call (0: one per core)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
