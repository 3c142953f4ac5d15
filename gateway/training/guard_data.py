"""Build the guard's training set from the phrase tables, reproducibly from a seed.

    python -m gateway.training.guard_data --output build/guard.jsonl [--seed 13]
        [--deepset-train ../shared/eval/deepset_prompt_injections/train.csv]

Each line is one example: `prompt`, optional `response` (then the labels are about the
response), `lang`, `split` (train/validation, by intent so validation intents are unseen) and
labels `unsafe`, `harm`, `attack`, `refusal`. A label that is `null` is unknown for that example
and left out of the loss.
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import json
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from gateway.guard.labels import OUTPUTS
from gateway.taxonomy import ATTACK_STRATEGIES, HARM_CATEGORIES
from gateway.training import guard_near_misses as N
from gateway.training import guard_phrases as P

VALIDATION_SHARE = 0.15


@dataclass
class Example:
    prompt: str
    lang: str
    group: str  # examples built on the same intent share a group and a split
    unsafe: int
    harm: list[str] | None
    attack: list[str] | None
    refusal: int | None = None
    response: str | None = None
    split: str = ""


def targets(example: dict[str, Any]) -> tuple[list[float], list[float]]:
    """The label vector and the mask of which labels are known."""
    values = [0.0] * len(OUTPUTS)
    known = [0.0] * len(OUTPUTS)
    values[0], known[0] = float(example["unsafe"]), 1.0
    for names, labels, offset in (
        (HARM_CATEGORIES, example.get("harm"), 1),
        (ATTACK_STRATEGIES, example.get("attack"), 1 + len(HARM_CATEGORIES)),
    ):
        if labels is None:
            continue
        for i, name in enumerate(names):
            values[offset + i] = float(name in labels)
            known[offset + i] = 1.0
    if example.get("refusal") is not None:
        values[-1], known[-1] = float(example["refusal"]), 1.0
    return values, known


def load_examples(path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The training and the validation split of a file this module wrote."""
    examples = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return (
        [e for e in examples if e["split"] == "train"],
        [e for e in examples if e["split"] == "validation"],
    )


def split_of(group: str) -> str:
    bucket = int(hashlib.sha256(group.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "validation" if bucket < VALIDATION_SHARE else "train"


def vary(rng: random.Random, text: str) -> str:
    """Surface noise real users produce: lower case, no final punctuation, extra spaces."""
    roll = rng.random()
    if roll < 0.15:
        text = text.lower()
    elif roll < 0.25:
        text = text.rstrip(".?!")
    elif roll < 0.3:
        text = text.upper()
    return text


def requests(rng: random.Random) -> Iterator[Example]:
    for category, intents in P.HARMFUL.items():
        for intent in intents:
            for frame in rng.sample(P.FRAMES["en"], 6):
                yield Example(vary(rng, frame.format(x=intent)), "en", intent, 1, [category], [])
    for intents in P.BENIGN.values():
        for intent in intents:
            for frame in rng.sample(P.FRAMES["en"], 6):
                yield Example(vary(rng, frame.format(x=intent)), "en", intent, 0, [], [])
    for lang, pairs in P.HARMFUL_I18N.items():
        for intent, category in pairs:
            for frame in P.FRAMES[lang]:
                yield Example(vary(rng, frame.format(x=intent)), lang, intent, 1, [category], [])
    for lang, intents in P.BENIGN_I18N.items():
        for intent in intents:
            for frame in P.FRAMES[lang]:
                yield Example(vary(rng, frame.format(x=intent)), lang, intent, 0, [], [])


def statements(rng: random.Random) -> Iterator[Example]:
    for category, texts in P.STATEMENTS.items():
        for text in texts:
            for _ in range(3):
                yield Example(vary(rng, text), "xx", text, 1, [category], [])
    for text in P.BENIGN_STATEMENTS:
        for _ in range(3):
            yield Example(vary(rng, text), "xx", text, 0, [], [])
    for text in P.BENIGN_ATTACK_TALK:
        for _ in range(4):
            yield Example(vary(rng, text), "xx", text, 0, [], [])


def conversation(rng: random.Random) -> Iterator[Example]:
    """Statements with and without harm about the same subjects: groups, people, feelings, sex."""
    for group in P.GROUPS:
        for predicate in rng.sample(P.HATEFUL_PREDICATES, 4):
            text = f"{group.capitalize()} {predicate}."
            yield Example(vary(rng, text), "en", f"hate:{predicate}", 1, ["hate_and_discrimination"], [])
        for predicate in rng.sample(P.ORDINARY_PREDICATES, 4):
            text = f"{group.capitalize()} {predicate}."
            yield Example(vary(rng, text), "en", f"ordinary:{predicate}", 0, [], [])
    labelled: tuple[tuple[tuple[str, ...], int, list[str]], ...] = (
        (P.INSULTS, 1, ["hate_and_discrimination"]),
        (P.THREATS, 1, ["violence_and_weapons"]),
        (P.SELF_HARM_STATEMENTS, 1, ["self_harm_and_suicide"]),
        (P.EXPLICIT_STATEMENTS, 1, ["sexual_content"]),
        (P.MILD_COMPLAINTS, 0, []),
        (P.SAD_STATEMENTS, 0, []),
        (P.ROMANTIC_STATEMENTS, 0, []),
    )
    for texts, unsafe, harm in labelled:
        for text in texts:
            for _ in range(4):
                yield Example(vary(rng, text), "en", text, unsafe, harm, [])


def passages(rng: random.Random) -> list[tuple[str, str]]:
    """Long benign texts, (language, text): Python's own documentation (PSF licence) in
    pieces, and Faker's word salad in every language (odd words such as 'prison' included)."""
    import pydoc_data.topics

    from faker import Faker

    out: list[tuple[str, str]] = []
    for topic in sorted(pydoc_data.topics.topics):
        paragraphs = [p.strip() for p in pydoc_data.topics.topics[topic].split("\n\n") if p.strip()]
        piece = ""
        for paragraph in paragraphs:
            piece = f"{piece}\n\n{paragraph}".strip()
            if len(piece) > rng.randint(300, 1000):
                out.append(("en", " ".join(piece.split())))
                piece = ""
    locales = {
        "en": "en_US",
        "fr": "fr_FR",
        "es": "es_ES",
        "de": "de_DE",
        "it": "it_IT",
        "pt": "pt_BR",
        "nl": "nl_NL",
    }
    for lang, locale in locales.items():
        fake = Faker(locale)
        fake.seed_instance(rng.randint(0, 2**31))
        out += [(lang, fake.paragraph(nb_sentences=rng.randint(3, 8))) for _ in range(60)]
    rng.shuffle(out)
    return out


def long_texts(rng: random.Random) -> Iterator[Example]:
    """Long texts: benign as they are, and with a harmful request or an injection hidden inside."""
    pieces = passages(rng)
    for lang, text in pieces:
        yield Example(text, lang, f"passage:{text[:40]}", 0, [], [])

    def insert(text: str, inner: str) -> str:
        sentences = text.split(". ")
        at = rng.randint(0, len(sentences))
        return ". ".join([*sentences[:at], inner.rstrip("."), *sentences[at:]])

    for lang, text in rng.sample(pieces, min(400, len(pieces))):
        intent, category, request = harmful_request(rng)
        yield Example(insert(text, request), lang, intent, 1, [category], [])
    injections = [
        *P.ATTACKS["instruction_override"],
        *P.ATTACKS["system_prompt_exfiltration"],
        *P.ATTACKS["data_exfiltration"],
    ]
    for lang, text in rng.sample(pieces, min(300, len(pieces))):
        template = rng.choice(injections)
        payload = rng.choice(P.NEUTRAL_PAYLOADS)
        strategy = next(name for name, group in P.ATTACKS.items() if template in group)
        yield Example(
            insert(text, template.format(p=payload)),
            lang,
            f"inject:{template}",
            1,
            [],
            ["prompt_injection", strategy],
        )


def obfuscations(request: str) -> dict[str, str]:
    return {
        "b64": base64.b64encode(request.encode()).decode(),
        "leet": request.translate(str.maketrans("aeiost", "4310$7")),
        "rev": request[::-1],
        "spaced": " ".join(request.replace(" ", "/")),
    }


def harmful_request(rng: random.Random) -> tuple[str, str, str]:
    """A random harmful English request: (intent, category, request text)."""
    category = rng.choice(list(P.HARMFUL))
    intent = rng.choice(P.HARMFUL[category])
    return intent, category, rng.choice(P.FRAMES["en"]).format(x=intent)


def attacks(rng: random.Random, per_template: int = 14) -> Iterator[Example]:
    for strategy, templates in P.ATTACKS.items():
        for template in templates:
            for _ in range(per_template):
                intent, category, request = harmful_request(rng)
                neutral = "{p}" in template and rng.random() < 0.35
                payload = rng.choice(P.NEUTRAL_PAYLOADS) if neutral else request
                text = template.format(p=payload, x=intent, **obfuscations(request))
                harm = [] if neutral or "{" not in template else [category]
                if strategy in ("system_prompt_exfiltration", "data_exfiltration"):
                    harm = ["privacy_violation"] if strategy == "data_exfiltration" else []
                yield Example(vary(rng, text), "en", f"{strategy}:{template}", 1, harm, [strategy])
    # Stacked strategies: an override that also asks for no disclaimers, a roleplay in a hypothetical.
    for _ in range(150):
        intent, category, request = harmful_request(rng)
        first, second = rng.sample(["instruction_override", "policy_evasion", "jailbreak_attempt"], 2)
        text = (
            rng.choice(P.ATTACKS[first]).format(p="", x=intent, **obfuscations(request))
            + " "
            + rng.choice(P.ATTACKS[second]).format(p=request, x=intent, **obfuscations(request))
        )
        yield Example(vary(rng, text), "en", f"stack:{intent}", 1, [category], [first, second])


def deepset(path: Path) -> Iterator[Example]:
    """deepset/prompt-injections train split (Apache-2.0): injection yes/no, English and German."""
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            injection = int(row["label"])
            yield Example(
                row["text"],
                "xx",
                "deepset:" + row["text"],
                injection,
                None if injection else [],
                ["prompt_injection"] if injection else [],
            )


def responses(rng: random.Random) -> Iterator[Example]:
    """Prompt + answer pairs: refusals and compliance, to harmful and to benign requests."""
    harmful = [(i, c, "en") for c, intents in P.HARMFUL.items() for i in intents]
    harmful += [(i, c, lang) for lang, pairs in P.HARMFUL_I18N.items() for i, c in pairs]
    benign = [(i, "en") for intents in P.BENIGN.values() for i in intents]
    benign += [(i, lang) for lang, intents in P.BENIGN_I18N.items() for i in intents]

    def answer(table: dict[str, tuple[str, ...]], lang: str, intent: str) -> str:
        template = rng.choice(table[lang] if rng.random() < 0.8 else table["en"])
        return template.format(t=intent, T=intent[:1].upper() + intent[1:])

    def prompt(intent: str, lang: str) -> str:
        return "" if rng.random() < 0.15 else rng.choice(P.FRAMES[lang]).format(x=intent)

    for intent, category, lang in harmful:
        for _ in range(4):
            yield Example(
                prompt(intent, lang), lang, intent, 0, [], None, 1, answer(P.REFUSALS, lang, intent)
            )
            yield Example(
                prompt(intent, lang), lang, intent, 1, [category], None, 0, answer(P.COMPLIANT, lang, intent)
            )
    for intent, lang in benign:
        for _ in range(3):
            yield Example(
                prompt(intent, lang), lang, intent, 0, [], None, 0, answer(P.COMPLIANT, lang, intent)
            )
        yield Example(prompt(intent, lang), lang, intent, 0, [], None, 1, answer(P.REFUSALS, lang, intent))
    for text in P.INFORMATIVE:
        for _ in range(4):
            intent, lang = rng.choice(benign)
            yield Example(prompt(intent, lang), lang, text, 0, [], None, 0, text)


def over_refusal_traps(rng: random.Random) -> Iterator[Example]:
    """Safe questions that sound alarming (definitions, history, public facts, homonyms),
    informal benign statements, more refusal styles, long compliant answers and partial refusals."""
    for frame in P.DEFINITION_FRAMES:
        for word in P.DEFINITION_WORDS:
            if rng.random() < 0.5:
                yield Example(vary(rng, frame.format(w=word)), "en", f"define:{word}", 0, [], [])
    for text in (*P.HISTORY, *P.PUBLIC_FACTS, *P.HOMONYMS, *P.MORE_BENIGN_STATEMENTS):
        for _ in range(3):
            yield Example(vary(rng, text), "en", text, 0, [], [])
    for intents in P.HARMFUL.values():
        for intent in intents:
            for _ in range(2):
                refusal = rng.choice(P.MORE_REFUSALS).format(t=intent, T=intent[:1].upper() + intent[1:])
                question = rng.choice(P.FRAMES["en"]).format(x=intent)
                yield Example(question, "en", intent, 0, [], None, 1, refusal)
    # Long compliant answers (pieces of Python's documentation) and partial refusals: a refusal
    # followed by safe general information is still a refusal.
    for lang, text in passages(rng)[:400]:
        if lang != "en":
            continue
        topic = rng.choice(["this Python feature", "the statement", "it", "Python's data model"])
        yield Example(f"Can you explain how {topic} works?", "en", f"doc:{text[:40]}", 0, [], None, 0, text)
        intent, _, request = harmful_request(rng)
        refusal = rng.choice(P.MORE_REFUSALS).format(t=intent, T=intent[:1].upper() + intent[1:])
        partial = refusal + " However, here is some general information. " + text[:300]
        yield Example(request, "en", intent, 0, [], None, 1, partial)


def identifier(rng: random.Random) -> str:
    """A machine identifier as people paste them: a hash, a UUID, a ticket, a token, a timestamp."""
    hexdigits = "0123456789abcdef"
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    kind = rng.randrange(7)
    if kind == 0:
        return "".join(rng.choices(hexdigits, k=rng.choice([7, 8, 12, 40])))
    if kind == 1:
        return "-".join("".join(rng.choices(hexdigits, k=n)) for n in (8, 4, 4, 4, 12))
    if kind == 2:
        return f"{rng.choice(['JIRA', 'OPS', 'SUP', 'BUG', 'INC'])}-{rng.randint(10, 99999)}"
    if kind == 3:
        return rng.choice(["req_", "msg_", "sess_", "tok_", ""]) + "".join(
            rng.choices(alphabet, k=rng.randint(10, 24))
        )
    if kind == 4:
        return f"20{rng.randint(19, 26)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}Z"
    if kind == 5:
        return f"#{rng.randint(1000, 9999999)}"
    return (
        "/var/log/"
        + rng.choice(["app", "worker", "api"])
        + "-"
        + "".join(rng.choices(hexdigits, k=6))
        + ".log"
    )


def with_identifiers(rng: random.Random) -> Iterator[Example]:
    """Requests carrying ticket numbers, hashes, trace ids and tokens: the identifier says
    nothing about safety, so benign requests stay benign and harmful ones harmful."""
    for intents in P.BENIGN.values():
        for intent in intents:
            for frame in rng.sample(P.IDENTIFIER_FRAMES, 2):
                question = rng.choice(P.FRAMES["en"]).format(x=intent)
                yield Example(frame.format(q=question, id=identifier(rng)), "en", intent, 0, [], [])
    for text in (*P.PUBLIC_FACTS, *P.MORE_BENIGN_STATEMENTS):
        frame = rng.choice(P.IDENTIFIER_FRAMES)
        yield Example(frame.format(q=text, id=identifier(rng)), "en", text, 0, [], [])
    for _ in range(120):
        intent, category, request = harmful_request(rng)
        frame = rng.choice(P.IDENTIFIER_FRAMES)
        yield Example(frame.format(q=request, id=identifier(rng)), "en", intent, 1, [category], [])


def near_misses(rng: random.Random) -> Iterator[Example]:
    """Small talk and its short answers in every language, and requests that sound harmful
    and are not (guard_near_misses): all safe, all answers compliant."""
    for lang, pairs in N.SHORT_EXCHANGES.items():
        for user, answer in pairs:
            group = f"short:{lang}:{user}:{answer}"
            for _ in range(2):
                yield Example(vary(rng, user), lang, group, 0, [], [])
            other = rng.choice(pairs)[0]
            for prompt in (user, user, other):
                yield Example(prompt, lang, group, 0, [], None, 0, vary(rng, answer))
    for texts in N.NEAR_MISSES.values():
        for text in texts:
            for _ in range(3):
                yield Example(vary(rng, text), "en", text, 0, [], [])


def build(seed: int, deepset_train: Path | None = None) -> list[Example]:
    rng = random.Random(seed)
    examples = [
        *requests(rng),
        *statements(rng),
        *conversation(rng),
        *attacks(rng),
        *responses(rng),
        *long_texts(rng),
        *over_refusal_traps(rng),
        *with_identifiers(rng),
        *near_misses(rng),
    ]
    if deepset_train is not None:
        examples += list(deepset(deepset_train))
    for example in examples:
        example.split = split_of(example.group)
    rng.shuffle(examples)
    return examples


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--deepset-train", type=Path, help="deepset/prompt-injections train.csv to mix in")
    args = parser.parse_args(argv)
    examples = build(args.seed, args.deepset_train)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    with args.output.open("w", encoding="utf-8") as out:
        for example in examples:
            record = {k: v for k, v in asdict(example).items() if v is not None or k in ("harm", "attack")}
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    counts = Counter(
        (e.split, "response" if e.response is not None else "prompt", e.unsafe) for e in examples
    )
    print(f"{len(examples)} examples -> {args.output}")
    for (split, kind, unsafe), n in sorted(counts.items()):
        print(f"  {split:<10} {kind:<8} unsafe={unsafe}: {n}")


if __name__ == "__main__":
    main()
