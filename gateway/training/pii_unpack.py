"""A training checkpoint from a shipped PII model: its int8 weights dequantized, for `--init`.

    python -m gateway.training.pii_unpack --model gateway/models/pii --base build/base-e5 \
        --output build/pii-shipped/checkpoint.pt

A shipped model keeps only its int8 graphs, so a later training run would otherwise start over
from the base. This reads every weight back from the graphs (a quantized matrix as its int8
values less their zero point, times its scale; the rest as stored) into the torch model
`pii_train` builds on `--base`, and writes a checkpoint that `pii_train --init` starts from.
The base gives the architecture and must have the model's tokenizer.json (its vocabulary).

Where each weight belongs is read from the graph, not from the exporter's generated names:
a quantized matrix (`MatMulInteger`) is the weight of the layer whose bias the `Add` after it
adds (`model.<layer>.bias`), stored transposed; every other initializer keeps its torch name.
Exporting the checkpoint again quantizes each matrix to the same int8 values (a matrix that
was on an int8 grid stays on it), so nothing is lost on the way back.

With `--export DIR`, the model is also exported again, from those weights, into DIR in this
gateway's graph layout (for a model whose graphs an older gateway wrote):

    python -m gateway.training.pii_unpack --model build/pii-old --base build/base-e5 \
        --output build/pii-old/checkpoint.pt --export gateway/models/pii

DIR gets the graphs, their weights, the tokenizer, pii.json (the new graphs' version, as
`exported_from` the old one's, the rest as it was) and, when the model had one, its card
written again. The scores can move a
little (an int8 pass scales its activations over the rows it computes, and the layout may compute
others), so DIR gets no EVAL.md: evaluate it again (gateway.training.pii_eval).
"""

from __future__ import annotations

import argparse
import json
import shutil
from collections import defaultdict
from collections.abc import Collection
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from tokenizers import Tokenizer

from gateway.pii.model import check_pii_dir, graph_files
from gateway.training.pii_card import write_card
from gateway.training.pii_train import SpanModel, export, version_of

__all__ = ["export_again", "main", "unpack", "weights_of"]

PREFIX = "model."  # labels.onnx and text.onnx wrap the SpanModel as `model`; pii.onnx is it
QUANTIZED = "_quantized"
PASS_THROUGH = {"Cast", "Mul"}  # between a MatMulInteger and the Add of its bias


def weights_of(graph_path: Path, names: Collection[str]) -> dict[str, np.ndarray]:
    """{name: float32 array} of every weight `graph_path` holds, `names` being the SpanModel's
    (its state_dict's keys)."""
    graph = onnx.load(str(graph_path)).graph  # external data (weights.bin) loaded beside it
    values = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    for node in graph.node:  # the exporter names one copy of equal tensors, the rest alias it
        if node.op_type == "Identity" and node.input[0] in values:
            values[node.output[0]] = values[node.input[0]]
    consumers: dict[str, list[onnx.NodeProto]] = defaultdict(list)
    for node in graph.node:
        for name in node.input:
            consumers[name].append(node)

    def name_of(initializer: str) -> str:
        return initializer.removeprefix(PREFIX)

    def bias_after(node: onnx.NodeProto) -> str:
        """The bias initializer of the first Add downstream of `node`, through casts and scales."""
        frontier = list(node.output)
        while frontier:
            for consumer in consumers[frontier.pop(0)]:
                if consumer.op_type == "Add":
                    biases: list[str] = [
                        n for n in consumer.input if n in values and name_of(n).endswith(".bias")
                    ]
                    if biases:
                        return biases[0]
                if consumer.op_type in PASS_THROUGH | {"Add"}:
                    frontier += consumer.output
        raise ValueError(f"{graph_path}: no bias follows {node.name}; not a graph pii_train exported")

    def dequantized(stem: str) -> np.ndarray:
        q = values[stem + QUANTIZED].astype(np.float32)
        zero = values[stem + "_zero_point"].astype(np.float32)
        return ((q - zero) * values[stem + "_scale"].astype(np.float32)).astype(np.float32)

    weights: dict[str, np.ndarray] = {}
    for node in graph.node:
        if node.op_type == "MatMulInteger":
            matrix = next(n for n in node.input if n.endswith(QUANTIZED) and n in values)
            layer = name_of(bias_after(node)).removesuffix(".bias")
            weights[f"{layer}.weight"] = dequantized(matrix.removesuffix(QUANTIZED)).T
    for initializer, value in values.items():
        # Embeddings are read through Gather + DequantizeLinear, under their own names; the
        # exporter's names (matrices, above; scales, constants) are none of the model's.
        stem = initializer.removesuffix(QUANTIZED)
        if name_of(stem) not in names:
            continue
        weights[name_of(stem)] = dequantized(stem) if initializer.endswith(QUANTIZED) else value
    return weights


def _unpacked(model_dir: Path, base: Path, output: Path) -> tuple[SpanModel, dict[str, Any]]:
    """`unpack`, and the model it wrote."""
    meta = check_pii_dir(model_dir)
    if (base / "tokenizer.json").read_bytes() != (model_dir / "tokenizer.json").read_bytes():
        raise ValueError(f"{base} has another tokenizer.json than {model_dir}: not the model's base")
    base_layers = meta.get("training", {}).get("base_layers")  # blocks kept (pii_train --layers)
    layout = {
        "labels_apart": bool(meta.get("labels_apart", False)),
        "labels_join": int(meta.get("labels_join", 0)),
        **({"base_layers": base_layers} if base_layers is not None else {}),
    }
    model = SpanModel.as_recorded(base, layout)
    state = model.state_dict()
    weights: dict[str, np.ndarray] = {}
    for graph in graph_files(meta):
        weights.update(weights_of(model_dir / graph, set(state)))
    missing = sorted(set(state) - set(weights) - {"encoder.embeddings.position_ids"})
    unknown = sorted(set(weights) - set(state))
    if missing or unknown:
        raise ValueError(f"{model_dir}: weights missing {missing}, not in the model {unknown}")
    for name, value in weights.items():
        if tuple(value.shape) != tuple(state[name].shape):
            raise ValueError(f"{model_dir}: {name} is {value.shape}, the model's {tuple(state[name].shape)}")
        state[name] = torch.tensor(value)
    model.load_state_dict(state)
    recipe = {
        "unpacked_from": str(model_dir),
        "version": meta["version"],
        "base": str(base),
        **layout,
        "training": meta.get("training", {}),
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"recipe": recipe, "model": model.state_dict()}, output)
    return model, recipe


def unpack(model_dir: Path, base: Path, output: Path) -> dict[str, Any]:
    """Write `output`, a checkpoint `pii_train --init` reads, from the model in `model_dir`;
    returns its recipe. ValueError when the base cannot hold the model."""
    return _unpacked(model_dir, base, output)[1]


def export_again(model_dir: Path, base: Path, checkpoint: Path, output: Path) -> dict[str, Any]:
    """Unpack `model_dir` into `checkpoint`, then export its weights into `output` in this
    gateway's layout (see the module's doc); returns the new pii.json."""
    meta = check_pii_dir(model_dir)
    model, _ = _unpacked(model_dir, base, checkpoint)
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    output.mkdir(parents=True, exist_ok=True)
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    if cls is None or sep is None:
        raise ValueError(f"{model_dir}/tokenizer.json has no [CLS] or [SEP] token")
    graphs = export(model, tokenizer, cls, sep, output)
    if output.resolve() != model_dir.resolve():
        shutil.copy(model_dir / "tokenizer.json", output / "tokenizer.json")
    (output / "EVAL.md").unlink(missing_ok=True)  # an evaluation of other graphs
    meta = {"version": version_of(output, graphs), "exported_from": meta["version"]} | {
        k: v for k, v in meta.items() if k not in ("version", "exported_from")
    }
    (output / "pii.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    if (model_dir / "MODEL_CARD.md").is_file():
        write_card(output)
    return meta


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, required=True, help="a PII model directory (pii.json)")
    parser.add_argument("--base", type=Path, required=True, help="the base it was trained on")
    parser.add_argument("--output", type=Path, required=True, help="the checkpoint to write")
    parser.add_argument(
        "--export",
        type=Path,
        metavar="DIR",
        help="also export the model again into DIR in this gateway's graph layout",
    )
    args = parser.parse_args(argv)
    try:
        if args.export is None:
            recipe = unpack(args.model, args.base, args.output)
        else:
            meta = export_again(args.model, args.base, args.output, args.export)
    except ValueError as error:
        parser.error(str(error))
    if args.export is None:
        print(f"wrote {args.output} from model {recipe['version']}: {json.dumps(recipe)[:200]}")
    else:
        print(
            f"wrote {args.output}, and model {meta['version']} (from {meta['exported_from']}) in {args.export}"
        )


if __name__ == "__main__":
    main()
