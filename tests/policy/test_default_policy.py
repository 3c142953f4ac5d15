"""The bundled default policy: the copy shipped in the package is the one in policies/, and its
attack rule uses the shipped guard's attack threshold."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from gateway.guard.model import bundled_guard_dir

ROOT = Path(__file__).resolve().parents[2]


def test_the_package_ships_the_repository_default_policy() -> None:
    shipped = ROOT / "gateway" / "defaults" / "policies"
    for name in ("default.yaml", "default.test.yaml"):
        assert (shipped / name).read_text(encoding="utf-8") == (ROOT / "policies" / name).read_text(
            encoding="utf-8"
        ), name


def test_the_attack_rule_uses_the_guard_threshold() -> None:
    policy = yaml.safe_load((ROOT / "policies" / "default.yaml").read_text(encoding="utf-8"))
    rule = next(rule for rule in policy["rules"] if rule["id"] == "block-prompt-attacks")
    thresholds = json.loads((bundled_guard_dir() / "guard.json").read_text(encoding="utf-8"))["thresholds"]
    assert rule["when"]["attack"]["above"] == thresholds["attack"]
