"""The check of each national and bank identifier: valid numbers pass, a changed one fails."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from faker import Faker

from gateway.pii.identifiers import aba_routing, bsn, codice_fiscale, dni, nir, us_ssn


@pytest.mark.parametrize(
    ("check", "locale", "make"),
    [
        (us_ssn, "en_US", "ssn"),
        (nir, "fr_FR", "ssn"),
        (codice_fiscale, "it_IT", "ssn"),
        (bsn, "nl_NL", "ssn"),
        (dni, "es_ES", "nif"),
        (dni, "es_ES", "nie"),
        (aba_routing, "en_US", "aba"),
    ],
)
def test_the_numbers_faker_issues_pass(check: Callable[[str], bool], locale: str, make: str) -> None:
    fake = Faker(locale)
    fake.seed_instance(7)
    values = [getattr(fake, make)() for _ in range(300)]
    assert all(check(value) for value in values), [v for v in values if not check(v)][:3]


@pytest.mark.parametrize(
    ("check", "valid", "changed"),
    [
        (nir, "269052A01234537", "269052A01234538"),
        (nir, "1 72 02 32 013 121 26", "1 72 02 32 013 121 62"),
        (dni, "52795029R", "52795029S"),
        (dni, "Y4072500L", "Y4072500M"),
        (codice_fiscale, "RSSMRA85T10A562S", "RSSMRA85T10A562Z"),
        (bsn, "214035797", "214035798"),
        (aba_routing, "027066904", "027066905"),
    ],
)
def test_a_changed_check_fails(check: Callable[[str], bool], valid: str, changed: str) -> None:
    assert check(valid)
    assert not check(changed)


def test_ranges_never_issued_fail() -> None:
    assert not us_ssn("000-12-3456")
    assert not us_ssn("123-00-4567")
    assert not us_ssn("123-45-0000")
    assert not nir("102133201312143")  # month 13, the key right
    assert not aba_routing("500000005")  # no Federal Reserve district 50
