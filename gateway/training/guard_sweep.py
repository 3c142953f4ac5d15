"""Train several guard configurations and compare them on the validation split alone.

    python -m gateway.training.guard_sweep --data build/guard.jsonl --device cuda \
        --config layers=4,epochs=6 --config layers=0,2,4,5,epochs=6 --report build/sweep.json

Each `--config` is a list of key=value (layers, epochs, lr, batch_size, seed; the rest take
guard_train's defaults; `layers` takes a count or indices, so it is written last when it holds
commas). Nothing is exported: the sweep prints and writes each configuration's best validation
F1 per head, so that the recipe's settings are chosen on validation data, never on the
evaluation sets.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from gateway.guard.labels import HEADS
from gateway.training.guard_data import load_examples
from gateway.training.recipes import GUARD, GUARD_LAYERS, add_device_arguments

DEFAULTS: dict[str, Any] = {"layers": str(GUARD_LAYERS), **GUARD.as_dict()}


def parse_config(text: str) -> dict[str, Any]:
    """ "epochs=6,lr=2e-4,layers=0,2,4,5" -> {"epochs": 6, "lr": 0.0002, "layers": "0,2,4,5"}."""
    config = dict(DEFAULTS)
    key = None
    for part in text.split(","):
        if "=" in part:
            key, value = part.split("=", 1)
            if key not in DEFAULTS:
                raise ValueError(f"unknown setting {key!r} in {text!r}; known: {', '.join(DEFAULTS)}")
            config[key] = value
        elif key == "layers":  # more indices of the same list
            config["layers"] += "," + part
        else:
            raise ValueError(f"cannot read {part!r} in {text!r}")
    for key, kind in (("epochs", int), ("batch_size", int), ("seed", int), ("lr", float)):
        try:
            config[key] = kind(config[key])
        except ValueError:
            raise ValueError(f"{key} takes a number, not {config[key]!r}, in {text!r}") from None
    return config


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--config", action="append", required=True, help="key=value,... (repeat)")
    add_device_arguments(parser)
    parser.add_argument("--report", type=Path, help="write the results here as JSON")
    args = parser.parse_args(argv)

    configs = [parse_config(text) for text in args.config]  # all checked before any training
    # torch is imported to train only: the settings above are read (and tested) without it.
    from gateway.training.guard_train import base_model_dir, fit, kept_layers, thresholds

    train, validation = load_examples(args.data)
    base = args.base or base_model_dir()
    results: list[dict[str, Any]] = []
    for number, config in enumerate(configs, 1):
        print(f"[{number}/{len(configs)}] {config}", flush=True)
        started = time.monotonic()
        model, tokenizer = fit(
            train,
            base,
            layers=kept_layers(config["layers"]),
            epochs=config["epochs"],
            batch_size=config["batch_size"],
            lr=config["lr"],
            seed=config["seed"],
            device=args.device,
        )
        chosen = thresholds(model, tokenizer, validation, quiet=True)
        results.append({"config": config, "seconds": round(time.monotonic() - started), "heads": chosen})
        if args.report:  # after each configuration: a run cut short keeps what it finished
            args.report.parent.mkdir(parents=True, exist_ok=True)
            args.report.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        print(table(results[-1:]), flush=True)

    print("\nvalidation F1 per head (threshold chosen on the same split):")
    print(table(results))


def table(results: list[dict[str, Any]]) -> str:
    lines = [f"{'configuration':<48} {'s':>5} " + " ".join(f"{head:>8}" for head in HEADS)]
    for result in results:
        config = result["config"]
        name = ", ".join(f"{key}={config[key]}" for key in DEFAULTS if config[key] != DEFAULTS[key])
        scores = " ".join(f"{result['heads'][head]['validation_f1']:>8.3f}" for head in HEADS)
        lines.append(f"{name or 'defaults':<48} {result['seconds']:>5} {scores}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
