"""Policies: YAML rules (model), loading and inheritance (loader), the engine, reloads and tests."""

from gateway.policy.engine import CompiledPolicy, Decision, Redaction, RuleMatch, Subject, decide
from gateway.policy.loader import PolicyErrors, PolicySet, default_policy_dir, load_policies
from gateway.policy.store import PolicyStore
from gateway.policy.testing import CaseResult, run_policy_tests

__all__ = [
    "CaseResult",
    "CompiledPolicy",
    "Decision",
    "PolicyErrors",
    "PolicySet",
    "PolicyStore",
    "Redaction",
    "RuleMatch",
    "Subject",
    "decide",
    "default_policy_dir",
    "load_policies",
    "run_policy_tests",
]
