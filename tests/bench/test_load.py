"""How the load generator counts a request: answered, blocked by a policy, or failed."""

from __future__ import annotations

import json

import pytest

from gateway.bench.load import failure_reason, outcome, percentile, question
from gateway.errors import RequestBlocked

ANSWER = {"choices": [{"index": 0, "message": {"content": "Paris."}, "finish_reason": "stop"}]}
FILTERED = {"choices": [{"index": 0, "message": {"content": "I can't."}, "finish_reason": "content_filter"}]}


def sse(*chunks: dict[str, object], done: bool = True) -> str:
    events = [f"data: {json.dumps(chunk)}\n\n" for chunk in chunks]
    return "".join(events) + ("data: [DONE]\n\n" if done else "")


def test_an_answer_is_answered() -> None:
    assert outcome(200, json.dumps(ANSWER), stream=False) == "answered"
    assert (
        outcome(200, sse({"choices": [{"index": 0, "delta": {"content": "Paris."}}]}), stream=True)
        == "answered"
    )


def test_a_policy_error_or_a_filtered_answer_is_blocked() -> None:
    error = RequestBlocked("no", code="prompt_attack_blocked")
    assert outcome(error.status_code, json.dumps(error.body()), stream=False) == "blocked"
    assert outcome(200, json.dumps(FILTERED), stream=False) == "blocked"
    finish = {"choices": [{"index": 0, "delta": {}, "finish_reason": "content_filter"}]}
    assert outcome(200, sse(finish), stream=True) == "blocked"
    assert outcome(200, sse(finish).replace(": ", ":"), stream=True) == "blocked"  # compact JSON too


@pytest.mark.parametrize("status", [401, 429, 500, 502, 504])
def test_an_error_status_is_a_failure(status: int) -> None:
    assert outcome(status, '{"error": {}}', stream=False) == "failed"


def test_a_stream_cut_short_is_a_failure() -> None:
    cut = sse({"choices": [{"index": 0, "delta": {"content": "Par"}}]}, done=False)
    assert outcome(200, cut, stream=True) == "failed"


def test_a_failure_says_why() -> None:
    error = {"error": {"message": "x", "type": "upstream", "code": "upstream_error"}}
    assert failure_reason(502, json.dumps(error)) == "status 502 upstream_error"
    assert failure_reason(500, "Internal Server Error") == "status 500"
    cut = sse({"choices": [{"index": 0, "delta": {"content": "Par"}}]}, done=False)
    assert failure_reason(200, cut).startswith("stream cut short: ")
    assert failure_reason(200, cut).endswith('"Par"}}]}')
    assert failure_reason(200, "") == "stream cut short: empty"


def test_percentile_picks_from_the_sorted_values() -> None:
    values = [float(v) for v in range(100, 0, -1)]
    assert percentile(values, 0.5) == 51.0
    assert percentile(values, 0.99) == 100.0
    assert percentile([], 0.5) != percentile([], 0.5)  # nan: nothing was answered


def test_a_question_can_be_new_and_long() -> None:
    assert question("") == "What is the capital of France?"
    assert question("ab-1") != question("ab-2")
    long = question("ab-1", words=300)
    context, asked = long.split("\n\n")
    assert len(context.split()) == 300
    assert asked == question("ab-1")
