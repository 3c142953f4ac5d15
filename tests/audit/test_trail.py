"""Every API request leaves one audit record in the running gateway, whatever its outcome."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import respx

from gateway.app import create_app
from gateway.settings import Settings
from tests.conftest import CLIENT_KEY, SMALL_BASE, UPSTREAM_SECRET, chat_body, text_stream
from tests.server import serve_in_thread
from tests.test_pipeline import POLICY, marker_scan


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def audit_path(tmp_path: Path) -> Path:
    return tmp_path / "audit" / "audit.jsonl"


@pytest.fixture
def settings_with_audit(config_path: Path, tmp_path: Path, audit_path: Path) -> Settings:
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "default.yaml").write_text(POLICY)
    return Settings(config=config_path, policy_dir=policies, audit_path=audit_path, audit_stdout=False)


def test_one_record_per_request_with_its_outcome(
    settings_with_audit: Settings, audit_path: Path, upstream: respx.MockRouter
) -> None:
    """Allowed, redacted, blocked, refused, unauthenticated, malformed and failed requests: all recorded."""
    ok = upstream.post(f"{SMALL_BASE}/chat/completions")
    app = create_app(settings_with_audit, scan=marker_scan, environ={"UPSTREAM_KEY": UPSTREAM_SECRET})
    with serve_in_thread(app) as url:
        sdk = openai.OpenAI(base_url=f"{url}/v1", api_key=CLIENT_KEY, max_retries=0)
        ok.respond(json=chat_body("fine"))
        sdk.chat.completions.create(
            model="small", messages=[{"role": "user", "content": "mail ana@example.com"}]
        )
        ok.respond(text=text_stream("a", "b"), headers={"content-type": "text/event-stream"})
        list(
            sdk.chat.completions.create(
                model="small", messages=[{"role": "user", "content": "hi"}], stream=True
            )
        )
        with pytest.raises(openai.BadRequestError):
            sdk.chat.completions.create(model="small", messages=[{"role": "user", "content": "INJECT"}])
        sdk.chat.completions.create(model="small", messages=[{"role": "user", "content": "WEAPON"}])
        ok.respond(503, json={"error": {"message": "down"}})
        with pytest.raises(openai.InternalServerError):
            sdk.chat.completions.create(model="small", messages=[{"role": "user", "content": "hi"}])
        httpx.post(f"{url}/v1/chat/completions", json={}, headers={"Authorization": "Bearer wrong"})
        httpx.post(
            f"{url}/v1/chat/completions", content=b"{", headers={"Authorization": f"Bearer {CLIENT_KEY}"}
        )
        httpx.get(f"{url}/healthz")  # probes are not audited
        sdk.close()

    records = _records(audit_path)
    summary = [(r["status"], r["outcome"], r["action"], r["error_code"]) for r in records]
    assert summary == [
        (200, "ok", "redact", None),
        (200, "ok", "allow", None),
        (400, "blocked", "block", "prompt_attack_blocked"),
        (200, "refused", "block", None),
        (502, "upstream_error", "allow", "upstream_error"),
        (401, "client_error", None, "invalid_api_key"),
        (400, "client_error", None, "invalid_request"),
    ]
    first = records[0]
    assert (first["tenant"], first["key_id"], first["endpoint"]) == ("acme", "team-a", "chat.completions")
    assert (first["model_requested"], first["model_routed"], first["upstream_status"]) == (
        "small",
        "small",
        200,
    )
    assert first["rules"] == ["mask-email"]
    assert first["pii"] == {"input": {"email": 1}}
    assert first["decisions"][0]["policy_version"] == first["decisions"][1]["policy_version"]
    assert set(first["latency_ms"]) == {"scan", "upstream", "total"}
    assert records[1]["stream"] is True
    assert records[2]["guard"]["input"]["attack"] == {"prompt_injection": 0.9}
    assert records[2]["upstream_status"] is None
    assert [r["seq"] for r in records] == list(range(1, 8))
