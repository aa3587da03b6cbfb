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
    def __init__(self, backend_url: str, *, cookie: str | None = None, origin: str | None = None,
                 token: str | None = None) -> None:
        self.backend_url = backend_url.rstrip("/")
        self.cookie = cookie
        self.origin = origin
        self.token = token or str(uuid.uuid4())  # a tab's token again: the tab reloaded or reconnected
        self.updates: list[dict[str, Any]] = []
        self.probes = 0
        self.waiting: tuple[bool, asyncio.Event] | None = None
        self.sio = socketio.AsyncClient(reconnection=False)
        self.sio.on("event", self._on_event, namespace=NAMESPACE)

    async def _on_event(self, data: Any) -> None:
        update = data if isinstance(data, dict) else {"raw": data}
        self.updates.append(update)
        if self.waiting is not None and _probe_value(update) is self.waiting[0]:
            self.waiting[1].set()

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
                   timeout: float = 20.0) -> list[dict[str, Any]]:
        """Send one event and return every update the server sent for it.

        No fixed wait: a probe event follows on the same socket, and Reflex processes one tab's
        events in order, so once the probe's answer is here everything the first event caused
        has been sent. A server that answers nothing fails the test by the timeout."""
        start = len(self.updates)
        await self.emit(name, payload, path=path)
        self.probes += 1
        marker = self.probes % 2 == 1
        arrived = asyncio.Event()
        self.waiting = (marker, arrived)
        await self.emit(PROBE, {"value": marker}, path=path)
        try:
            await asyncio.wait_for(arrived.wait(), timeout)
        finally:
            self.waiting = None
        return [u for u in self.updates[start:] if not _is_probe_answer(u)]

    async def emit(self, name: str, payload: dict[str, Any] | None = None, *, path: str = "/dashboard") -> None:
        await self.sio.emit("event", {
            "name": name, "payload": payload or {},
            "router_data": {"pathname": path, "asPath": path},
        }, namespace=NAMESPACE)


# Reflex's own handler that sets the root state's hydration flag: allowed for anyone, answered by a
# delta of that flag alone, and harmless for a scripted client.
PROBE = "reflex___state____state.set_is_hydrated"
_PROBE_KEY = "is_hydrated_rx_state_"


def _probe_value(update: dict[str, Any]) -> bool | None:
    root = (update.get("delta") or {}).get("reflex___state____state") or {}
    value = root.get(_PROBE_KEY)
    return value if isinstance(value, bool) else None


def _is_probe_answer(update: dict[str, Any]) -> bool:
    delta = update.get("delta") or {}
    return (_probe_value(update) is not None and list(delta) == ["reflex___state____state"]
            and not update.get("events"))


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
