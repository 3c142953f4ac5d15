"""Policy files as typed models: rules with conditions on findings and context, and an action.

Validation needs to know the gateway's model aliases and the custom PII labels declared up
the inheritance chain; the loader passes both as validation context.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from gateway.taxonomy import ATTACK_STRATEGIES, HARM_CATEGORIES, PII_LABELS

__all__ = [
    "BlockSpec",
    "Condition",
    "LabelCondition",
    "Operator",
    "PolicyFile",
    "RedactSpec",
    "RouteSpec",
    "Rule",
]

Threshold = Annotated[float, Field(ge=0.0, le=1.0)]
Stage = Literal["input", "output"]
Role = Literal["system", "developer", "user", "assistant", "tool"]
Mode = Literal["enforce", "monitor"]
Operator = Literal["mask", "placeholder", "hash", "partial", "remove"]
ANY = "any"
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _context(info: ValidationInfo) -> dict[str, Any]:
    return info.context if isinstance(info.context, dict) else {}


def _check_labels(labels: list[str], known: set[str], kind: str) -> list[str]:
    unknown = [label for label in labels if label != ANY and label not in known]
    if unknown:
        raise ValueError(f"unknown {kind}: {', '.join(unknown)}")
    return labels


class LabelCondition(_Strict):
    """At least one of `any_of` (or `any` label) scores above `above`."""

    any_of: list[str] = Field(min_length=1)
    above: Threshold = 0.5


class HarmCondition(LabelCondition):
    @field_validator("any_of")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        return _check_labels(value, set(HARM_CATEGORIES), "harm category")


class AttackCondition(LabelCondition):
    @field_validator("any_of")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        return _check_labels(value, set(ATTACK_STRATEGIES), "attack strategy")


class Condition(_Strict):
    """All fields given must hold; message-level fields must hold for one same message."""

    # message level
    roles: list[Role] | None = None
    unsafe_above: Threshold | None = None
    harm: HarmCondition | None = None
    attack: AttackCondition | None = None
    refusal_above: Threshold | None = None
    pii: list[str] | None = Field(default=None, min_length=1, description="any of these labels found")
    # request level
    tenants: list[str] | None = None
    keys: list[str] | None = None
    models: list[str] | None = None
    tokens_above: int | None = Field(default=None, ge=0)
    tokens_below: int | None = Field(default=None, ge=1)

    @field_validator("pii")
    @classmethod
    def _known_pii(cls, value: list[str] | None, info: ValidationInfo) -> list[str] | None:
        if value is None:
            return None
        return _check_labels(
            value, set(PII_LABELS) | set(_context(info).get("custom_labels", ())), "PII label"
        )

    @field_validator("models")
    @classmethod
    def _known_models(cls, value: list[str] | None, info: ValidationInfo) -> list[str] | None:
        _check_aliases(value or [], info)
        return value


def _check_aliases(aliases: list[str], info: ValidationInfo) -> None:
    known = _context(info).get("aliases")
    if known is None:
        return
    unknown = [alias for alias in aliases if alias not in known]
    if unknown:
        raise ValueError(
            f"unknown model alias: {', '.join(unknown)} (configured: {', '.join(sorted(known))})"
        )


class BlockSpec(_Strict):
    """How a blocked request is answered: an error with a stable code, or a refusal message."""

    respond_with: Literal["error", "refusal"] = "error"
    message: str = "This request was blocked by the gateway's content policy."
    code: str = Field(default="content_blocked", pattern=r"^[a-z0-9_]{1,64}$")


class RedactSpec(_Strict):
    """Which labels to redact (default: every label found) and with which operator."""

    labels: list[str] | None = Field(default=None, min_length=1)
    operator: Operator = "placeholder"
    operators: dict[str, Operator] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_labels(self, info: ValidationInfo) -> RedactSpec:
        known = set(PII_LABELS) | set(_context(info).get("custom_labels", ()))
        _check_labels([*(self.labels or []), *self.operators], known, "PII label")
        return self


class RouteSpec(_Strict):
    """Send the request to another model alias."""

    model: str

    @field_validator("model")
    @classmethod
    def _known(cls, value: str, info: ValidationInfo) -> str:
        _check_aliases([value], info)
        return value


class Rule(_Strict):
    """When `when` holds at `stage`, take `action` (or only record it, in monitor mode)."""

    id: str
    description: str = ""
    stage: Literal["input", "output", "both"] = "input"
    when: Condition = Field(default_factory=Condition)
    action: Literal["allow", "block", "redact", "route", "monitor"]
    mode: Mode | None = None  # None: the policy's mode
    block: BlockSpec | None = None
    redact: RedactSpec | None = None
    route: RouteSpec | None = None

    @field_validator("id")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not _SLUG.match(value):
            raise ValueError("must be 1-64 lowercase letters, digits, '-' or '_'")
        return value

    @model_validator(mode="after")
    def _action_settings(self) -> Rule:
        for name in ("block", "redact", "route"):
            if getattr(self, name) is not None and self.action != name:
                raise ValueError(f"'{name}' settings given but the action is '{self.action}'")
        if self.action == "route" and self.route is None:
            raise ValueError("action 'route' needs 'route: {model: <alias>}'")
        if self.action == "route" and self.stage != "input":
            raise ValueError("only input rules can route: the model is chosen before the call")
        return self


class PolicyFile(_Strict):
    """One YAML file in the policy directory."""

    description: str = ""
    extends: str | None = None
    tenants: list[str] = Field(default_factory=list)
    mode: Mode = "enforce"
    custom_labels: dict[str, str] = Field(
        default_factory=dict, description="PII labels of your own, described in words for the model."
    )
    rules: list[Rule] = Field(default_factory=list)

    @field_validator("custom_labels")
    @classmethod
    def _slug_labels(cls, value: dict[str, str]) -> dict[str, str]:
        for label in value:
            if not _SLUG.match(label) or label in PII_LABELS:
                raise ValueError(f"custom label {label!r} must be a new lowercase slug")
        return value

    @model_validator(mode="after")
    def _unique_ids(self) -> PolicyFile:
        ids = [rule.id for rule in self.rules]
        repeated = sorted({rule_id for rule_id in ids if ids.count(rule_id) > 1})
        if repeated:
            raise ValueError(f"rule ids must be unique, repeated: {', '.join(repeated)}")
        return self
