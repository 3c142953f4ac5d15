"""`shieldgate policy test`: cases in `*.test.yaml` files, findings in, expected decision out.

A message's findings are written out (`guard`, `pii`) or found in its `text` by a scanner (the
gateway's own in `shieldgate policy test`: the guard, the recognizers and, when enabled, the PII
model). Written-out guard scores take the place of the scanner's; written-out PII labels add to
what the scanner found.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.findings import Findings, GuardScores, Span
from gateway.policy.engine import CompiledPolicy, Decision, Subject, decide
from gateway.policy.loader import TEST_SUFFIX, PolicySet
from gateway.policy.model import Role, Stage, Threshold
from gateway.yamlfile import ConfigError, load_yaml_model

if TYPE_CHECKING:
    from gateway.pipeline import Scan

__all__ = ["CaseResult", "run_policy_tests"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GuardSpec(_Strict):
    unsafe: Threshold
    harm: dict[str, Threshold] = Field(default_factory=dict)
    attack: dict[str, Threshold] = Field(default_factory=dict)
    refusal: Threshold | None = None


class MessageSpec(_Strict):
    role: Role = "user"
    text: str | None = Field(default=None, description="scanned by the gateway's scanner")
    guard: GuardSpec | None = Field(default=None, description="scores used instead of the scanner's")
    pii: list[str] = Field(default_factory=list, description="labels found in this message")

    def findings(self, scanned: Findings | None) -> Findings:
        guard = scanned.guard if scanned is not None else None
        if self.guard is not None:
            guard = GuardScores(self.guard.unsafe, self.guard.harm, self.guard.attack, self.guard.refusal)
        spans = [Span(label, 0, 0, 1.0) for label in self.pii]
        if scanned is not None:
            spans += scanned.pii
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


def run_policy_tests(directory: Path, policies: PolicySet, scan: Scan | None = None) -> list[CaseResult]:
    """Run every case of every `*.test.yaml` in `directory`; bad test files raise ConfigError.

    `scan` finds what is in a message's `text`; a case with text but no `scan` is an error.
    """
    cases = []
    for path in sorted(directory.glob(f"*{TEST_SUFFIX}")):
        tests = load_yaml_model(path, TestFile)
        for case in tests.cases:
            name = case.policy or tests.policy
            if name is not None and name not in policies.policies:
                raise ConfigError(path, [f"case {case.name!r}: no policy named {name!r}"])
            if scan is None and any(message.text is not None for message in case.messages):
                raise ConfigError(path, [f"case {case.name!r}: 'text' needs a scanner"])
            policy = policies.policies[name] if name else policies.for_tenant(case.tenant)
            cases.append((str(path), case, policy))
    return asyncio.run(_run(cases, scan))


async def _run(cases: list[tuple[str, Case, CompiledPolicy]], scan: Scan | None) -> list[CaseResult]:
    results = []
    for path, case, policy in cases:
        subject = Subject(
            stage=case.stage,
            tenant=case.tenant,
            key_id=case.key,
            model=case.model,
            tokens=case.tokens,
            messages=await _findings(case, scan),
        )
        results.append(CaseResult(path, case.name, tuple(_compare(decide(policy, subject), case.expect))))
    return results


async def _findings(case: Case, scan: Scan | None) -> tuple[Findings, ...]:
    texts = [(m.role, m.text) for m in case.messages if m.text is not None]
    scanned = iter(await scan(texts, case.stage, _last_user_text(case)) if scan and texts else [])
    return tuple(m.findings(next(scanned) if m.text is not None else None) for m in case.messages)


def _last_user_text(case: Case) -> str:
    texts = [m.text for m in case.messages if m.role == "user" and m.text is not None]
    return texts[-1] if texts else ""


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
