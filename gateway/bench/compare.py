"""Two gateway settings side by side: the same load on both, in many small interleaved rounds.

On a machine whose speed drifts, a difference of a millisecond is lost between one benchmark
run and the next. Here two gateways (`shieldgate serve`, each with its own SHIELDGATE_*
settings, in front of one fake upstream) take turns every few requests, so both see the same
drift, and the table gives each side's latency, the server's CPU a request and B minus A.
"""

from __future__ import annotations

import json
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from gateway.bench.overhead import Target, measure
from gateway.bench.processes import LONG_PAUSE_S, gateway_process, gc_pauses, upstream_process

__all__ = ["parse_settings", "run"]


def parse_settings(pairs: list[str]) -> dict[str, str]:
    """NAME=VALUE pairs (a SHIELDGATE_* setting's name in lower case, `scanner_inline_chars=0`)
    as a dict; ValueError naming a pair without `=` or a name."""
    settings: dict[str, str] = {}
    for pair in pairs:
        name, equals, value = pair.partition("=")
        if not equals or not name.strip():
            raise ValueError(f"{pair!r} is not NAME=VALUE (a setting such as scanner_inline_chars=0)")
        settings[name.strip().lower()] = value
    return settings


def run(
    a: dict[str, str],
    b: dict[str, str],
    *,
    levels: list[int],
    requests: int,
    rounds: int,
    stream: bool,
    warm: bool,
    output: Path | None,
    checkouts: dict[str, Path | None] | None = None,
    words: int = 0,
    upstream_delay: float = 0.0,
) -> dict[str, Any]:
    """`requests` a level on each side in `rounds` rounds (new prompts unless `warm`, each after
    `words` words of prose); prints and returns each side's figures and B - A, and writes them to
    `output` as JSON. A side ("A", "B") with a directory in `checkouts` runs its gateway from the
    package there. `upstream_delay`: seconds the fake upstream takes to answer."""
    checkouts = checkouts or {}
    with (
        tempfile.TemporaryDirectory() as workdir,
        upstream_process("The capital of France is Paris.", 0.0, upstream_delay) as upstream,
        ExitStack() as running,
    ):
        targets = []
        for side, settings in (("A", a), ("B", b)):
            (Path(workdir) / side).mkdir()
            url, pid = running.enter_context(
                gateway_process(upstream, Path(workdir) / side, settings, checkouts.get(side))
            )
            targets.append(Target(side, url, pid, distinct=not warm, words=words))
        figures = measure(targets, levels, requests, rounds=rounds, modes=(stream,))
        pauses = {target.name: gc_pauses(target.url) for target in targets}
    for cases in figures.values():
        for row in cases.values():
            answered = requests - row["failed"] - row["blocked"]
            row["cpu_ms_a_request"] = round(1000 * row["cpu_s"] / answered, 2) if answered else None
    widths = {"p50_ms": 8, "p95_ms": 8, "p99_ms": 8, "p999_ms": 8, "max_ms": 8, "cpu_ms_a_request": 12}
    for side, settings in (("A", a), ("B", b)):
        where = f" (gateway from {checkouts[side]})" if checkouts.get(side) else ""
        print(f"{side}: {settings or 'defaults'}{where}")
    if words:
        print(f"each prompt: {words} words of prose, then the question")
    if upstream_delay:
        print(f"the upstream answers after {upstream_delay * 1000:g} ms")
    print(
        "{:10} {:5} {:>8} {:>8} {:>8} {:>8} {:>8} {:>12} {:>7}".format(
            "case", "side", "p50", "p95", "p99", "p99.9", "max", "cpu ms/req", "failed"
        )
    )
    for case in figures["A"]:
        rows = {side: figures[side][case] for side in ("A", "B")}
        for side, row in rows.items():
            print(
                f"{case:10} {side:5} "
                + " ".join(_cell(row[k], width) for k, width in widths.items())
                + f" {row['failed']:7}"
            )
        difference = {k: _minus(rows["B"][k], rows["A"][k]) for k in widths}
        print(
            f"{case:10} {'B-A':5} "
            + " ".join(_cell(difference[k], width, sign=True) for k, width in widths.items())
        )
    for side, collections in pauses.items():
        print(f"{side}: garbage collections while serving: {_pauses_line(collections)}")
    result = {
        "a": a,
        "b": b,
        "levels": levels,
        "requests": requests,
        "rounds": rounds,
        "stream": stream,
        "warm": warm,
        "prompt_words": words,
        "upstream_delay_s": upstream_delay,
        "checkouts": {side: str(path) for side, path in checkouts.items() if path is not None},
        "figures": figures,
        "gc_pauses": pauses,
    }
    if output is not None:
        output.write_text(json.dumps(result, indent=2) + "\n")
    return result


def _minus(b: float | None, a: float | None) -> float | None:
    return None if a is None or b is None else round(b - a, 2)


def _cell(value: float | None, width: int, sign: bool = False) -> str:
    if value is None:
        return f"{'-':>{width}}"
    return f"{value:>+{width}.2f}" if sign else f"{value:>{width}.2f}"


def _pauses_line(collections: dict[str, dict[str, float]] | None) -> str:
    """One side's garbage collections, a generation at a time."""
    if collections is None:
        return "not exported by this gateway"
    return "; ".join(
        f"generation {generation}: {row['count']:g}, {1000 * row['seconds']:.1f} ms in all, "
        f"{row['long']:g} over {1000 * LONG_PAUSE_S:g} ms"
        for generation, row in collections.items()
    )
