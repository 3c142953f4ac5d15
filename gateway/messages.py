"""Where the text lives in OpenAI request and response bodies, for scanning and rewriting.

Each `TextSlot` points at one string inside a body (a message's content, a content part, tool
call arguments, a prompt, an embedding input) together with the role that wrote it.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping, MutableSequence
from dataclasses import dataclass
from typing import Any

__all__ = ["TextSlot", "last_user_text", "request_slots", "response_slots"]

Payload = dict[str, Any]


@dataclass(frozen=True, slots=True)
class TextSlot:
    """`container[key]` is a text written by `role`."""

    role: str
    container: MutableMapping[str, Any] | MutableSequence[Any]
    key: Any

    @property
    def text(self) -> str:
        value: str = self.container[self.key]
        return value

    def replace(self, text: str) -> None:
        self.container[self.key] = text


def request_slots(endpoint: str, body: Payload) -> list[TextSlot]:
    """Every text of a request body, in order."""
    if endpoint == "chat.completions":
        return list(_chat_message_slots(body.get("messages", [])))
    field = "prompt" if endpoint == "completions" else "input"
    return list(_string_or_list_slots("user", body, field))


def last_user_text(endpoint: str, body: Payload) -> str:
    """The last text the user wrote in a request: what the answer responds to ("" if none)."""
    texts = [slot.text for slot in request_slots(endpoint, body) if slot.role == "user"]
    return texts[-1] if texts else ""


def response_slots(endpoint: str, body: Payload) -> list[TextSlot]:
    """Every generated text of a response body (none for embeddings)."""
    slots: list[TextSlot] = []
    for choice in body.get("choices", []):
        if endpoint == "chat.completions":
            slots.extend(_chat_message_slots([choice.get("message") or {}]))
        elif endpoint == "completions" and isinstance(choice.get("text"), str):
            slots.append(TextSlot("assistant", choice, "text"))
    return slots


def _chat_message_slots(messages: list[Payload]) -> Iterator[TextSlot]:
    for message in messages:
        role = message.get("role", "user")
        content = message.get("content")
        if isinstance(content, str):
            yield TextSlot(role, message, "content")
        elif isinstance(content, list):
            for part in content:
                if (
                    isinstance(part, dict)
                    and part.get("type") == "text"
                    and isinstance(part.get("text"), str)
                ):
                    yield TextSlot(role, part, "text")
        for call in message.get("tool_calls") or []:
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict) and isinstance(function.get("arguments"), str):
                yield TextSlot(role, function, "arguments")


def _string_or_list_slots(role: str, body: Payload, field: str) -> Iterator[TextSlot]:
    value = body.get(field)
    if isinstance(value, str):
        yield TextSlot(role, body, field)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, str):
                yield TextSlot(role, value, index)
