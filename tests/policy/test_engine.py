"""The decision engine on fixed findings: every action, precedence, scopes and monitor mode."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.findings import Findings, GuardScores, Span
from gateway.policy import CompiledPolicy, Subject, decide
from gateway.policy.engine import guard_only_blocks
from gateway.policy.model import Rule


def _policy(*rules: dict[str, Any], mode: str = "enforce") -> CompiledPolicy:
    return CompiledPolicy("test", "v1", tuple(Rule.model_validate(rule) for rule in rules), mode)


def _subject(*messages: Findings, stage: str = "input", **context: Any) -> Subject:
    values = {"tenant": "acme", "key_id": "team-a", "model": "large", "tokens": 50, **context}
    return Subject(stage=stage, messages=messages, **values)  # type: ignore[arg-type]


def _user(unsafe: float = 0.0, harm: dict[str, float] | None = None, **kw: Any) -> Findings:
    return Findings(
        "user", GuardScores(unsafe, harm or {}, kw.pop("attack", {}), kw.pop("refusal", None)), **kw
    )


BLOCK_VIOLENCE = {
    "id": "b",
    "when": {"harm": {"any_of": ["violence_and_weapons"], "above": 0.5}},
    "action": "block",
}
ROUTE_SHORT = {"id": "r", "when": {"tokens_below": 100}, "action": "route", "route": {"model": "small"}}
REDACT_EMAIL = {"id": "x", "when": {"pii": ["email"]}, "action": "redact"}
ALLOW_REDTEAM = {"id": "a", "when": {"tenants": ["redteam"]}, "action": "allow"}


@pytest.mark.parametrize(
    ("rules", "subject", "action", "fired"),
    [
        ([BLOCK_VIOLENCE], _subject(_user(0.9, {"violence_and_weapons": 0.8})), "block", ["b"]),
        ([BLOCK_VIOLENCE], _subject(_user(0.9, {"violence_and_weapons": 0.5})), "allow", []),
        ([ROUTE_SHORT], _subject(_user(), tokens=99), "route", ["r"]),
        ([ROUTE_SHORT], _subject(_user(), tokens=100), "allow", []),
        ([REDACT_EMAIL], _subject(_user(pii=(Span("email", 0, 5, 0.9),))), "redact", ["x"]),
        ([REDACT_EMAIL], _subject(_user(pii=(Span("person", 0, 5, 0.9),))), "allow", []),
        # allow is final: rules after it are not read
        (
            [ALLOW_REDTEAM, BLOCK_VIOLENCE],
            _subject(_user(0.9, {"violence_and_weapons": 0.9}), tenant="redteam"),
            "allow",
            ["a"],
        ),
        # a block discards the route chosen before it
        ([ROUTE_SHORT, BLOCK_VIOLENCE], _subject(_user(0.9, {"violence_and_weapons": 0.9})), "block", ["b"]),
        # redact and route add up
        ([REDACT_EMAIL, ROUTE_SHORT], _subject(_user(pii=(Span("email", 0, 5, 0.9),))), "redact", ["x", "r"]),
    ],
)
def test_actions_and_precedence(
    rules: list[dict[str, Any]], subject: Subject, action: str, fired: list[str]
) -> None:
    """Each table row: rules in order, a subject, the resulting action and the rules that fired."""
    decision = decide(_policy(*rules), subject)
    assert decision.action == action
    assert [match.rule for match in decision.fired] == fired


def test_first_route_wins() -> None:
    """Of two matching route rules, the first one picks the model."""
    second = {"id": "r2", "when": {}, "action": "route", "route": {"model": "large"}}
    decision = decide(_policy(ROUTE_SHORT, second), _subject(_user(), tokens=10))
    assert decision.route == "small"


def test_monitor_records_without_enforcing() -> None:
    """A rule in monitor mode, or a policy in monitor mode, only records what it would do."""
    rule = {**BLOCK_VIOLENCE, "mode": "monitor"}
    subject = _subject(_user(0.9, {"violence_and_weapons": 0.9}))
    for policy in (_policy(rule), _policy(BLOCK_VIOLENCE, mode="monitor")):
        decision = decide(policy, subject)
        assert decision.action == "allow"
        assert [(m.rule, m.action) for m in decision.monitored] == [("b", "block")]


def test_monitor_action_only_records() -> None:
    """The monitor action never changes the request."""
    decision = decide(
        _policy({"id": "m", "when": {"pii": ["any"]}, "action": "monitor"}),
        _subject(_user(pii=(Span("iban", 0, 4, 1.0),))),
    )
    assert decision.action == "allow"
    assert [m.reason for m in decision.monitored] == ["pii=iban"]


def test_reason_names_scores_not_text() -> None:
    """The reason says which scores and context matched."""
    rule = {
        "id": "b",
        "when": {
            "roles": ["user"],
            "unsafe_above": 0.5,
            "attack": {"any_of": ["any"], "above": 0.7},
            "tenants": ["acme"],
        },
        "action": "block",
    }
    decision = decide(
        _policy(rule), _subject(_user(0.8, attack={"jailbreak_attempt": 0.91, "prompt_injection": 0.75}))
    )
    assert (
        decision.fired[0].reason
        == "tenant=acme role=user unsafe=0.80>0.50 attack.jailbreak_attempt=0.91>0.70"
    )


def test_message_conditions_must_hold_in_one_message() -> None:
    """A role condition and a score condition must be met by the same message."""
    rule = {"id": "b", "when": {"roles": ["tool"], "unsafe_above": 0.5}, "action": "block"}
    subject = _subject(_user(0.9), Findings("tool", GuardScores(0.1)))
    assert decide(_policy(rule), subject).action == "allow"
    subject = _subject(_user(0.1), Findings("tool", GuardScores(0.9)))
    assert decide(_policy(rule), subject).action == "block"


def test_guard_conditions_never_match_without_guard_scores() -> None:
    """When the guard did not run, rules on its scores do not fire."""
    rule = {"id": "b", "when": {"unsafe_above": 0.0}, "action": "block"}
    assert decide(_policy(rule), _subject(Findings("user"))).action == "allow"


def test_stage_filters_rules() -> None:
    """Input rules do not apply to responses and output rules not to prompts."""
    rule = {"id": "o", "stage": "output", "when": {"refusal_above": 0.5}, "action": "block"}
    answer = Findings("assistant", GuardScores(0.0, refusal=0.9))
    assert decide(_policy(rule), _subject(answer, stage="output")).action == "block"
    assert decide(_policy(rule), _subject(answer, stage="input")).action == "allow"


@pytest.mark.parametrize(
    ("when", "context", "matches"),
    [
        ({"keys": ["team-a"]}, {}, True),
        ({"keys": ["team-b"]}, {}, False),
        ({"models": ["large"]}, {}, True),
        ({"models": ["small"]}, {}, False),
        ({"tokens_above": 40}, {"tokens": 41}, True),
        ({"tokens_above": 40}, {"tokens": 40}, False),
    ],
)
def test_request_conditions(when: dict[str, Any], context: dict[str, Any], matches: bool) -> None:
    """Key, model and length conditions select requests."""
    decision = decide(_policy({"id": "c", "when": when, "action": "block"}), _subject(_user(), **context))
    assert (decision.action == "block") is matches


def test_redaction_scope_follows_the_rule() -> None:
    """A redaction covers the rule's labels (or all found) in the rule's roles, with its operators."""
    rule = {
        "id": "x",
        "when": {"roles": ["tool"], "pii": ["email", "iban"]},
        "action": "redact",
        "redact": {"operator": "mask", "operators": {"iban": "partial"}},
    }
    decision = decide(_policy(rule), _subject(Findings("tool", pii=(Span("iban", 0, 4, 1.0),))))
    (redaction,) = decision.redactions
    assert redaction.labels == frozenset({"email", "iban"})
    assert redaction.roles == frozenset({"tool"})
    assert (redaction.operator, dict(redaction.operators)) == ("mask", {"iban": "partial"})


def test_guard_only_blocks_when_every_enforced_guard_rule_at_the_stage_blocks() -> None:
    """Then a decision without guard scores stands unless the guard's verdict blocks."""
    attack = {"attack": {"any_of": ["jailbreak_attempt"], "above": 0.5}}
    redact_pii = {"id": "r", "when": {"pii": ["email"]}, "action": "redact"}
    block_attack = {"id": "b", "when": attack, "action": "block"}
    route_attack = {"id": "t", "when": attack, "action": "route", "route": {"model": "small"}}
    redact_unsafe = {"id": "u", "stage": "both", "when": {"unsafe_above": 0.5}, "action": "redact"}
    allow_unsafe = {"id": "a", "when": {"unsafe_above": 0.5}, "action": "allow"}
    assert guard_only_blocks(_policy(redact_pii, block_attack), "input")
    assert not guard_only_blocks(_policy(redact_pii, route_attack), "input")
    assert not guard_only_blocks(_policy(redact_unsafe), "input")
    assert not guard_only_blocks(_policy(allow_unsafe), "input")
    # Rules that only record, and rules of the other stage, change nothing sent upstream.
    assert guard_only_blocks(_policy({**route_attack, "mode": "monitor"}), "input")
    assert guard_only_blocks(_policy(route_attack, mode="monitor"), "input")
    assert guard_only_blocks(_policy({**redact_unsafe, "stage": "output"}), "input")
    assert not guard_only_blocks(_policy(redact_unsafe), "output")


def test_the_default_policy_lets_the_guard_judge_prompts_during_the_call() -> None:
    from gateway.policy.loader import default_policy_dir, load_policies

    policies = load_policies(default_policy_dir())
    assert guard_only_blocks(policies.for_tenant("anyone"), "input")
