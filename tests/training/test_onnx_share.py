"""One weights file for graphs that hold the same tensors: each stored once, page aligned, and
the graphs compute what they did."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from gateway.training.onnx_share import ALIGN, share_weights


def _graph(path: Path, weights: dict[str, np.ndarray]) -> None:
    """y = x @ W1 + x @ W2 + ... for the given weights; a small bias stays inside the graph."""
    nodes, products = [], []
    for name in weights:
        nodes.append(helper.make_node("MatMul", ["x", name], [f"{name}_out"]))
        products.append(f"{name}_out")
    nodes.append(helper.make_node("Sum", [*products, "bias"], ["y"]))
    initializers = [numpy_helper.from_array(w, name) for name, w in weights.items()]
    initializers.append(numpy_helper.from_array(np.ones(32, np.float32), "bias"))
    graph = helper.make_graph(
        nodes,
        path.stem,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 32])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 32])],
        initializers,
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))


def _run(path: Path, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (y,) = session.run(["y"], {"x": x})
    return np.asarray(y)


def test_a_tensor_both_graphs_hold_is_stored_once_and_the_graphs_compute_the_same(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    shared, own = (rng.standard_normal((32, 32)).astype(np.float32) for _ in range(2))
    _graph(tmp_path / "a.onnx", {"w": shared})
    _graph(tmp_path / "b.onnx", {"same_bytes_other_name": shared, "v": own})
    x = rng.standard_normal((1, 32)).astype(np.float32)
    before = [_run(tmp_path / name, x) for name in ("a.onnx", "b.onnx")]

    size = share_weights(tmp_path, ["a.onnx", "b.onnx"])

    assert size == (tmp_path / "weights.bin").stat().st_size
    assert size == ALIGN + shared.nbytes  # two distinct tensors, the second on the next page
    for name, expected in zip(("a.onnx", "b.onnx"), before, strict=True):
        np.testing.assert_array_equal(_run(tmp_path / name, x), expected)
        model = onnx.load(str(tmp_path / name), load_external_data=False)
        stored = {t.name: {e.key: e.value for e in t.external_data} for t in model.graph.initializer}
        assert stored["bias"] == {}  # small: kept in the graph
        big = [entry for key, entry in stored.items() if key != "bias"]
        assert all(entry["location"] == "weights.bin" for entry in big)
        assert all(int(entry["offset"]) % ALIGN == 0 for entry in big)
    b = onnx.load(str(tmp_path / "b.onnx"), load_external_data=False)
    offsets = {
        t.name: {e.key: e.value for e in t.external_data}["offset"]
        for t in b.graph.initializer
        if t.name != "bias"
    }
    assert offsets == {"same_bytes_other_name": "0", "v": str(ALIGN)}
