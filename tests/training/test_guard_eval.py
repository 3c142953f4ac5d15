"""The guard evaluation's default-policy row: the bundled policy decides on guard scores alone."""

from __future__ import annotations

from gateway.findings import GuardScores
from gateway.training.guard_eval import default_policy_blocks


def test_the_default_policy_blocks_attacks_and_grave_harm_and_lets_the_rest_through() -> None:
    calm = {"violence_and_weapons": 0.1, "child_safety": 0.05, "self_harm_and_suicide": 0.02}
    scores = [
        GuardScores(unsafe=0.1, harm=calm, attack={"prompt_injection": 0.05}),
        GuardScores(unsafe=0.95, harm=calm, attack={"prompt_injection": 0.9}),
        GuardScores(unsafe=0.97, harm={**calm, "violence_and_weapons": 0.93}, attack={}),
        # harmful, but neither an attack nor one of the gravest categories: reaches the model
        GuardScores(unsafe=0.95, harm={**calm, "non_violent_crime": 0.9}, attack={}),
    ]
    assert default_policy_blocks(scores) == [False, True, True, False]
