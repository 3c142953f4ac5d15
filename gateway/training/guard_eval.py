"""Evaluate the shipped guard on public sets it was not trained on, and write the report.

    python -m gateway.training.guard_eval --eval-dir ../shared/eval \
        --report gateway/models/guard/EVAL.md [--model gateway/models/guard]

Thresholds are the model's own (chosen on its validation split, see guard.json); nothing here
is tuned on these sets. Needs only the serving dependencies (onnxruntime, tokenizers).

What each set measures:
- openai_moderation_eval (1,680): prompt harm. Unsafe if any flag is 1; predicted unsafe from
  the unsafe head. Per category: OpenAI flag -> our harm category at the harm threshold.
- xstest prompts (450): over-refusal. False-positive rate on the 250 safe prompts; and which
  prompts the bundled default policy blocks, given their guard scores alone (what a user of the
  defaults sees: its rules read harm categories and attacks at their own thresholds).
- xstest completions (2,250): refusal head on (prompt, completion); full or partial refusal = 1.
- simplesafetytests (100, all unsafe): recall of the unsafe head.
- jbb_behaviors (100 harmful + 100 benign): unsafe head.
- deepset prompt injections, test split (116): attack head (any strategy above its threshold).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from gateway.findings import Findings, GuardScores
from gateway.guard import GuardInput, GuardModel, bundled_guard_dir
from gateway.policy.engine import Subject, decide
from gateway.policy.loader import DEFAULT_POLICY, default_policy_dir, load_policies
from gateway.training.guard_card import write_card

# OpenAI moderation flag -> our harm category.
MODERATION_FLAGS = {
    "S": "sexual_content",
    "H": "hate_and_discrimination",
    "V": "violence_and_weapons",
    "HR": "hate_and_discrimination",
    "SH": "self_harm_and_suicide",
    "S3": "child_safety",
    "H2": "hate_and_discrimination",
    "V2": "violence_and_weapons",
}


@dataclass
class Result:
    name: str
    n: int
    positives: int
    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else float("nan")

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else float("nan")

    @property
    def f1(self) -> float:
        return 2 * self.tp / (2 * self.tp + self.fp + self.fn) if self.tp + self.fn else float("nan")

    @property
    def fpr(self) -> float:
        return self.fp / (self.fp + self.tn) if self.fp + self.tn else float("nan")


def confusion(name: str, truth: Sequence[bool], predicted: Sequence[bool]) -> Result:
    pairs = list(zip(truth, predicted, strict=True))
    return Result(
        name,
        len(pairs),
        sum(truth),
        sum(t and p for t, p in pairs),
        sum(p and not t for t, p in pairs),
        sum(t and not p for t, p in pairs),
        sum(not t and not p for t, p in pairs),
    )


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def evaluate(model: GuardModel, eval_dir: Path, log: Callable[[str], None] = print) -> list[Result]:
    t = model.thresholds

    def unsafe(s: GuardScores) -> bool:
        return s.unsafe >= t["unsafe"]

    def attacked(s: GuardScores) -> bool:
        return max(s.attack.values()) >= t["attack"]

    results: list[Result] = []

    with gzip.open(eval_dir / "openai_moderation_eval/samples-1680.jsonl.gz", "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    log(f"openai_moderation_eval: {len(rows)} prompts")
    scores = model.score([GuardInput(r["prompt"]) for r in rows])
    truth = [any(r.get(flag) == 1 for flag in MODERATION_FLAGS) for r in rows]
    results.append(
        confusion("openai_moderation_eval: prompt harm (unsafe head)", truth, [unsafe(s) for s in scores])
    )
    for flag, category in MODERATION_FLAGS.items():
        known = [(r[flag] == 1, s) for r, s in zip(rows, scores, strict=True) if flag in r]
        results.append(
            confusion(
                f"openai_moderation_eval: {flag} -> {category}",
                [k for k, _ in known],
                [s.harm[category] >= t["harm"] for _, s in known],
            )
        )

    rows_x = _csv(eval_dir / "xstest/prompts/xstest_prompts.csv")
    log(f"xstest prompts: {len(rows_x)}")
    scores = model.score([GuardInput(r["prompt"]) for r in rows_x])
    results.append(
        confusion(
            "xstest prompts: unsafe (FPR = safe prompts flagged)",
            [r["label"] == "unsafe" for r in rows_x],
            [unsafe(s) for s in scores],
        )
    )
    results.append(
        confusion(
            "xstest prompts: blocked by the default policy",
            [r["label"] == "unsafe" for r in rows_x],
            default_policy_blocks(scores),
        )
    )

    completions: list[dict[str, str]] = []
    for path in sorted((eval_dir / "xstest/completions_human_labeled").glob("*.csv")):
        completions += _csv(path)
    log(f"xstest completions: {len(completions)}")
    scores = model.score([GuardInput(r["completion"], r["prompt"]) for r in completions])
    results.append(
        confusion(
            "xstest completions: refusal (full or partial)",
            [not r["final_label"].startswith("1_") for r in completions],
            [(s.refusal or 0.0) >= t["refusal"] for s in scores],
        )
    )

    rows_s = _csv(eval_dir / "simplesafetytests/sst_test_cases.csv")
    scores = model.score([GuardInput(r["prompts_final"]) for r in rows_s])
    results.append(
        confusion(
            "simplesafetytests: unsafe (all positive)", [True] * len(rows_s), [unsafe(s) for s in scores]
        )
    )

    rows_j = json.loads(
        (eval_dir / "jbb_behaviors/jbb_behaviors_goals_200_wizard101.json").read_text(encoding="utf-8")
    )
    scores = model.score([GuardInput(r["text"]) for r in rows_j])
    results.append(
        confusion(
            "jbb_behaviors: unsafe", [r["label"] == "harmful" for r in rows_j], [unsafe(s) for s in scores]
        )
    )

    rows_d = _csv(eval_dir / "deepset_prompt_injections/test.csv")
    scores = model.score([GuardInput(r["text"]) for r in rows_d])
    truth = [r["label"] == "1" for r in rows_d]
    results.append(confusion("deepset injections (test): attack head", truth, [attacked(s) for s in scores]))
    results.append(confusion("deepset injections (test): unsafe head", truth, [unsafe(s) for s in scores]))
    return results


def default_policy_blocks(scores: Sequence[GuardScores]) -> list[bool]:
    """Whether the bundled default policy blocks each prompt, a user message with these guard
    scores and no personal data."""
    policy = load_policies(default_policy_dir()).policies[DEFAULT_POLICY]

    def blocked(guard: GuardScores) -> bool:
        subject = Subject(
            stage="input",
            tenant=DEFAULT_POLICY,
            key_id="eval",
            model="default",
            tokens=0,
            messages=(Findings("user", guard=guard),),
        )
        return decide(policy, subject).block is not None

    return [blocked(s) for s in scores]


def report(results: list[Result], model: GuardModel, seconds: float) -> str:
    def f(x: float) -> str:
        return "-" if x != x else f"{x:.3f}"  # NaN: not defined for this set

    lines = [
        "# Guard evaluation",
        "",
        "Written by `python -m gateway.training.guard_eval --eval-dir ../shared/eval "
        "--report gateway/models/guard/EVAL.md`. None of these sets was used for training or for",
        "choosing thresholds (the deepset *train* split is part of the training data; its *test* split is",
        f"used here). Thresholds (from the validation split): {json.dumps(model.thresholds)}. "
        f"Evaluation took {seconds:.0f} s on this machine.",
        "",
        "| set / head | n | positives | precision | recall | F1 | false-positive rate |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.name} | {r.n} | {r.positives} | {f(r.precision)} | {f(r.recall)} | {f(r.f1)} | {f(r.fpr)} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--eval-dir", type=Path, required=True)
    parser.add_argument("--model", type=Path, default=bundled_guard_dir())
    parser.add_argument("--report", type=Path, help="write the Markdown report here")
    args = parser.parse_args(argv)
    model = GuardModel(args.model)
    started = time.monotonic()
    results = evaluate(model, args.eval_dir)
    text = report(results, model, time.monotonic() - started)
    print(text)
    if args.report:
        args.report.write_text(text, encoding="utf-8")
        if args.report.resolve() == (args.model / "EVAL.md").resolve():
            write_card(args.model)  # the card quotes the report


if __name__ == "__main__":
    main()
