"""A websocket client that speaks Reflex's event protocol, to send events a browser would
never send: other people's ids, handlers of other roles, no cookie at all."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import socketio
from reflex_base.utils.format import format_event_handler

NAMESPACE = "/_event"


def handler_name(handler: Any) -> str:
    return format_event_handler(handler)


class ReflexClient:
    def __init__(self, backend_url: str, *, cookie: str | None = None, origin: str | None = None) -> None:
        self.backend_url = backend_url.rstrip("/")
        self.cookie = cookie
        self.origin = origin
        self.token = str(uuid.uuid4())
        self.updates: list[dict[str, Any]] = []
        self.sio = socketio.AsyncClient(reconnection=False)
        self.sio.on("event", self._on_event, namespace=NAMESPACE)

    async def _on_event(self, data: Any) -> None:
        self.updates.append(data if isinstance(data, dict) else {"raw": data})

    async def __aenter__(self) -> ReflexClient:
        headers = {}
        if self.cookie:
            headers["Cookie"] = self.cookie
        if self.origin:
            headers["Origin"] = self.origin
        await self.sio.connect(f"{self.backend_url}?token={self.token}", socketio_path="/_event",
                               transports=["websocket"], headers=headers, namespaces=[NAMESPACE],
                               wait_timeout=10)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.sio.disconnect()

    async def send(self, name: str, payload: dict[str, Any] | None = None, *, path: str = "/dashboard",
                   settle: float = 1.0) -> list[dict[str, Any]]:
        """Send one event and return every update that arrived while it settled."""
        start = len(self.updates)
        await self.sio.emit("event", {
            "name": name, "payload": payload or {},
            "router_data": {"pathname": path, "asPath": path},
        }, namespace=NAMESPACE)
        await asyncio.sleep(settle)
        return self.updates[start:]


def deltas_text(updates: list[dict[str, Any]]) -> str:
    """Everything the server sent, as one string to search for leaked values."""
    import json

    return json.dumps(updates, default=str)


def redirects(updates: list[dict[str, Any]]) -> list[str]:
    out = []
    for u in updates:
        for ev in u.get("events", []) or []:
            if ev.get("name") == "_redirect":
                out.append(ev.get("payload", {}).get("path", ""))
    return out
