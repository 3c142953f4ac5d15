"""Policy tests in YAML: passing and failing cases are reported, and the shipped ones pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import load_config
from gateway.pii import find_spans
from gateway.policy import default_policy_dir, load_policies, run_policy_tests
from gateway.yamlfile import ConfigError

REPO = Path(__file__).resolve().parents[2]


def test_failing_case_says_what_differs(tmp_path: Path) -> None:
    """A case whose expectation does not hold fails with the field, expected and actual values."""
    (tmp_path / "default.yaml").write_text("rules:\n  - {id: a, when: {pii: [email]}, action: redact}\n")
    (tmp_path / "default.test.yaml").write_text(
        "cases:\n"
        "  - {name: ok, messages: [{pii: [email]}], expect: {action: redact, rules: [a]}}\n"
        "  - {name: wrong, messages: [{pii: [email]}], expect: {action: block}}\n"
    )
    results = run_policy_tests(tmp_path, load_policies(tmp_path))

    assert [(r.name, r.passed) for r in results] == [("ok", True), ("wrong", False)]
    assert results[1].problems == ("action: expected 'block', got 'redact'",)


def test_unknown_policy_in_a_case_is_an_error(tmp_path: Path) -> None:
    """A case naming a policy that does not exist is a mistake in the test file."""
    (tmp_path / "default.yaml").write_text("rules: []\n")
    (tmp_path / "default.test.yaml").write_text(
        "cases:\n  - {name: x, policy: nope, messages: [{}], expect: {action: allow}}\n"
    )
    with pytest.raises(ConfigError, match="no policy named 'nope'"):
        run_policy_tests(tmp_path, load_policies(tmp_path))


@pytest.mark.parametrize("directory", [default_policy_dir(), REPO / "policies"])
def test_shipped_policies_pass_their_tests(directory: Path) -> None:
    """The bundled default and the documented examples validate against the bundled config and pass."""
    aliases = list(load_config(None).models)
    results = run_policy_tests(directory, load_policies(directory, aliases), find_spans)
    assert results
    assert [r.name for r in results if not r.passed] == []


def test_example_directory_carries_the_bundled_default() -> None:
    """policies/default.yaml and its tests are the very files the package ships."""
    for name in ("default.yaml", "default.test.yaml"):
        assert (REPO / "policies" / name).read_bytes() == (default_policy_dir() / name).read_bytes()


def test_text_cases_are_scanned_by_the_recognizers(tmp_path: Path) -> None:
    """A case may give the message text; the recognizers turn it into PII findings."""
    (tmp_path / "default.yaml").write_text(
        "rules:\n  - {id: cards, when: {pii: [payment_card]}, action: redact}\n"
    )
    (tmp_path / "default.test.yaml").write_text(
        "cases:\n"
        "  - {name: card, messages: [{text: 'pay with 4111 1111 1111 1111'}], expect: {action: redact}}\n"
        "  - {name: no card, messages: [{text: 'order 4111 1111 1111 1112'}], expect: {action: allow}}\n"
    )
    results = run_policy_tests(tmp_path, load_policies(tmp_path), find_spans)
    assert [(r.name, r.passed) for r in results] == [("card", True), ("no card", True)]
    with pytest.raises(ConfigError, match="'text' needs a scanner"):
        run_policy_tests(tmp_path, load_policies(tmp_path))
