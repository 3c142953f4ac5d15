"""The guard's training set is rebuilt exactly from its seed and covers the whole taxonomy."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

from gateway.guard.labels import OUTPUTS
from gateway.taxonomy import ATTACK_STRATEGIES, HARM_CATEGORIES
from gateway.training.guard_data import build, identifier, main, near_misses, with_identifiers
from gateway.training.guard_near_misses import NEAR_MISSES, SHORT_EXCHANGES
from gateway.training.guard_phrases import LANGUAGES


def test_the_same_seed_gives_the_same_set() -> None:
    assert build(13) == build(13)
    assert build(13) != build(14)


def test_every_category_strategy_and_language_is_covered() -> None:
    examples = build(13)
    harm = Counter(label for e in examples for label in (e.harm or []))
    attack = Counter(label for e in examples for label in (e.attack or []))
    assert all(harm[name] >= 20 for name in HARM_CATEGORIES), harm
    assert all(attack[name] >= 40 for name in ATTACK_STRATEGIES), attack
    assert {e.lang for e in examples} >= set(LANGUAGES)
    assert len(examples) >= 4000
    assert len(OUTPUTS) == 1 + len(HARM_CATEGORIES) + len(ATTACK_STRATEGIES) + 1


def test_near_misses_and_refusals_are_there() -> None:
    examples = build(13)
    assert sum(1 for e in examples if e.unsafe == 0 and e.response is None) >= 1000
    responses = [e for e in examples if e.response is not None]
    assert {e.refusal for e in responses} == {0, 1}


def test_validation_intents_never_appear_in_training() -> None:
    examples = build(13)
    train = {e.group for e in examples if e.split == "train"}
    validation = {e.group for e in examples if e.split == "validation"}
    assert validation
    assert not train & validation


def test_the_command_writes_jsonl(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    main(["--output", str(tmp_path / "guard.jsonl")])
    assert len((tmp_path / "guard.jsonl").read_text().splitlines()) == len(build(13))
    assert "examples" in capsys.readouterr().out


def test_identifiers_ride_on_both_safe_and_harmful_requests() -> None:
    """A pasted hash or ticket number must not become a cue for either label."""
    rng = random.Random(3)
    examples = list(with_identifiers(rng))
    assert {e.unsafe for e in examples} == {0, 1}
    assert sum(e.unsafe == 0 for e in examples) > sum(e.unsafe == 1 for e in examples)
    # Every example keeps its request's words and adds an identifier around them.
    assert all(e.group in e.prompt and len(e.prompt) > len(e.group) + 4 for e in examples)
    kinds = {identifier(random.Random(seed))[:1] for seed in range(200)}
    assert {"#", "/"} <= kinds  # ticket numbers and log paths among hashes, UUIDs and tokens
    assert all(example.attack == [] for example in examples)


def test_targets_mark_unknown_labels_as_unknown() -> None:
    from gateway.training.guard_data import targets

    values, known = targets({"unsafe": 1, "harm": ["child_safety"], "attack": None, "refusal": None})
    assert values[0] == 1.0
    assert known[0] == 1.0
    harm = 1 + HARM_CATEGORIES.index("child_safety")
    assert values[harm] == 1.0
    assert sum(values[1 : 1 + len(HARM_CATEGORIES)]) == 1.0
    assert all(k == 1.0 for k in known[1 : 1 + len(HARM_CATEGORIES)])
    assert not any(known[1 + len(HARM_CATEGORIES) :])  # attacks and refusal unknown


def test_short_answers_are_safe_compliant_answers_in_every_language() -> None:
    """A bare "ok" after "Hi" is taught as a safe, compliant answer, in each of the seven languages."""
    examples = list(near_misses(random.Random(5)))
    answers = [e for e in examples if e.response is not None]
    assert {e.lang for e in answers} == set(LANGUAGES) == set(SHORT_EXCHANGES)
    assert all(e.unsafe == 0 and e.refusal == 0 and e.harm == [] for e in answers)
    assert any(e.prompt == "Hi" and e.response.lower() == "ok" for e in answers)
    assert max(len(e.response) for e in answers) < 80


def test_near_miss_requests_are_safe_and_share_no_group_with_a_harmful_example() -> None:
    """Each alarming-sounding request is labelled safe and never also appears as harmful."""
    texts = {text for group in NEAR_MISSES.values() for text in group}
    examples = build(13)
    near = [e for e in examples if e.group in texts]
    assert {e.group for e in near} == texts
    assert all(e.unsafe == 0 and e.attack == [] for e in near)
    assert not any(e.unsafe == 1 for e in examples if e.group in texts)
