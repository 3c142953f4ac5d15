"""Loading a policy directory: validation with file and line, inheritance, tenants, versions."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.policy import PolicyErrors, load_policies

DEFAULT = """
rules:
  - id: block-attacks
    when: {attack: {any_of: [jailbreak_attempt], above: 0.8}}
    action: block
  - id: to-large
    when: {tokens_above: 500}
    action: route
    route: {model: large}
"""


UNKNOWN_HARM = "rules:\n  - id: a\n    when:\n      harm: {any_of: [rudeness]}\n    action: block\n"


def _write(directory: Path, **files: str) -> Path:
    for name, text in files.items():
        (directory / f"{name}.yaml").write_text(text)
    return directory


def test_tenant_policy_inherits_and_overrides(tmp_path: Path) -> None:
    """A child's rules come first, a rule with a parent's id replaces it, the rest is inherited."""
    child = """
extends: default
tenants: [acme, initech]
mode: monitor
rules:
  - id: to-large
    when: {tokens_above: 100}
    action: route
    route: {model: small}
  - id: tag-pii
    when: {pii: [any]}
    action: monitor
"""
    policies = load_policies(_write(tmp_path, default=DEFAULT, acme=child), aliases=["small", "large"])

    acme = policies.for_tenant("initech")
    assert acme.name == "acme"
    assert [rule.id for rule in acme.rules] == ["to-large", "tag-pii", "block-attacks"]
    assert [rule.mode for rule in acme.rules] == ["monitor", "monitor", "enforce"]
    assert policies.for_tenant("someone-else").name == "default"


def test_versions_follow_content_and_parents(tmp_path: Path) -> None:
    """Editing a parent changes its children's versions too."""
    _write(tmp_path, default=DEFAULT, acme="extends: default\ntenants: [acme]\n")
    before = load_policies(tmp_path).versions
    _write(tmp_path, default=DEFAULT + "description: edited\n")
    after = load_policies(tmp_path).versions
    assert before["default"] != after["default"]
    assert before["acme"] != after["acme"]
    assert len(after["acme"]) == 12


def test_custom_labels_are_inherited(tmp_path: Path) -> None:
    """A label declared in a parent can be used in a child; undeclared ones cannot."""
    parent = DEFAULT + "custom_labels: {employee_id: an employee number}\n"
    child = "extends: default\nrules:\n  - {id: e, when: {pii: [employee_id]}, action: redact}\n"
    policies = load_policies(_write(tmp_path, default=parent, child=child))
    assert policies.custom_labels["child"] == {"employee_id": "an employee number"}


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"other": DEFAULT}, "no default.yaml"),
        (
            {"default": "rules:\n  - id: a\n    action: explode\n"},
            "default.yaml: line 3, field 'rules.0.action'",
        ),
        (
            {"default": "rules:\n  - id: a\n    when: {pii: [shoe_size]}\n    action: block\n"},
            "default.yaml: line 3, field 'rules.0.when.pii': Value error, unknown PII label: shoe_size",
        ),
        (
            {"default": UNKNOWN_HARM},
            "line 4, field 'rules.0.when.harm.any_of': Value error, unknown harm category: rudeness",
        ),
        (
            {"default": "rules:\n  - id: a\n    when: {unsafe_above: 1.5}\n    action: block\n"},
            "line 3, field 'rules.0.when.unsafe_above': Input should be less than or equal to 1",
        ),
        (
            {"default": "rules:\n  - id: a\n    action: route\n    route: {model: huge}\n"},
            "line 4, field 'rules.0.route.model': Value error, unknown model alias: huge",
        ),
        ({"default": "rules:\n  - id: a\n    action: route\n"}, "action 'route' needs"),
        ({"default": "rules:\n  - id: a\n    action: allow\n    block: {}\n"}, "'block' settings given"),
        ({"default": "rules:\n  - {id: a, action: allow}\n  - {id: a, action: allow}\n"}, "repeated: a"),
        (
            {"default": DEFAULT, "x": "extends: nowhere\n"},
            "x.yaml: field 'extends': no policy named 'nowhere'",
        ),
        ({"default": "extends: x\n", "x": "extends: default\n"}, "cycle"),
        (
            {"default": DEFAULT, "a": "tenants: [acme]\n", "b": "tenants: [acme]\n"},
            "b.yaml: tenant 'acme' is already claimed by a",
        ),
        ({"default": "rules: [\n"}, "default.yaml: line 2: invalid YAML"),
    ],
)
def test_invalid_directories_are_refused(tmp_path: Path, files: dict[str, str], expected: str) -> None:
    """Each mistake is reported with the file, and the line and field where there is one."""
    with pytest.raises(PolicyErrors) as error:
        load_policies(_write(tmp_path, **files), aliases=["small", "large"])
    assert expected in str(error.value)


def test_test_files_are_not_policies(tmp_path: Path) -> None:
    """`*.test.yaml` files are skipped when loading."""
    _write(tmp_path, default=DEFAULT)
    (tmp_path / "default.test.yaml").write_text("cases: []\n")
    assert list(load_policies(tmp_path).policies) == ["default"]
