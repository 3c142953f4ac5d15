"""Recognizers for structured identifiers: a regular expression, then a validator.

A candidate only counts when its validator accepts it (Luhn for card numbers, ISO 7064
mod 97 for IBANs, the `ipaddress` module for IP addresses, the check digit or letter of the
national and bank identifiers in gateway.pii.identifiers), which keeps false positives rare.
A bare 9-digit number passes a one-digit check one time in ten or eleven, so the kinds written
that way (a Dutch BSN, a US routing number) also need their name shortly before them.

Some validators also check the spans the PII model proposes (CHECKS below), and `phone` the
model's phone numbers (there is no phone recognizer: a run of digits is a phone number only in
context). Free text PII (names, addresses) needs the PII model, not these.
"""

from __future__ import annotations

import ipaddress
import re
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from gateway.findings import Findings, Span
from gateway.pii.identifiers import aba_routing, bsn, codice_fiscale, dni, nir, us_ssn
from gateway.policy.model import Stage

__all__ = ["PATTERNS", "Pattern", "find_spans", "passes_check", "pattern_scan"]


@dataclass(frozen=True)
class Pattern:
    """One recognizer: what it finds, how, and what a match must also satisfy."""

    label: str
    regex: re.Pattern[str]
    validate: Callable[[str], bool] | None = None
    score: float = 0.99
    context: re.Pattern[str] | None = None  # must occur in the CONTEXT_CHARS before a match
    digits: bool = True  # every match holds a digit: a text without one is not searched


CONTEXT_CHARS = 40


def luhn(candidate: str, shortest: int = 13) -> bool:
    """The Luhn checksum of a card number of `shortest` to 19 digits."""
    digits = [int(c) for c in candidate if c.isdigit()]
    if not shortest <= len(digits) <= 19:
        return False
    total = 0
    for position, digit in enumerate(reversed(digits)):
        if position % 2:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


_IBAN_LENGTHS = {
    "AT": 20, "BE": 16, "CH": 21, "DE": 22, "DK": 18, "ES": 24, "FI": 18, "FR": 27, "GB": 22, "IE": 22,
    "IT": 27, "LU": 20, "NL": 18, "NO": 15, "PL": 28, "PT": 25, "SE": 24,
}  # fmt: skip


def iban(candidate: str) -> bool:
    """ISO 13616: the country's length and the mod-97 check digits."""
    compact = candidate.replace(" ", "").upper()
    expected = _IBAN_LENGTHS.get(compact[:2])
    if expected is not None and len(compact) != expected:
        return False
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(string.ascii_uppercase.index(c) + 10) if c.isalpha() else c for c in rearranged)
    return int(number) % 97 == 1


def ip(candidate: str) -> bool:
    try:
        address = ipaddress.ip_address(candidate)
    except ValueError:
        return False
    return not address.is_unspecified


# Digits with the separators people write them with, then an optional extension ("x123", "ext. 12").
_PHONE = re.compile(r"(\+?[\d\s().\-/]+?)(?:\s*(?:x|ext\.?|extension)\s*\d{1,6})?", re.IGNORECASE)


def phone(candidate: str) -> bool:
    """A phone number's shape: 7 to 15 digits before any extension (E.164 allows at most 15).

    No stricter check holds across countries, and a few small ones have shorter numbers (Niue's
    are 4 digits), which this rejects; what it rejects in practice is a postal code, a house
    number or a span that took a word with it ("063 966-Fax").
    """
    match = _PHONE.fullmatch(candidate)
    return match is not None and 7 <= sum(c.isdigit() for c in match.group(1)) <= 15


_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,24}\b")

PATTERNS: tuple[Pattern, ...] = (
    Pattern("email", _EMAIL, digits=False),
    # Not inside a longer token: the digits of an IBAN or a licence number can pass Luhn by chance.
    # Written whole or in the groups cards print (4-4-4-4, up to 4-4-4-4-3; 4-6-5 and 4-6-4), so
    # a date and the digits after it in a log line, or a phone number, do not line up as one.
    Pattern(
        "payment_card",
        re.compile(
            r"(?<![\w-])(?:\d{13,19}|\d{4}([ -])\d{4}\1\d{4}\1\d{1,4}(?:\1\d{1,3})?"
            r"|\d{4}([ -])\d{6}\2\d{4,5})(?![\w-])"
        ),
        luhn,
    ),
    Pattern("iban", re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b"), iban),
    # A full stop after the address ends the sentence; one and a digit would make it a longer number.
    Pattern("ip_address", re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?!\w|\.\d)"), ip),
    Pattern(
        "ip_address",
        re.compile(r"(?<![\w:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])"),
        ip,
        digits=False,
    ),
    Pattern(  # OpenAI, Anthropic, Stripe (secret and restricted), AWS, Google
        "api_key",
        re.compile(
            r"\b(?:sk-(?:ant-|proj-)?[A-Za-z0-9_-]{20,}|[sr]k_(?:live|test)_[A-Za-z0-9]{24,}"
            r"|AKIA[0-9A-Z]{16}|AIza[0-9A-Za-z_-]{35})\b"
        ),
        digits=False,
    ),
    Pattern(  # GitHub personal access tokens, Slack tokens, Google OAuth access tokens
        "access_token",
        re.compile(
            r"\b(?:ghp_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{22,}|xox[abposr]-[A-Za-z0-9-]{10,})\b|\bya29\.[\w-]{20,}"
        ),
        digits=False,
    ),
    Pattern(
        "access_token",
        re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
        digits=False,
    ),
    Pattern("national_id_number", re.compile(r"(?<![\w-])\d{3}-\d{2}-\d{4}(?![\w-])"), us_ssn),
    Pattern(  # France's NIR, spaced as on the carte Vitale or not; 1 or 2 first (3, 4, 7, 8: temporary
        # numbers, rare, and a 15-digit American Express number opens with 34 or 37)
        "national_id_number",
        re.compile(r"(?<!\w)[12] ?\d\d ?\d\d ?(?:\d\d|2[AB]) ?\d{3} ?\d{3} ?\d\d(?!\w)"),
        nir,
    ),
    Pattern("national_id_number", re.compile(r"\b(?:\d{8}|[XYZ]-?\d{7})-?[A-Z]\b"), dni),  # Spain
    Pattern(  # Italy's codice fiscale; a digit taken by a namesake's code becomes a letter of LMNPQRSTUV
        "national_id_number",
        re.compile(r"\b[A-Z]{6}[\dL-NP-V]{2}[A-EHLMPR-T][\dL-NP-V]{2}[A-Z][\dL-NP-V]{3}[A-Z]\b"),
        codice_fiscale,
        digits=False,  # a namesake's code can have every digit turned into a letter
    ),
    Pattern(
        "national_id_number",
        re.compile(r"(?<![\w.-])\d{4}[ .]?\d\d[ .]?\d{3}(?![\w-]|\.\d)"),
        bsn,
        context=re.compile(r"(?i)\b(?:bsn|burgerservicenummer|sofi-?nummer)"),
    ),
    Pattern(
        "routing_number",
        re.compile(r"(?<![\w-])\d{9}(?![\w-])"),
        aba_routing,
        context=re.compile(r"(?i)routing|\baba\b|\brtn\b"),
    ),
)


_DIGIT = re.compile(r"\d")


def find_spans(text: str, patterns: Sequence[Pattern] = PATTERNS) -> list[Span]:
    """Every validated match in `text`, in order of position."""
    has_digit = _DIGIT.search(text) is not None
    spans = [
        Span(pattern.label, match.start(), match.end(), pattern.score)
        for pattern in patterns
        if has_digit or not pattern.digits
        for match in pattern.regex.finditer(text)
        if (pattern.validate is None or pattern.validate(match.group()))
        and (
            pattern.context is None
            or pattern.context.search(text, max(0, match.start() - CONTEXT_CHARS), match.start())
        )
    ]
    return sorted(spans, key=lambda span: (span.start, -span.end))


# Checks for the labels whose written form is fully specified (a standard syntax, a
# checksum), and for phone numbers the shape every one has, applied to text the PII model
# proposes: text that fails is not one of them.
# They are the recognizers' validators with the model's context standing in for the search
# pattern's caution: a 12-digit number the model calls a card (Maestro numbers can be that
# short) or an IBAN in lower case passes. API keys and tokens come in more shapes than the
# recognizers know, so they are not checked.
CHECKS: dict[str, Callable[[str], bool]] = {
    "email": lambda text: _EMAIL.fullmatch(text) is not None,
    "payment_card": lambda text: re.fullmatch(r"(?:\d[ -]?){11,18}\d", text) is not None and luhn(text, 12),
    "iban": lambda text: (
        re.fullmatch(r"[A-Za-z]{2}\d{2}(?: ?[A-Za-z0-9]){11,30}", text) is not None and iban(text)
    ),
    "ip_address": ip,
    "phone_number": phone,
}


def passes_check(label: str, candidate: str) -> bool | None:
    """Whether `candidate` as a whole passes the check of `label`; None for labels without one."""
    check = CHECKS.get(label)
    return None if check is None else check(candidate)


async def pattern_scan(texts: Sequence[tuple[str, str]], stage: Stage, prompt: str = "") -> list[Findings]:
    """The recognizers as a pipeline scanner: PII spans only, no guard scores."""
    return [Findings(role=role, pii=tuple(find_spans(text))) for role, text in texts]
