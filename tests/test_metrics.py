"""Prometheus metrics: names and labels after real requests through the policy pipeline."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
import respx
from prometheus_client.parser import text_string_to_metric_families

from gateway.app import create_app
from gateway.settings import Settings
from tests.conftest import CLIENT_KEY, SMALL_BASE, UPSTREAM_SECRET, chat_body
from tests.edits import replace_file
from tests.server import serve_in_thread
from tests.test_pipeline import POLICY, marker_scan


def _samples(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(f"{url}/metrics").text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@pytest.fixture
def gateway(config_path: Path, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "default.yaml").write_text(POLICY)
    settings = Settings(
        config=config_path, policy_dir=policies, policy_reload_seconds=0.05, audit_stdout=False
    )
    with serve_in_thread(
        create_app(settings, scan=marker_scan, environ={"UPSTREAM_KEY": UPSTREAM_SECRET})
    ) as url:
        yield url, policies


def test_request_decision_and_finding_metrics(gateway: tuple[str, Path], upstream: respx.MockRouter) -> None:
    """Requests by route/model/status, decisions, rules, categories, PII labels and latencies are counted."""
    url, _ = gateway
    upstream.post(f"{SMALL_BASE}/chat/completions").respond(json=chat_body("ok"))
    with openai.OpenAI(base_url=f"{url}/v1", api_key=CLIENT_KEY, max_retries=0) as sdk:
        sdk.chat.completions.create(model="small", messages=[{"role": "user", "content": "mail a@b.io"}])
        with pytest.raises(openai.BadRequestError):
            sdk.chat.completions.create(model="small", messages=[{"role": "user", "content": "INJECT"}])
        with pytest.raises(openai.NotFoundError):
            sdk.chat.completions.create(
                model="client-chosen-name", messages=[{"role": "user", "content": "x"}]
            )
    time.sleep(0.1)  # metrics are counted once each response has gone out

    samples = _samples(url)
    assert (
        samples[
            (
                "shieldgate_requests_total",
                (("model", "small"), ("route", "chat.completions"), ("status", "200")),
            )
        ]
        == 1
    )
    assert (
        samples[
            (
                "shieldgate_requests_total",
                (("model", "small"), ("route", "chat.completions"), ("status", "400")),
            )
        ]
        == 1
    )
    # a name the client made up never becomes a label value
    assert (
        samples[
            (
                "shieldgate_requests_total",
                (("model", "none"), ("route", "chat.completions"), ("status", "404")),
            )
        ]
        == 1
    )
    assert samples[("shieldgate_policy_decisions_total", (("action", "redact"), ("stage", "input")))] == 1
    assert samples[("shieldgate_policy_decisions_total", (("action", "block"), ("stage", "input")))] == 1
    assert (
        samples[("shieldgate_policy_rules_fired_total", (("mode", "enforce"), ("rule", "mask-email")))] == 1
    )
    assert (
        samples[
            (
                "shieldgate_guard_categories_total",
                (("category", "prompt_injection"), ("kind", "attack"), ("stage", "input")),
            )
        ]
        == 1
    )
    assert samples[("shieldgate_pii_labels_total", (("label", "email"), ("stage", "input")))] == 1
    assert samples[("shieldgate_upstream_duration_seconds_count", (("model", "small"),))] == 1
    assert samples[("shieldgate_request_duration_seconds_count", (("route", "chat.completions"),))] == 3
    assert samples[("shieldgate_scan_duration_seconds_count", ())] == 2
    assert ("shieldgate_verdict_cache_redis_circuit_open", ()) in samples
    assert ("shieldgate_audit_sink_up", ()) in samples


def test_policy_reload_metrics(gateway: tuple[str, Path]) -> None:
    """Applied and rejected reloads are counted."""
    url, policies = gateway
    replace_file(policies / "default.yaml", "rules: []\n")
    time.sleep(0.3)
    replace_file(policies / "default.yaml", "rules: [oops\n")
    time.sleep(0.3)
    samples = _samples(url)
    assert samples[("shieldgate_policy_reloads_total", (("result", "applied"),))] == 1
    assert samples[("shieldgate_policy_reloads_total", (("result", "rejected"),))] == 1
