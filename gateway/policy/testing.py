"""`shieldgate policy test`: cases in `*.test.yaml` files, fixed findings in, expected decision out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.findings import Findings, GuardScores, Span
from gateway.policy.engine import Decision, Subject, decide
from gateway.policy.loader import TEST_SUFFIX, PolicySet
from gateway.policy.model import Role, Stage, Threshold
from gateway.yamlfile import ConfigError, load_yaml_model

__all__ = ["CaseResult", "FindSpans", "run_policy_tests"]

FindSpans = Callable[[str], list[Span]]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GuardSpec(_Strict):
    unsafe: Threshold
    harm: dict[str, Threshold] = Field(default_factory=dict)
    attack: dict[str, Threshold] = Field(default_factory=dict)
    refusal: Threshold | None = None


class MessageSpec(_Strict):
    role: Role = "user"
    text: str | None = Field(default=None, description="scanned for PII by the gateway's recognizers")
    guard: GuardSpec | None = None
    pii: list[str] = Field(default_factory=list, description="labels found in this message")

    def findings(self, find: FindSpans | None) -> Findings:
        guard = None
        if self.guard is not None:
            guard = GuardScores(self.guard.unsafe, self.guard.harm, self.guard.attack, self.guard.refusal)
        spans = [Span(label, 0, 0, 1.0) for label in self.pii]
        if self.text is not None and find is not None:
            spans += find(self.text)
        return Findings(role=self.role, guard=guard, pii=tuple(spans))


class Expect(_Strict):
    action: Literal["allow", "block", "redact", "route"]
    rules: list[str] | None = None
    monitored: list[str] | None = None
    route: str | None = None
    code: str | None = None
    respond_with: Literal["error", "refusal"] | None = None


class Case(_Strict):
    name: str
    policy: str | None = None
    tenant: str = "default"
    key: str = "test"
    model: str = "large"
    stage: Stage = "input"
    tokens: int = Field(default=10, ge=0)
    messages: list[MessageSpec] = Field(min_length=1)
    expect: Expect


class TestFile(_Strict):
    policy: str | None = None
    cases: list[Case] = Field(min_length=1)


@dataclass(frozen=True)
class CaseResult:
    file: str
    name: str
    problems: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.problems


def run_policy_tests(directory: Path, policies: PolicySet, find: FindSpans | None = None) -> list[CaseResult]:
    """Run every case of every `*.test.yaml` in `directory`; bad test files raise ConfigError.

    `find` turns a message's `text` into PII spans; a case with text but no `find` is an error.
    """
    results = []
    for path in sorted(directory.glob(f"*{TEST_SUFFIX}")):
        tests = load_yaml_model(path, TestFile)
        for case in tests.cases:
            name = case.policy or tests.policy
            if name is not None and name not in policies.policies:
                raise ConfigError(path, [f"case {case.name!r}: no policy named {name!r}"])
            policy = policies.policies[name] if name else policies.for_tenant(case.tenant)
            if find is None and any(message.text is not None for message in case.messages):
                raise ConfigError(path, [f"case {case.name!r}: 'text' needs a scanner to find PII"])
            subject = Subject(
                stage=case.stage,
                tenant=case.tenant,
                key_id=case.key,
                model=case.model,
                tokens=case.tokens,
                messages=tuple(message.findings(find) for message in case.messages),
            )
            results.append(
                CaseResult(str(path), case.name, tuple(_compare(decide(policy, subject), case.expect)))
            )
    return results


def _compare(decision: Decision, expect: Expect) -> list[str]:
    problems = []
    fired = [match.rule for match in decision.fired]
    monitored = [match.rule for match in decision.monitored]
    checks = [
        ("action", expect.action, decision.action),
        ("rules", expect.rules, fired),
        ("monitored", expect.monitored, monitored),
        ("route", expect.route, decision.route),
        ("code", expect.code, decision.block.code if decision.block else None),
        ("respond_with", expect.respond_with, decision.block.respond_with if decision.block else None),
    ]
    for field, expected, actual in checks:
        if expected is not None and expected != actual:
            problems.append(f"{field}: expected {expected!r}, got {actual!r}")
    return problems
