"""Guard scores in OpenAI's moderation format."""

from __future__ import annotations

from gateway.findings import GuardScores
from gateway.guard.moderation import OPENAI_CATEGORIES, moderation_result
from gateway.taxonomy import ATTACK_STRATEGIES, HARM_CATEGORIES

THRESHOLDS = {"unsafe": 0.5, "harm": 0.4, "attack": 0.5, "refusal": 0.5}


def _scores(unsafe: float, **harm: float) -> GuardScores:
    return GuardScores(
        unsafe=unsafe,
        harm={name: harm.get(name, 0.01) for name in HARM_CATEGORIES},
        attack=dict.fromkeys(ATTACK_STRATEGIES, 0.02),
    )


def test_openai_categories_are_mapped_from_ours_and_ours_are_added() -> None:
    result = moderation_result(
        _scores(0.9, violence_and_weapons=0.8, hate_and_discrimination=0.3), THRESHOLDS
    )
    assert result["flagged"] is True
    assert set(OPENAI_CATEGORIES) | set(HARM_CATEGORIES) | set(ATTACK_STRATEGIES) == set(result["categories"])
    assert result["category_scores"]["violence"] == 0.8
    assert result["category_scores"]["hate/threatening"] == 0.3  # the lesser of hate and violence
    assert result["categories"]["violence"] is True
    assert result["categories"]["hate"] is False
    assert result["category_applied_input_types"]["violence"] == ["text"]


def test_nothing_is_flagged_below_the_unsafe_threshold() -> None:
    result = moderation_result(_scores(0.2, violence_and_weapons=0.8), THRESHOLDS)
    assert result["flagged"] is False
    assert not any(result["categories"].values())
