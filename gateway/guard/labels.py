"""The guard model's outputs, in the order of its logits."""

from __future__ import annotations

from gateway.taxonomy import ATTACK_STRATEGIES, HARM_CATEGORIES

__all__ = ["HEADS", "OUTPUTS", "head_slices"]

HEADS: tuple[str, ...] = ("unsafe", "harm", "attack", "refusal")

OUTPUTS: tuple[str, ...] = ("unsafe", *HARM_CATEGORIES, *ATTACK_STRATEGIES, "refusal")


def head_slices() -> dict[str, slice]:
    """Which logits belong to which head."""
    harm_end = 1 + len(HARM_CATEGORIES)
    attack_end = harm_end + len(ATTACK_STRATEGIES)
    return {
        "unsafe": slice(0, 1),
        "harm": slice(1, harm_end),
        "attack": slice(harm_end, attack_end),
        "refusal": slice(attack_end, attack_end + 1),
    }
