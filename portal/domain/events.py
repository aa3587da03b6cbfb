"""Domain events: what changed, for whom. Recorded on the session and announced only after
the transaction commits, so nobody is told about a change that was rolled back."""

from __future__ import annotations

import contextvars
import dataclasses
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session as OrmSession

log = logging.getLogger(__name__)


class Topic:
    ORDERS = "orders"
    SHIPMENTS = "shipments"
    TICKETS = "tickets"
    CHAT = "chat"
    BILLING = "billing"
    DOCUMENTS = "documents"
    NOTIFICATIONS = "notifications"
    OFFERS = "offers"
    PROFILE = "profile"
    QUEUE = "queue"  # staff: the support queue changed


@dataclasses.dataclass(frozen=True, slots=True)
class DomainEvent:
    topic: str
    # Who should hear about it: every user of this customer, and/or these users (staff).
    customer_id: int | None = None
    user_ids: tuple[int, ...] = ()
    # Everyone with one of these roles ("agent", "admin"), for staff-wide changes.
    roles: tuple[str, ...] = ()
    data: dict[str, Any] = dataclasses.field(default_factory=dict)
    # Which tab and state caused it ("token|state"), filled in by `emit`: that state already
    # shows the change, so the live push does not refresh it a second time.
    origin: str = ""


# Set by the UI layer while a tab's handler runs (see portal.state.base).
current_origin: contextvars.ContextVar[str] = contextvars.ContextVar("portal_event_origin", default="")


def origin_of(token: str, state_name: str) -> str:
    """The origin of a tab's state: what `DomainEvent.origin` holds for a change it made."""
    return f"{token}|{state_name}"

Listener = Callable[[list[DomainEvent]], None]
_listeners: list[Listener] = []
_KEY = "portal_domain_events"


def emit(session: OrmSession, event: DomainEvent) -> None:
    if not session.in_transaction():
        # Bind the event to a transaction, so a rollback of it forgets the event.
        session.begin()
    origin = current_origin.get()
    if origin and not event.origin:
        event = dataclasses.replace(event, origin=origin)
    session.info.setdefault(_KEY, []).append(event)


def subscribe(listener: Listener) -> None:
    if listener not in _listeners:
        _listeners.append(listener)


def subscribe_first(listener: Listener) -> None:
    """For listeners that must run before the others (the view versions, before the push)."""
    if listener not in _listeners:
        _listeners.insert(0, listener)


def unsubscribe(listener: Listener) -> None:
    if listener in _listeners:
        _listeners.remove(listener)


@sa_event.listens_for(OrmSession, "after_commit")
def _announce(session: OrmSession) -> None:
    events = session.info.pop(_KEY, [])
    if not events:
        return
    for listener in list(_listeners):
        try:
            listener(events)
        except Exception:  # a broken listener must not undo a committed change
            log.exception("domain event listener failed")


@sa_event.listens_for(OrmSession, "after_soft_rollback")
def _forget(session: OrmSession, _previous_transaction: object) -> None:
    # Fires on every rollback(), also when no database transaction had begun yet.
    session.info.pop(_KEY, None)
