"""Finding and rewriting the texts inside OpenAI bodies."""

from __future__ import annotations

from typing import Any

from gateway.messages import request_slots, response_slots


def test_chat_request_slots_cover_content_parts_and_tool_traffic() -> None:
    """Plain content, text parts, tool-call arguments and tool results are all found, with roles."""
    body: dict[str, Any] = {
        "messages": [
            {"role": "system", "content": "be nice"},
            {
                "role": "user",
                "content": [{"type": "text", "text": "look"}, {"type": "image_url", "image_url": {}}],
            },
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"function": {"name": "f", "arguments": "{}"}}],
            },
            {"role": "tool", "tool_call_id": "1", "content": "result"},
        ]
    }
    slots = request_slots("chat.completions", body)
    assert [(slot.role, slot.text) for slot in slots] == [
        ("system", "be nice"),
        ("user", "look"),
        ("assistant", "{}"),
        ("tool", "result"),
    ]
    slots[1].replace("LOOK")
    assert body["messages"][1]["content"][0]["text"] == "LOOK"


def test_prompt_and_input_slots() -> None:
    """Completion prompts and embedding inputs, single or listed, are user texts."""
    completion: dict[str, Any] = {"prompt": ["a", "b"]}
    embedding: dict[str, Any] = {"input": "c"}
    assert [s.text for s in request_slots("completions", completion)] == ["a", "b"]
    assert [s.text for s in request_slots("embeddings", embedding)] == ["c"]
    assert request_slots("embeddings", {"input": [[1, 2]]}) == []


def test_response_slots() -> None:
    """Generated texts of chat and text completions are found; embeddings have none."""
    chat = {"choices": [{"message": {"role": "assistant", "content": "hi"}}]}
    text = {"choices": [{"text": "yo"}]}
    assert [(s.role, s.text) for s in response_slots("chat.completions", chat)] == [("assistant", "hi")]
    assert [s.text for s in response_slots("completions", text)] == ["yo"]
    assert response_slots("embeddings", {"data": []}) == []
