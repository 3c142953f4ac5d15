"""The policy engine: a pure function from findings and request context to a decision.

Rules are read in order (a tenant policy's own rules first, then those it extends):
- `allow` and `block` are final: the first one that matches ends the evaluation (a block
  discards the redactions and route chosen before it);
- `redact` rules add up (for a label named by two rules, the first rule's operator wins);
- `route`: the first matching rule picks the model;
- `monitor` rules, and any rule in monitor mode, only record what they would have done.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gateway.findings import Findings
from gateway.policy.model import ANY, BlockSpec, Condition, LabelCondition, Operator, Rule, Stage

__all__ = [
    "ACTION_RANK",
    "CompiledPolicy",
    "Decision",
    "Redaction",
    "RuleMatch",
    "Subject",
    "decide",
    "guard_only_blocks",
]


# Actions from weakest to strongest, the order `Decision.action` picks by.
ACTION_RANK = {"allow": 0, "route": 1, "redact": 2, "block": 3}


@dataclass(frozen=True, slots=True)
class Subject:
    """What the engine decides on: the request's context and one `Findings` per message."""

    stage: Stage
    tenant: str
    key_id: str
    model: str
    tokens: int
    messages: tuple[Findings, ...]


@dataclass(frozen=True, slots=True)
class CompiledPolicy:
    """A policy with its inheritance resolved: the rules in evaluation order."""

    name: str
    version: str
    rules: tuple[Rule, ...]
    mode: str = "enforce"


@dataclass(frozen=True, slots=True)
class RuleMatch:
    """A rule that matched, what it does, and why (scores and labels, never text)."""

    rule: str
    action: str
    reason: str


@dataclass(frozen=True, slots=True)
class Redaction:
    """Labels to redact in messages of `roles` (None: every label found / every role)."""

    labels: frozenset[str] | None
    operator: Operator
    operators: Mapping[str, Operator]
    roles: frozenset[str] | None


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome for one subject under one policy version."""

    policy: str
    version: str
    stage: Stage
    block: BlockSpec | None = None
    route: str | None = None
    redactions: tuple[Redaction, ...] = ()
    fired: tuple[RuleMatch, ...] = ()
    monitored: tuple[RuleMatch, ...] = ()

    def operator_for(self, label: str, role: str) -> Operator | None:
        """The first redaction covering `label` in a message of `role` decides; None: keep it."""
        for redaction in self.redactions:
            if redaction.roles is not None and role not in redaction.roles:
                continue
            if redaction.labels is None or label in redaction.labels:
                return redaction.operators.get(label, redaction.operator)
        return None

    @property
    def action(self) -> str:
        """The strongest effect: block, redact, route or allow."""
        if self.block is not None:
            return "block"
        if self.redactions:
            return "redact"
        if self.route is not None:
            return "route"
        return "allow"


def decide(policy: CompiledPolicy, subject: Subject) -> Decision:
    """Evaluate `policy`'s rules on `subject`."""
    fired: list[RuleMatch] = []
    monitored: list[RuleMatch] = []
    redactions: list[Redaction] = []
    route: str | None = None
    block: BlockSpec | None = None
    for rule in policy.rules:
        if rule.stage not in (subject.stage, "both"):
            continue
        reason = _match(rule.when, subject)
        if reason is None:
            continue
        match = RuleMatch(rule.id, rule.action, reason)
        if _records_only(rule, policy):
            monitored.append(match)
            continue
        fired.append(match)
        if rule.action == "allow":
            break
        if rule.action == "block":
            block = rule.block or BlockSpec()
            fired = [match]  # earlier redact or route matches have no effect on a blocked request
            break
        if rule.action == "redact":
            redactions.append(_redaction(rule))
        elif rule.action == "route" and route is None and rule.route is not None:
            route = rule.route.model
    return Decision(
        policy=policy.name,
        version=policy.version,
        stage=subject.stage,
        block=block,
        route=None if block else route,
        redactions=() if block else tuple(redactions),
        fired=tuple(fired),
        monitored=tuple(monitored),
    )


def guard_only_blocks(policy: CompiledPolicy, stage: Stage) -> bool:
    """Whether every enforced rule of `policy` at `stage` that reads guard scores blocks.

    Then the decision made on findings without guard scores is the decision made with them,
    unless the latter blocks: the rules that do not read the guard match alike in both, and a
    rule that does can only end the evaluation with a block. So the request can be sent on
    before the guard's verdict and stopped if the verdict blocks.
    """
    for rule in policy.rules:
        if rule.stage not in (stage, "both"):
            continue
        if _records_only(rule, policy):
            continue
        if _reads_guard(rule.when) and rule.action != "block":
            return False
    return True


def _records_only(rule: Rule, policy: CompiledPolicy) -> bool:
    """A monitor rule, or any rule in monitor mode: it never changes the decision."""
    return (rule.mode or policy.mode) == "monitor" or rule.action == "monitor"


def _reads_guard(when: Condition) -> bool:
    return any(v is not None for v in (when.unsafe_above, when.harm, when.attack, when.refusal_above))


def _redaction(rule: Rule) -> Redaction:
    spec = rule.redact
    labels = spec.labels if spec and spec.labels else rule.when.pii
    return Redaction(
        labels=frozenset(labels) if labels and ANY not in labels else None,
        operator=spec.operator if spec else "placeholder",
        operators=dict(spec.operators) if spec else {},
        roles=frozenset(rule.when.roles) if rule.when.roles else None,
    )


def _match(when: Condition, subject: Subject) -> str | None:
    """Why `when` holds for `subject`, or None when it does not."""
    reasons: list[str] = []
    for values, actual, name in (
        (when.tenants, subject.tenant, "tenant"),
        (when.keys, subject.key_id, "key"),
        (when.models, subject.model, "model"),
    ):
        if values is not None:
            if actual not in values:
                return None
            reasons.append(f"{name}={actual}")
    if when.tokens_above is not None:
        if subject.tokens <= when.tokens_above:
            return None
        reasons.append(f"tokens={subject.tokens}>{when.tokens_above}")
    if when.tokens_below is not None:
        if subject.tokens >= when.tokens_below:
            return None
        reasons.append(f"tokens={subject.tokens}<{when.tokens_below}")
    if not _has_message_conditions(when):
        return " ".join(reasons) or "always"
    for message in subject.messages:
        message_reasons = _match_message(when, message)
        if message_reasons is not None:
            return " ".join([*reasons, *message_reasons])
    return None


def _has_message_conditions(when: Condition) -> bool:
    return any(
        value is not None
        for value in (when.roles, when.unsafe_above, when.harm, when.attack, when.refusal_above, when.pii)
    )


def _match_message(when: Condition, message: Findings) -> list[str] | None:
    reasons = []
    if when.roles is not None:
        if message.role not in when.roles:
            return None
        reasons.append(f"role={message.role}")
    guard = message.guard
    if _reads_guard(when) and guard is None:
        return None
    if guard is not None:
        if when.unsafe_above is not None:
            if guard.unsafe <= when.unsafe_above:
                return None
            reasons.append(f"unsafe={guard.unsafe:.2f}>{when.unsafe_above:.2f}")
        for condition, scores, kind in (
            (when.harm, guard.harm, "harm"),
            (when.attack, guard.attack, "attack"),
        ):
            if condition is not None:
                hit = _top_label(condition, scores)
                if hit is None:
                    return None
                reasons.append(f"{kind}.{hit[0]}={hit[1]:.2f}>{condition.above:.2f}")
        if when.refusal_above is not None:
            if guard.refusal is None or guard.refusal <= when.refusal_above:
                return None
            reasons.append(f"refusal={guard.refusal:.2f}>{when.refusal_above:.2f}")
    if when.pii is not None:
        found = message.pii_labels if ANY in when.pii else message.pii_labels & set(when.pii)
        if not found:
            return None
        reasons.append(f"pii={','.join(sorted(found))}")
    return reasons


def _top_label(condition: LabelCondition, scores: Mapping[str, float]) -> tuple[str, float] | None:
    """The highest-scoring label named by `condition` that is above its threshold."""
    names = scores.keys() if ANY in condition.any_of else condition.any_of
    candidates = [(name, scores.get(name, 0.0)) for name in names]
    best = max(candidates, key=lambda item: item[1], default=None)
    if best is None or best[1] <= condition.above:
        return None
    return best
