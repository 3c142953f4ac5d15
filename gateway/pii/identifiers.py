"""Validators for national and bank identifiers whose format carries a check.

Each takes the matched text and says whether it is a valid number of its kind: the check digit
or letter its issuer defines, and the ranges the issuer never assigns. They back recognizers in
gateway.pii.patterns; a check passed by chance is why the 9-digit kinds also need a word
before them there ("BSN", "routing").
"""

from __future__ import annotations

__all__ = ["aba_routing", "bsn", "codice_fiscale", "dni", "nir", "us_ssn"]


def _digits(candidate: str) -> str:
    return "".join(c for c in candidate if c.isdigit())


def us_ssn(candidate: str) -> bool:
    """US Social Security number (123-45-6789): area not 000, 666 or 900-999; group, serial not 0."""
    area, group, serial = candidate.split("-")
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def nir(candidate: str) -> bool:
    """French NIR (numéro de sécurité sociale): 13 characters, then 97 minus their value mod 97.

    Digits 4-5 are a month (or 20-42, 50-99), 6-7 a department (Corsica's 2A and 2B count as 19
    and 18 in the sum).
    """
    compact = candidate.replace(" ", "").upper()
    if len(compact) != 15:
        return False
    body = compact[:13]
    if body[5:7] in ("2A", "2B"):
        body = body[:5] + ("19" if body[6] == "A" else "18") + body[7:]
    if not body.isdigit() or not compact[13:].isdigit():
        return False
    month, department = int(body[3:5]), body[5:7]
    if not (1 <= month <= 12 or 20 <= month <= 42 or month >= 50) or department == "00":
        return False  # 20-42 and 50-99: the month was unknown when the number was given
    return int(compact[13:]) == 97 - int(body) % 97


_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"


def dni(candidate: str) -> bool:
    """Spanish DNI (8 digits) or NIE (X, Y or Z and 7 digits): the letter is the number mod 23."""
    compact = candidate.replace("-", "").replace(" ", "").upper()
    number = compact[:-1]
    if number[0] in "XYZ":
        number = str("XYZ".index(number[0])) + number[1:]
    return number.isdigit() and _DNI_LETTERS[int(number) % 23] == compact[-1]


_CF_ODD = dict(
    zip(
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8,
         12, 14, 16, 10, 22, 25, 24, 23],
        strict=True,
    )
)  # fmt: skip


def codice_fiscale(candidate: str) -> bool:
    """Italian codice fiscale: the 16th letter from the first 15 (odd places by a table, even by value)."""
    code = candidate.upper()
    total = 0
    for position, c in enumerate(code[:15]):
        if position % 2 == 0:  # 1st, 3rd, ... place
            total += _CF_ODD[c]
        else:
            total += int(c) if c.isdigit() else ord(c) - ord("A")
    return chr(ord("A") + total % 26) == code[15]


def bsn(candidate: str) -> bool:
    """Dutch burgerservicenummer: the 11-proef (9 x d1 + 8 x d2 + ... + 2 x d8 - d9, mod 11 = 0)."""
    digits = [int(c) for c in _digits(candidate)]
    if len(digits) != 9 or digits[0] == digits[1] == 0:
        return False
    total = sum(d * w for d, w in zip(digits[:8], range(9, 1, -1), strict=True)) - digits[8]
    return total % 11 == 0


def aba_routing(candidate: str) -> bool:
    """US ABA routing number: 3, 7, 1 weights sum to a multiple of 10; a Federal Reserve prefix."""
    digits = [int(c) for c in _digits(candidate)]
    if len(digits) != 9:
        return False
    prefix = digits[0] * 10 + digits[1]
    if not (prefix <= 12 or 21 <= prefix <= 32 or 61 <= prefix <= 72 or prefix == 80):
        return False
    return sum(d * w for d, w in zip(digits, (3, 7, 1) * 3, strict=True)) % 10 == 0
