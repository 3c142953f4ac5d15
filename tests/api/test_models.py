"""`GET /v1/models` lists the configured aliases."""

from __future__ import annotations

import openai
import pytest


def test_models_lists_aliases(sdk: openai.OpenAI) -> None:
    """The SDK's models listing returns exactly the configured aliases."""
    assert [model.id for model in sdk.models.list()] == ["small", "large"]


def test_models_needs_a_key(gateway_url: str) -> None:
    """Listing models with an unknown key is refused with 401."""
    with (
        openai.OpenAI(base_url=f"{gateway_url}/v1", api_key="sg-unknown", max_retries=0) as stranger,
        pytest.raises(openai.AuthenticationError) as refused,
    ):
        stranger.models.list()

    assert refused.value.status_code == 401
    assert refused.value.code == "invalid_api_key"
