"""The page's mailbox: how the server asks the browser for a full page load, a form POST, or to
show a secret once, without eval (so the Content-Security-Policy needs no 'unsafe-eval').

Every page renders one hidden element with the id MAILBOX (`portal.layouts.shell`). The server
sends `rx.set_value(MAILBOX, message)`, which Reflex's client applies without eval (state.js,
applyEvent "_set_value": `ref.current.value = value`), and assets/portal-actions.js has replaced
that element's `value` setter: it reads the JSON message and acts on it, once. Nothing is kept,
neither in the element nor in Reflex state (a login ticket in a URL, a secret shown once).
"""

from __future__ import annotations

import json
from typing import Any

import reflex as rx
from reflex_base.event import EventSpec

from portal.domain.auth import BINDING_COOKIE

MAILBOX = "portal-mailbox"


def mailbox() -> rx.Component:
    """The hidden element the messages are delivered to (a static id: Reflex gives it a ref)."""
    return rx.el.input(type="hidden", id=MAILBOX, data_binding_cookie=BINDING_COOKIE)


def send(message: dict[str, Any]) -> EventSpec:
    """One message for this tab's page, acted on by assets/portal-actions.js."""
    return rx.set_value(MAILBOX, json.dumps(message))
