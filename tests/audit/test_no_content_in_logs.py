"""No prompt, completion or personal data value reaches any log line or audit record.

The gateway runs as a real process at debug level against the fake upstream; requests carry
canary values in every place a client can put text, including ones that fail.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import httpx
import openai
import pytest
import yaml

from tests.processes import SHIELDGATE, env, new_key_entry, process
from tests.server import free_port

CANARIES = {
    "email": "canary.person@example.org",
    "card": "4111111111111111",
    "name": "Zebulon Quartermaine",
    "phrase": "purple-walrus-canary-phrase",
}


def test_known_values_never_reach_logs_or_audit(tmp_path: Path) -> None:
    """Every byte the gateway printed or audited is searched for the canaries."""
    upstream_port, gateway_port = free_port(), free_port()
    key, entry = new_key_entry()
    config = {
        "models": {
            "small": {
                "deployments": [
                    {
                        "model": "openai/fake",
                        "api_base": f"http://127.0.0.1:{upstream_port}/v1",
                        "api_key_env": "FAKE_UPSTREAM_KEY",
                    }
                ]
            }
        },
        "keys": [entry],
    }
    (tmp_path / "gateway.yaml").write_text(yaml.safe_dump(config))
    audit_path = tmp_path / "audit.jsonl"
    log_path = tmp_path / "gateway.log"
    gateway_env = env(
        SHIELDGATE_LOG_LEVEL="debug", SHIELDGATE_AUDIT_PATH=str(audit_path), SHIELDGATE_AUDIT_STDOUT="true"
    )
    canary_text = " ".join(CANARIES.values())
    upstream_args = [sys.executable, "-m", "gateway.fake_upstream", "--port", str(upstream_port)]
    gateway_args = [
        *SHIELDGATE,
        "serve",
        "--config",
        str(tmp_path / "gateway.yaml"),
        "--port",
        str(gateway_port),
    ]
    base = f"http://127.0.0.1:{gateway_port}"
    with (
        process(upstream_args, f"http://127.0.0.1:{upstream_port}/healthz"),
        process(gateway_args, f"{base}/readyz", environ=gateway_env, log=log_path),
    ):
        _send_canaries(base, key, canary_text)

    output = log_path.read_text() + audit_path.read_text()
    assert "request.completed" in output  # the logs really were captured
    audit_records = [json.loads(line) for line in audit_path.read_text().splitlines()]
    assert len(audit_records) == 9
    for name, value in CANARIES.items():
        assert value not in output, f"the {name} canary leaked into the logs or audit records"


def _send_canaries(base: str, key: str, text: str) -> None:
    with openai.OpenAI(base_url=f"{base}/v1", api_key=key, max_retries=0) as sdk:
        tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
        messages = [
            {"role": "user", "content": text},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "lookup", "arguments": json.dumps({"q": text})},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": text},
        ]
        # The answer echoes the tool result, so the completion carries the canaries too.
        answer = sdk.chat.completions.create(model="small", messages=messages, tools=tools)  # type: ignore[arg-type]
        assert CANARIES["phrase"] in (answer.choices[0].message.content or "")
        list(sdk.chat.completions.create(model="small", messages=messages, tools=tools, stream=True))  # type: ignore[arg-type]
        sdk.embeddings.create(model="small", input=text)
        for prompt in (f"upstream-error: {text}", f"upstream-reject: {text}"):
            with pytest.raises(openai.APIStatusError):
                sdk.chat.completions.create(model="small", messages=[{"role": "user", "content": prompt}])
        with pytest.raises(openai.NotFoundError):
            sdk.chat.completions.create(model=CANARIES["email"], messages=[{"role": "user", "content": text}])
    headers = {"Authorization": f"Bearer {key}", "content-type": "application/json"}
    bad_json = b'{"model": "small", "messages": [{"role": "user", "content": "' + text.encode() + b'"'
    assert httpx.post(f"{base}/v1/chat/completions", content=bad_json, headers=headers).status_code == 400
    unknown_param = {"model": "small", "messages": [{"role": "user", "content": text}], "extra": text}
    assert httpx.post(f"{base}/v1/chat/completions", json=unknown_param, headers=headers).status_code == 400
    wrong_type = {"model": "small", "messages": [{"role": "user", "content": text}], "temperature": text}
    assert httpx.post(f"{base}/v1/chat/completions", json=wrong_type, headers=headers).status_code == 400
