"""Load a policy directory: validate every file, resolve `extends`, map tenants to policies.

`default.yaml` is required and serves every tenant no other file claims. Files named
`*.test.yaml` hold policy tests and are not policies.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import yaml

from gateway.policy.engine import CompiledPolicy
from gateway.policy.model import ANY, PolicyFile, Rule
from gateway.yamlfile import ConfigError, parse_yaml_model

__all__ = [
    "DEFAULT_POLICY",
    "PolicyErrors",
    "PolicySet",
    "default_policy_dir",
    "load_policies",
    "policy_files",
]

DEFAULT_POLICY = "default"
TEST_SUFFIX = ".test.yaml"


class PolicyErrors(Exception):
    """One or more policy files cannot be used."""

    def __init__(self, errors: list[ConfigError]) -> None:
        self.errors = errors
        super().__init__("\n".join(f"{e.path}: {problem}" for e in errors for problem in e.problems))

    def lines(self) -> list[str]:
        return [f"{error.path}: {problem}" for error in self.errors for problem in error.problems]


@dataclass(frozen=True)
class PolicySet:
    """Every compiled policy of a directory, and which tenant uses which."""

    policies: Mapping[str, CompiledPolicy]
    tenants: Mapping[str, str]
    custom_labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def for_tenant(self, tenant: str) -> CompiledPolicy:
        """The tenant's own policy, or the default one."""
        return self.policies[self.tenants.get(tenant, DEFAULT_POLICY)]

    def pii_labels(self) -> set[str]:
        """Every PII label a rule of any policy names (conditions and redaction settings)."""
        named: set[str] = set()
        for policy in self.policies.values():
            for rule in policy.rules:
                named.update(rule.when.pii or ())
                if rule.redact is not None:
                    named.update(rule.redact.labels or ())
                    named.update(rule.redact.operators)
        named.discard(ANY)
        return named

    @property
    def versions(self) -> dict[str, str]:
        return {name: policy.version for name, policy in self.policies.items()}


def default_policy_dir() -> Path:
    """The policies bundled with the package."""
    return Path(str(resources.files("gateway") / "defaults" / "policies"))


def policy_files(directory: Path) -> dict[str, Path]:
    """Policy name (file stem) to path, test files left out."""
    return {
        path.name.removesuffix(".yaml"): path
        for path in sorted(directory.glob("*.yaml"))
        if not path.name.endswith(TEST_SUFFIX)
    }


def load_policies(directory: Path, aliases: Collection[str] | None = None) -> PolicySet:
    """Validate and compile every policy in `directory`, or raise `PolicyErrors` listing all problems."""
    files = policy_files(directory)
    if DEFAULT_POLICY not in files:
        raise PolicyErrors(
            [ConfigError(directory, [f"no {DEFAULT_POLICY}.yaml: it serves every other tenant"])]
        )
    texts: dict[str, bytes] = {}
    errors: list[ConfigError] = []
    for name, path in files.items():
        try:
            texts[name] = path.read_bytes()
        except OSError as exc:
            errors.append(ConfigError(path, [f"cannot read file: {exc.strerror}"]))
    if errors:
        raise PolicyErrors(errors)
    parents = {name: _raw_field(texts[name], "extends") for name in files}
    order, problems = _inheritance_order(parents, files)
    errors += problems
    parsed: dict[str, PolicyFile] = {}
    labels: dict[str, dict[str, str]] = {}
    for name in order:
        parent = parents[name]
        inherited = labels.get(parent, {}) if isinstance(parent, str) else {}
        own = _raw_field(texts[name], "custom_labels")
        known = {**inherited, **(own if isinstance(own, dict) else {})}
        context = {"aliases": set(aliases) if aliases is not None else None, "custom_labels": set(known)}
        try:
            parsed[name] = parse_yaml_model(
                texts[name].decode("utf-8"), PolicyFile, source=str(files[name]), context=context
            )
        except ConfigError as exc:
            errors.append(exc)
            continue
        labels[name] = {**inherited, **parsed[name].custom_labels}
    tenants: dict[str, str] = {}
    for name, policy in parsed.items():
        for tenant in policy.tenants:
            if tenant in tenants:
                errors.append(
                    ConfigError(files[name], [f"tenant {tenant!r} is already claimed by {tenants[tenant]}"])
                )
            tenants[tenant] = name
    if errors:
        raise PolicyErrors(errors)
    compiled: dict[str, CompiledPolicy] = {}
    for name in order:
        parent = parents[name]
        base = compiled[parent] if isinstance(parent, str) else None
        compiled[name] = _compile(name, parsed[name], texts[name], base)
    return PolicySet(policies=compiled, tenants=tenants, custom_labels=labels)


def _raw_field(text: bytes, key: str) -> object:
    """A top-level field read before validation (to order files and gather labels)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    return data.get(key) if isinstance(data, dict) else None


def _inheritance_order(
    parents: Mapping[str, object], files: Mapping[str, Path]
) -> tuple[list[str], list[ConfigError]]:
    """Parents before children; unknown parents and cycles are reported."""
    order: list[str] = []
    errors: list[ConfigError] = []
    state: dict[str, str] = {}

    def visit(name: str, chain: list[str]) -> bool:
        if state.get(name) == "done":
            return True
        if state.get(name) == "visiting":
            errors.append(ConfigError(files[name], [f"field 'extends': cycle {' -> '.join([*chain, name])}"]))
            return False
        state[name] = "visiting"
        parent = parents[name]
        ok = True
        if parent is not None:
            if not isinstance(parent, str) or parent not in files:
                errors.append(ConfigError(files[name], [f"field 'extends': no policy named {parent!r}"]))
                ok = False
            else:
                ok = visit(parent, [*chain, name])
        state[name] = "done"
        if ok:
            order.append(name)
        return ok

    for name in files:
        visit(name, [])
    return order, errors


def _compile(name: str, policy: PolicyFile, text: bytes, parent: CompiledPolicy | None) -> CompiledPolicy:
    """Own rules first (in the file's mode), then the parent's, minus those overridden by id."""
    own = tuple(rule if rule.mode else rule.model_copy(update={"mode": policy.mode}) for rule in policy.rules)
    own_ids = {rule.id for rule in own}
    inherited: tuple[Rule, ...] = tuple(r for r in parent.rules if r.id not in own_ids) if parent else ()
    digest = hashlib.sha256(text)
    if parent is not None:
        digest.update(parent.version.encode())
    return CompiledPolicy(name=name, version=digest.hexdigest()[:12], rules=own + inherited, mode=policy.mode)
