"""Any OpenAI-compatible chat-completions endpoint (POST {base}/chat/completions), with tool calls.

An adapter only: it sends messages and tool definitions and returns what came back, typed. What a
tool does is decided by the caller (portal.domain.assistant), never here.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import httpx


@dataclasses.dataclass(frozen=True, slots=True)
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]


@dataclasses.dataclass(frozen=True, slots=True)
class Completion:
    content: str
    tool_calls: list[ToolCall]


class LlmError(Exception):
    """The endpoint could not be reached or answered something we cannot read."""


class ChatClient:
    def __init__(self, *, base_url: str, model: str, api_key: str = "", timeout: float = 20.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.model = model
        self._client = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout,
                                    transport=transport)

    def close(self) -> None:
        self._client.close()

    def complete(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> Completion:
        body: dict[str, Any] = {"model": self.model, "messages": messages, "temperature": 0}
        if tools:
            body["tools"] = tools
            body["tool_choice"] = "auto"
        try:
            resp = self._client.post("/chat/completions", json=body)
            resp.raise_for_status()
            data = resp.json()
            message = data["choices"][0]["message"]
        except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as err:
            raise LlmError(str(err)) from err
        calls: list[ToolCall] = []
        for raw in message.get("tool_calls") or []:
            try:
                fn = raw["function"]
                args = fn.get("arguments") or "{}"
                parsed = json.loads(args) if isinstance(args, str) else args
                calls.append(ToolCall(id=str(raw.get("id") or ""), name=str(fn["name"]),
                                      arguments=parsed if isinstance(parsed, dict) else {}))
            except (KeyError, TypeError, ValueError) as err:
                raise LlmError(f"unreadable tool call: {err}") from err
        return Completion(content=str(message.get("content") or ""), tool_calls=calls)
