"""Guard scores in OpenAI's moderation format: its categories mapped from ours, plus ours.

OpenAI's categories are scored by the harm categories they correspond to; the guard has no
separate head for threats or graphic detail, so a `.../threatening` category is the lesser of
the two scores it combines and `violence/graphic` reads the violence score.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.findings import GuardScores

__all__ = ["OPENAI_CATEGORIES", "moderation_result"]

# OpenAI category -> the harm categories whose lowest score it takes.
OPENAI_CATEGORIES: dict[str, tuple[str, ...]] = {
    "harassment": ("hate_and_discrimination",),
    "harassment/threatening": ("hate_and_discrimination", "violence_and_weapons"),
    "hate": ("hate_and_discrimination",),
    "hate/threatening": ("hate_and_discrimination", "violence_and_weapons"),
    "illicit": ("non_violent_crime",),
    "illicit/violent": ("violence_and_weapons",),
    "self-harm": ("self_harm_and_suicide",),
    "self-harm/intent": ("self_harm_and_suicide",),
    "self-harm/instructions": ("self_harm_and_suicide",),
    "sexual": ("sexual_content",),
    "sexual/minors": ("child_safety", "sexual_content"),
    "violence": ("violence_and_weapons",),
    "violence/graphic": ("violence_and_weapons",),
}


def moderation_result(scores: GuardScores, thresholds: Mapping[str, float]) -> dict[str, Any]:
    """One entry of `results`: flagged when the text is unsafe and not only an attack."""
    unsafe = scores.unsafe >= thresholds["unsafe"]
    category_scores: dict[str, float] = {
        name: min(scores.harm[source] for source in sources) for name, sources in OPENAI_CATEGORIES.items()
    }
    category_scores |= dict(scores.harm) | dict(scores.attack)
    categories = {
        name: unsafe and score >= thresholds["harm" if name not in scores.attack else "attack"]
        for name, score in category_scores.items()
    }
    return {
        "flagged": unsafe,
        "categories": categories,
        "category_scores": category_scores,
        "category_applied_input_types": {name: ["text"] for name in category_scores},
    }
