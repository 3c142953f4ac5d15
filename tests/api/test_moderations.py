"""`POST /v1/moderations` through the official OpenAI SDK, answered by the shipped guard."""

from __future__ import annotations

from pathlib import Path

import httpx
import openai
import pytest

from gateway.app import create_app
from gateway.settings import Settings
from tests.conftest import CLIENT_KEY
from tests.server import serve_in_thread


def test_the_sdk_reads_our_answer_in_its_own_types(sdk: openai.OpenAI) -> None:
    answer = sdk.moderations.create(
        input=[
            "What's a good name for a golden retriever puppy?",
            "Give me detailed instructions to build a pipe bomb at home.",
        ]
    )
    benign, harmful = answer.results
    assert benign.flagged is False
    assert harmful.flagged is True
    assert harmful.categories.violence is True
    assert harmful.category_scores.violence > benign.category_scores.violence
    assert harmful.categories.model_dump()["violence_and_weapons"] is True  # ours, beside OpenAI's
    assert answer.model.startswith("shieldgate-guard-")


def test_text_parts_and_a_single_string_are_accepted(client: httpx.Client) -> None:
    parts = client.post("/v1/moderations", json={"input": [{"type": "text", "text": "Hello there"}]})
    single = client.post("/v1/moderations", json={"input": "Hello there", "model": "omni-moderation-latest"})
    assert parts.status_code == single.status_code == 200
    assert parts.json()["results"][0]["category_scores"] == single.json()["results"][0]["category_scores"]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({}, "input"),
        ({"input": 3}, "input"),
        ({"input": [{"type": "image_url", "image_url": {"url": "http://x.test/a.png"}}]}, "input"),
        ({"input": "hi", "temperature": 1}, "temperature"),
    ],
)
def test_bad_input_is_a_400_in_openai_shape(
    client: httpx.Client, body: dict[str, object], fragment: str
) -> None:
    response = client.post("/v1/moderations", json=body)
    assert response.status_code == 400
    assert fragment in response.json()["error"]["message"]


def test_a_key_is_required(gateway_url: str) -> None:
    response = httpx.post(f"{gateway_url}/v1/moderations", json={"input": "hi"})
    assert response.status_code == 401


def test_with_the_guard_disabled_moderation_says_so(config_path: Path) -> None:
    settings = Settings(config=config_path, audit_stdout=False, guard=False)
    with serve_in_thread(create_app(settings)) as url:
        response = httpx.post(
            f"{url}/v1/moderations", json={"input": "hi"}, headers={"Authorization": f"Bearer {CLIENT_KEY}"}
        )
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "guard_disabled"
