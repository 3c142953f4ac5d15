"""Build the PII model's training and held-out sets from templates and Faker, from a seed.

    python -m gateway.training.pii_data --output build/pii.jsonl [--seed 7] [--per-language 900]

Each line: `text`, `lang`, `format` (sentence, form, csv, json, log, chat, block, message), `split` (train, or
heldout: filled from the last two sentence templates of each language, never trained on) and
`spans` [{label, start, end}] for every label its values carry. Labels in ZERO_SHOT are never
asked for in training, so the held-out set measures whether a label described in words is
found without having been trained on.

About half of the training texts are messages strung together from
`gateway.training.pii_clauses`; written-out dates use the month names of the text's language,
and US addresses are in US order. Some names are written as people from elsewhere write them
(another locale's names, a middle initial, a suffix: `Values.other_name`). Half the chats are
transcripts whose speakers are given names or roles ("Agent:"). The same seed gives the same
file, byte for byte.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import string
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from faker import Faker

from gateway.training.pii_clauses import CLAUSES, CONNECTORS, MONTHS, OPENERS, PLAIN, ROLES
from gateway.training.pii_templates import FIELDS, SENTENCES

LOCALES = {
    "en": "en_US",
    "fr": "fr_FR",
    "es": "es_ES",
    "de": "de_DE",
    "it": "it_IT",
    "pt": "pt_PT",
    "nl": "nl_NL",
}
# " and " before the last item of a list.
AND = {"en": " and ", "fr": " et ", "es": " y ", "de": " und ", "it": " e ", "pt": " e ", "nl": " en "}
# A flat, suite or floor after the street ({} is a number).
UNITS = {
    "en": ("Apt. {}", "Suite {}", "Unit {}", "Floor {}"),
    "fr": ("Appartement {}", "Bâtiment B, appt {}", "{}e étage"),
    "es": ("Piso {}", "Puerta {}", "{}º B"),
    "de": ("Wohnung {}", "{}. OG", "Hinterhaus, Whg. {}"),
    "it": ("Interno {}", "Scala B, int. {}", "Piano {}"),
    "pt": ("{}.º Esq.", "Apartamento {}", "Fração {}"),
    "nl": ("bus {}", "{}-hoog", "unit {}"),
}
# Locales of the names people from elsewhere write in any of the seven languages ({other_name}).
ELSEWHERE = (
    "cs_CZ", "da_DK", "en_GB", "en_IN", "es_MX", "fi_FI", "ga_IE", "hr_HR", "hu_HU",
    "is_IS", "lt_LT", "no_NO", "pl_PL", "ro_RO", "sk_SK", "sl_SI", "sv_SE", "tr_TR",
)  # fmt: skip
SUFFIXES = ("Jr.", "Sr.", "II", "III")
ZERO_SHOT = ("passport_number", "routing_number", "recovery_code")
HELD_OUT_TEMPLATES = 2
# Fixed, so that the set does not depend on the day it is built.
FIRST_DAY, LAST_DAY = datetime.date(1946, 11, 22), datetime.date(2036, 11, 22)
CARDS_FROM, CARDS_UNTIL = datetime.datetime(2026, 11, 23), datetime.datetime(2036, 11, 23)


@dataclass
class Filled:
    """A value and the labelled spans inside it (offsets relative to the value)."""

    text: str
    spans: list[tuple[str, int, int]] = field(default_factory=list)


def _whole(text: str, *labels: str) -> Filled:
    return Filled(text, [(label, 0, len(text)) for label in labels])


def _code(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


class Values:
    """Faker values of one locale, with the labels each carries."""

    def __init__(self, lang: str, seed: int) -> None:
        self.lang = lang
        self.fake = Faker(LOCALES[lang])
        self.fake.seed_instance(seed)
        self.elsewhere = Faker(list(ELSEWHERE))
        self.elsewhere.seed_instance(seed)
        self.rng = random.Random(seed)

    def date(self) -> str:
        day = self.fake.date_between(start_date=FIRST_DAY, end_date=LAST_DAY)
        month = MONTHS[self.lang][day.month - 1]
        written = f"{month} {day.day}, {day.year}" if self.lang == "en" else f"{day.day} {month} {day.year}"
        numeric = day.strftime(self.rng.choice(["%d/%m/%Y", "%Y-%m-%d", "%d.%m.%Y", "%m/%d/%Y", "%d-%m-%y"]))
        return written if self.rng.random() < 0.4 else numeric

    def name(self) -> Filled:
        first, last = self.fake.first_name(), self.fake.last_name()
        if self.rng.random() < 0.15:
            middle = self.fake.first_name()
            text = f"{first} {middle} {last}"
            spans = [("middle_name", len(first) + 1, len(first) + 1 + len(middle))]
        else:
            text, spans = f"{first} {last}", []
        spans += [
            ("person", 0, len(text)),
            ("full_name", 0, len(text)),
            ("first_name", 0, len(first)),
            ("last_name", len(text) - len(last), len(text)),
        ]
        return Filled(text, spans)

    def other_name(self) -> Filled:
        """A full name as it is written in many countries: half the time from another locale
        (Zoltán Pap, Łukasz Zięcik), now and then with a middle initial (Faina D. Yefremova,
        Ravil G Yefimov) or a suffix (Kevin Veitonen II). The suffix is part of the person, not
        of the last name."""
        rng = self.rng
        fake = self._somewhere()
        first, last = fake.first_name(), fake.last_name()
        text, spans = first, [("first_name", 0, len(first))]
        if rng.random() < 0.4:
            initial = fake.first_name()[0].upper()
            spans.append(("middle_name", len(text) + 1, len(text) + 2))
            text += f" {initial}" + rng.choice([".", ".", ""])
        text += " "
        spans.append(("last_name", len(text), len(text) + len(last)))
        text += last
        if rng.random() < 0.1:
            text += " " + rng.choice(SUFFIXES)
        return Filled(text, [*spans, ("person", 0, len(text)), ("full_name", 0, len(text))])

    def address(self) -> Filled:
        street, postcode, city = (
            self.fake.street_address().replace("\n", " ").strip(),
            self.fake.postcode(),
            self.fake.city(),
        )
        if self.lang == "en":  # the US order: street, city, state and ZIP
            parts = [
                (street, "street_address"),
                (city, "city"),
                (self.fake.state_abbr(), "state_or_region"),
                (postcode, "postal_code"),
            ]
            separators = [", ", ", ", " "]
        else:
            parts = [(street, "street_address"), (postcode, "postal_code"), (city, "city")]
            separators = [", ", " "]
        if self.rng.random() < 0.2:
            separators[0] = "\n"  # as on an envelope or in a form
        return _joined(parts, separators, "address")

    def postal(self) -> Filled:
        """A fuller postal address than `address`: a flat or suite after the street, a line a
        part as on an envelope, sometimes the country; in English now and then a US military
        one (as Faker writes them)."""
        rng, fake = self.rng, self.fake
        if self.lang == "en" and rng.random() < 0.12:
            return self._military()
        street = fake.street_address().replace("\n", " ").strip()
        if rng.random() < 0.5 and not any(c in street for c in ("Apt.", "Suite")):
            unit = rng.choice(UNITS[self.lang]).format(rng.randint(1, 999))
            street += rng.choice([" ", ", ", "\n"]) + unit
        if self.lang == "en":
            parts = [
                (street, "street_address"),
                (fake.city(), "city"),
                (fake.state_abbr(), "state_or_region"),
                (fake.postcode(), "postal_code"),
            ]
            separators = [", ", ", ", " "]
        else:
            parts = [(street, "street_address"), (fake.postcode(), "postal_code"), (fake.city(), "city")]
            separators = [", ", " "]
        if rng.random() < 0.5:
            separators[0] = "\n"  # as on an envelope
        if rng.random() < 0.35:
            parts.append((fake.current_country(), "country"))
            separators.append(rng.choice([", ", "\n"]))
        return _joined(parts, separators, "address")

    def _military(self) -> Filled:
        rng, fake = self.rng, self.fake
        kind = rng.choice(["APO", "DPO", "FPO"])
        if kind == "FPO":
            first = f"{fake.military_ship()} {fake.last_name()}"
        else:
            first = fake.military_apo() if kind == "APO" else fake.military_dpo()
        parts = [
            (first, "street_address"),
            (fake.military_state(), "state_or_region"),
            (fake.postcode(), "postal_code"),
        ]
        return _joined(parts, [f"\n{kind} ", " "], "address")

    def name_lower(self) -> Filled:
        """A full name typed in lower case, as in chat."""
        name = self.name()
        lower = name.text.lower()
        return Filled(lower, name.spans) if len(lower) == len(name.text) else name

    def names(self) -> Filled:
        """Three to six given names in a list ("Ana, Luc, Mia and Tom"), each a person."""
        given = [self.fake.first_name() for _ in range(self.rng.randint(3, 6))]
        return self._listed(given, "person", "first_name")

    def surnames(self) -> Filled:
        """Two to four surnames in a list ("Lindqvist, Moreau and Kowalczyk"), each a person;
        half of them as written elsewhere."""
        surnames = [self._somewhere().last_name() for _ in range(self.rng.randint(2, 4))]
        return self._listed(surnames, "person", "last_name")

    def _somewhere(self) -> Faker:
        """The language's own Faker, or half the time one of another locale (ELSEWHERE)."""
        return self.elsewhere[self.rng.choice(ELSEWHERE)] if self.rng.random() < 0.5 else self.fake

    def _listed(self, names: list[str], *labels: str) -> Filled:
        """`names` as a list in the language ("Ana, Luc and Mia"), each name carrying `labels`."""
        text, spans = "", []
        for i, name in enumerate(names):
            if i:
                text += AND[self.lang] if i == len(names) - 1 else ", "
            spans += [(label, len(text), len(text) + len(name)) for label in labels]
            text += name
        return Filled(text, spans)

    def state(self) -> Filled:
        for method in ("state", "region", "administrative_unit", "province"):
            if hasattr(self.fake, method):
                return _whole(getattr(self.fake, method)(), "state_or_region")
        return _whole(self.fake.city(), "city")

    def slot(self, kind: str) -> Filled:
        rng, fake = self.rng, self.fake
        makers: dict[str, Callable[[], Filled]] = {
            "name": self.name,
            "name_lower": self.name_lower,
            "other_name": self.other_name,
            "names": self.names,
            "company": lambda: Filled(fake.company()),
            "work": lambda: Filled(fake.catch_phrase().title()),
            "postal": self.postal,
            "first_name": lambda: _whole(fake.first_name(), "person", "first_name"),
            "first_lower": lambda: _whole(fake.first_name().lower(), "person", "first_name"),
            "surnames": self.surnames,
            "last_name": lambda: _whole(fake.last_name(), "person", "last_name"),
            "title": lambda: Filled(rng.choice(["Mr.", "Ms.", "Dr.", "Mrs."])),
            "email": lambda: _whole(fake.email(), "email"),
            "phone": lambda: _whole(fake.phone_number(), "phone_number"),
            "address": self.address,
            "city": lambda: _whole(fake.city(), "city"),
            "postcode": lambda: _whole(fake.postcode(), "postal_code"),
            "state": self.state,
            "country": lambda: _whole(fake.country(), "country"),
            "card": lambda: _whole(fake.credit_card_number(), "payment_card", "card_number"),
            "card_expiry": lambda: _whole(
                fake.credit_card_expire(start=CARDS_FROM, end=CARDS_UNTIL), "card_expiry"
            ),
            "card_cvv": lambda: _whole(fake.credit_card_security_code(), "card_cvv"),
            "date_of_birth": lambda: _whole(self.date(), "date_of_birth", "sensitive_date"),
            "expiration_date": lambda: _whole(self.date(), "expiration_date"),
            "transaction_date": lambda: _whole(self.date(), "transaction_date"),
            "document_date": lambda: _whole(self.date(), "document_date"),
            "iban": lambda: _whole(fake.iban(), "iban"),
            "username": lambda: _whole(fake.user_name(), "username"),
            "password": lambda: _whole(fake.password(length=rng.randint(8, 16)), "password", "secret"),
            "ip": lambda: _whole(fake.ipv4() if rng.random() < 0.8 else fake.ipv6(), "ip_address"),
            "api_key": lambda: _whole(
                rng.choice(["sk-", "sk_live_", "AKIA", "key-"])
                + _code(rng, string.ascii_letters + string.digits, 24),
                "api_key",
                "secret",
            ),
            "token": lambda: _whole(
                rng.choice(["ghp_", "xoxb-", "ya29."]) + _code(rng, string.ascii_letters + string.digits, 32),
                "access_token",
                "secret",
            ),
            "passport": lambda: _whole(
                _code(rng, string.ascii_uppercase, 2) + _code(rng, string.digits, 7),
                "passport_number",
                "government_id",
            ),
            "national_id": lambda: _whole(
                fake.ssn() if hasattr(fake, "ssn") else _code(rng, string.digits, 11),
                "national_id_number",
                "government_id",
            ),
            "tax_id": lambda: _whole(
                _code(rng, string.digits, rng.choice([9, 10, 11])), "tax_id", "tax_number"
            ),
            "drivers_license": lambda: _whole(
                _code(rng, string.ascii_uppercase, 1) + _code(rng, string.digits, rng.randint(7, 12)),
                "drivers_license_number",
                "license_number",
            ),
            "bank_account": lambda: _whole(fake.bban(), "bank_account", "account_number"),
            "routing": lambda: _whole(_code(rng, string.digits, 9), "routing_number"),
            "account_id": lambda: _whole(
                rng.choice(["ACC-", "cus_", "CUST", "U"])
                + _code(rng, string.digits + string.ascii_uppercase, 8),
                "account_id",
                "sensitive_account_id",
            ),
            "recovery_code": lambda: _whole(
                " ".join(
                    _code(rng, "abcdefghjkmnpqrstuvwxyz23456789", 4)
                    + "-"
                    + _code(rng, "abcdefghjkmnpqrstuvwxyz23456789", 4)
                    for _ in range(rng.randint(1, 3))
                ),
                "recovery_code",
                "secret",
            ),
            "number": lambda: Filled(str(rng.randint(1000, 99999))),
            "amount": lambda: Filled(
                rng.choice(["{:.2f} EUR", "${:.2f}", "{:.2f} €", "£{:.2f}"]).format(rng.uniform(3, 2000))
            ),
            "time": lambda: Filled(f"{rng.randint(7, 20)}:{rng.choice(['00', '15', '30', '45'])}"),
        }
        return makers[kind]()


def _joined(parts: list[tuple[str, str]], separators: list[str], whole: str) -> Filled:
    """`parts` (value, label) joined by `separators`, the whole labelled `whole` too."""
    text, spans = parts[0][0], [(parts[0][1], 0, len(parts[0][0]))]
    for (value, label), separator in zip(parts[1:], separators, strict=True):
        text += separator
        spans.append((label, len(text), len(text) + len(value)))
        text += value
    return Filled(text, [(whole, 0, len(text)), *spans])


def _shifted(spans: list[tuple[str, int, int]], offset: int) -> list[tuple[str, int, int]]:
    """`spans` of a value moved to where the value starts in a longer text."""
    return [(label, offset + s, offset + e) for label, s, e in spans]


def fill(template: str, values: Values) -> tuple[str, list[tuple[str, int, int]]]:
    """The template with every slot filled, and the absolute spans of every label."""
    text, spans = "", []
    rest = template
    while "{" in rest:
        before, _, after = rest.partition("{")
        kind, _, rest = after.partition("}")
        text += before
        value = values.slot(kind)
        spans += _shifted(value.spans, len(text))
        text += value.text
    return text + rest, spans


def structured(lang: str, values: Values, kind: str) -> tuple[str, list[tuple[str, int, int]]]:
    """A form, CSV row, JSON object, log line, address block or chat built from the language's
    field names."""
    names = FIELDS[lang]
    rng = values.rng
    keys = rng.sample(list(names), rng.randint(2, len(names)))
    slot_of = {
        "name": "{name}",
        "email": "{email}",
        "phone": "{phone}",
        "address": "{address}",
        "date_of_birth": "{date_of_birth}",
        "iban": "{iban}",
        "username": "{username}",
    }
    if kind == "form":
        template = "\n".join(f"{names[k]}: {slot_of[k]}" for k in keys)
    elif kind == "csv":
        template = ",".join(names[k] for k in keys) + "\n" + ",".join(f'"{slot_of[k]}"' for k in keys)
    elif kind == "json":
        # Literal braces stand in as \x01 and \x02 while slots are filled (same length, same offsets).
        template = "\x01" + ", ".join(f'"{k}": "{slot_of[k]}"' for k in keys) + "\x02"
    elif kind == "log":
        template = rng.choice(
            [
                "2024-03-0{number} 12:00:01 INFO login ok user={username} ip={ip} email={email}",
                "[WARN] payment failed for {name} card={card} exp={card_expiry} from {ip}",
                "audit: user {username} changed password to {password} (session token {token})",
                "ERROR auth key={api_key} rejected for account {account_id}",
            ]
        )
    elif kind == "block":  # a letter's or a parcel label's address block
        template = rng.choice(
            [
                "{name}\n{postal}",
                "{name}\n{company}\n{postal}",
                "{title} {name}\n{postal}\n{phone}",
                "{company}\n{postal}",
                "{other_name}\n{postal}",
            ]
        )
    elif rng.random() < 0.5:  # chat
        return transcript(lang, values)
    else:
        template = (
            rng.choice(SENTENCES[lang][:-HELD_OUT_TEMPLATES])
            + "\n"
            + rng.choice(SENTENCES[lang][:-HELD_OUT_TEMPLATES])
        )
    text, spans = fill(template, values)
    return text.replace("\x01", "{").replace("\x02", "}"), spans


def transcript(lang: str, values: Values) -> tuple[str, list[tuple[str, int, int]]]:
    """A chat transcript of two to four turns between two speakers, each a given name (a person)
    or a role that is not one ("Agent", "Klant"); a turn says a clause or a plain sentence."""
    rng = values.rng
    speakers = [
        values.slot("first_name") if rng.random() < 0.7 else Filled(rng.choice(ROLES[lang])) for _ in range(2)
    ]
    text, spans = "", []
    for turn in range(rng.randint(2, 4)):
        if turn:
            text += "\n"
        speaker = speakers[turn % 2]
        spans += _shifted(speaker.spans, len(text))
        text += speaker.text + ": "
        if rng.random() < 0.6:
            clause = rng.choice(CLAUSES[lang])
            said, said_spans = fill(clause[0].upper() + clause[1:] + rng.choice([".", "?", "!", ""]), values)
        else:
            said, said_spans = rng.choice(PLAIN[lang]), []
        spans += _shifted(said_spans, len(text))
        text += said
    return text, spans


def message(lang: str, values: Values) -> tuple[str, list[tuple[str, int, int]]]:
    """An opener, one to three clauses and sometimes a sentence without personal data."""
    rng = values.rng
    clauses = rng.sample(CLAUSES[lang], rng.choice([1, 1, 2, 2, 3]))
    body = clauses[0]
    for clause in clauses[1:]:
        connector = rng.choice(CONNECTORS[lang])
        body += connector + (clause[0].upper() + clause[1:] if connector.endswith(". ") else clause)
    opener = rng.choice(OPENERS[lang])
    if not opener.endswith(","):
        body = body[0].upper() + body[1:]
    template = (f"{opener} " if opener else "") + body
    if rng.random() < 0.4:
        template += rng.choice([".", "!"]) + " " + rng.choice(PLAIN[lang])
    else:
        template += rng.choice([".", ".", "!", ""])
    if rng.random() < 0.15:
        template = rng.choice(PLAIN[lang][:-1]) + " " + template  # the last one is a sign-off
    return fill(template, values)


def build(seed: int, per_language: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    records: list[dict[str, Any]] = []
    kinds = ["sentence", "form", "csv", "json", "log", "chat", "block", "message"]
    weights = [5, 1, 1, 1, 1, 2, 1, 10]
    for lang in LOCALES:
        values = Values(lang, rng.randint(0, 2**31))
        templates = SENTENCES[lang]
        train_templates, heldout_templates = templates[:-HELD_OUT_TEMPLATES], templates[-HELD_OUT_TEMPLATES:]
        for _ in range(per_language):
            kind = rng.choices(kinds, weights)[0]
            if kind == "message":
                text, spans = message(lang, values)
            elif kind == "sentence":
                text, spans = fill(rng.choice(train_templates), values)
            else:
                text, spans = structured(lang, values, kind)
            records.append({"text": text, "lang": lang, "format": kind, "split": "train", "spans": spans})
        # Held out: templates never trained on; and texts carrying the zero-shot labels' values
        # (their templates may be trained on, their labels never were).
        for split, chosen in (
            ("heldout", heldout_templates),
            (
                "zeroshot",
                tuple(
                    t
                    for t in templates
                    if any(f"{{{k}}}" in t for k in ("passport", "routing", "recovery_code"))
                ),
            ),
        ):
            for template in chosen:
                for _ in range(per_language // 10):
                    text, spans = fill(template, values)
                    records.append(
                        {"text": text, "lang": lang, "format": "sentence", "split": split, "spans": spans}
                    )
    for record in records:
        record["spans"] = [{"label": label, "start": s, "end": e} for label, s, e in record["spans"]]
    rng.shuffle(records)
    return records


def split_validation(
    records: Sequence[dict[str, Any]], rng: random.Random
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The training texts of `records`, shuffled by `rng`, as (training, validation): the
    validation tenth is held back from training, for the threshold (pii_train) and the
    evaluation's per-format table (pii_eval), which draw it with the run's seed alike."""
    train = [r for r in records if r["split"] == "train"]
    rng.shuffle(train)
    cut = len(train) // 10
    return train[cut:], train[:cut]


def with_fixed_string_hashing(module: str, argv: list[str] | None) -> None:
    """Run `python -m module` again with PYTHONHASHSEED=0 unless it already has it: some Faker
    locales (it_IT's cities) pick from sets, whose order follows string hashing."""
    if os.environ.get("PYTHONHASHSEED") != "0":
        os.environ["PYTHONHASHSEED"] = "0"
        arguments = sys.argv[1:] if argv is None else argv
        os.execv(sys.executable, [sys.executable, "-m", module, *arguments])  # noqa: S606


def main(argv: list[str] | None = None) -> None:
    with_fixed_string_hashing("gateway.training.pii_data", argv)
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--per-language", type=int, default=900)
    args = parser.parse_args(argv)
    records = build(args.seed, args.per_language)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    with args.output.open("w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    counts = Counter((r["split"], r["lang"]) for r in records)
    print(
        f"{len(records)} texts -> {args.output}: "
        + ", ".join(f"{split}/{lang} {n}" for (split, lang), n in sorted(counts.items()))
    )


if __name__ == "__main__":
    main()
