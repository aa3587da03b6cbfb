"""The customer's timeline: only their own rows, every kind, newest first, a fixed number of queries."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import event
from sqlmodel import Session

from portal.db import utcnow
from portal.domain import audit, timeline
from portal.domain.errors import DomainError, Invalid
from portal.models import (
    Conversation,
    ConversationMessage,
    Customer,
    DocumentStatus,
    OrderEvent,
    Return,
    TicketMessage,
    User,
)
from tests.factories import make_customer, make_invoice, make_order, make_staff, make_ticket, principal_for
from tests.factories_billing import make_document, make_payment
from tests.factories_tracking import make_shipment


def _history(db: Session, user: User, customer: Customer, *, tag: str = "") -> None:
    """One of everything for this customer, a little apart in time."""
    order = make_order(db, customer, days_ago=9)
    db.add(OrderEvent(order_id=order.id or 0, kind="paid", message=f"Paid {tag}".strip(),
                      created_at=utcnow() - timedelta(days=8)))
    make_shipment(db, customer, order=order)  # two checkpoints, 10 and 9 hours ago
    db.add(Return(number=f"R-{tag or 'X'}{order.id}", order_id=order.id or 0, customer_id=customer.id or 0,
                  reason="Too small", created_at=utcnow() - timedelta(days=5)))
    invoice = make_invoice(db, customer)
    make_payment(db, customer, invoice, days_ago=2)
    ticket = make_ticket(db, customer, subject=f"Where is my parcel {tag}".strip())
    db.add(TicketMessage(ticket_id=ticket.id or 0, author_kind="agent", body="It is on its way."))
    db.add(TicketMessage(ticket_id=ticket.id or 0, author_kind="agent", body="Internal: VIP", internal=True))
    conv = Conversation(customer_id=customer.id or 0, user_id=user.id, started_at=utcnow() - timedelta(days=3))
    db.add(conv)
    db.flush()
    db.add(ConversationMessage(conversation_id=conv.id or 0, author_kind="customer", body="Hello, about my jacket"))
    doc = make_document(db, customer, with_file=False, status=DocumentStatus.SIGNED, title=f"Agreement {tag}".strip())
    doc.signed_at = utcnow() - timedelta(hours=1)
    db.add(doc)
    audit.record(db, action="auth.login", user_id=user.id, customer_id=customer.id, method="password")
    audit.record(db, action="auth.password_changed", user_id=user.id, customer_id=customer.id)
    db.commit()


def test_every_kind_of_event_shows_newest_first_and_links_to_its_page(db: Session) -> None:
    # Given Ann with one of everything
    ua, ca = make_customer(db)
    _history(db, ua, ca)
    # When she reads her timeline
    got = timeline.timeline(db, principal=principal_for(ua), limit=100)
    # Then every kind is there, newest first, each with a link inside the portal
    assert {e.kind for e in got.entries} == set(timeline.KINDS)
    times = [e.at for e in got.entries]
    assert times == sorted(times, reverse=True)
    assert all(e.link.startswith("/") for e in got.entries)
    actions = {e.action for e in got.entries}
    assert {"order.placed", "order.paid", "shipment.checkpoint", "return.requested", "invoice.issued",
            "payment.succeeded", "ticket.opened", "ticket.replied", "chat.started", "document.added",
            "document.signed", "auth.login", "auth.password_changed"} <= actions
    assert not got.has_more


def test_only_her_own_rows_never_internal_notes_nor_someone_elses_security_events(db: Session) -> None:
    # Given Ann and Bob with the same kinds of history, and Ann's colleague who signed in
    ua, ca = make_customer(db)
    ub, cb = make_customer(db)
    _history(db, ua, ca, tag="ann")
    _history(db, ub, cb, tag="bob")
    colleague = User(email="colleague@example.com", full_name="Col League", role="customer", customer_id=ca.id,
                     password_hash="x")
    db.add(colleague)
    db.flush()
    audit.record(db, action="auth.login", user_id=colleague.id, customer_id=ca.id, method="password")
    db.commit()
    # When Ann reads her timeline
    mine = timeline.timeline(db, principal=principal_for(ua), limit=200).entries
    # Then nothing of Bob's is there (positive control: Bob sees his own)
    theirs = timeline.timeline(db, principal=principal_for(ub), limit=200).entries
    assert not {e.key for e in mine} & {e.key for e in theirs}
    assert any("bob" in e.text.lower() or "bob" in e.subject.lower() for e in theirs)
    assert not any("bob" in (e.text + e.subject).lower() for e in mine)
    # ... no internal note, and only her own sign-ins (one), not her colleague's
    assert sum(e.action == "ticket.replied" for e in mine) == 1
    assert sum(e.action == "auth.login" for e in mine) == 1


def test_staff_have_no_timeline_of_their_own(db: Session) -> None:
    agent = make_staff(db)
    with pytest.raises(DomainError):
        timeline.timeline(db, principal=principal_for(agent))


def test_filter_by_kind_and_search(db: Session) -> None:
    ua, ca = make_customer(db)
    _history(db, ua, ca, tag="ann")
    p = principal_for(ua)
    # Filtered by kind: only those kinds
    only = timeline.timeline(db, principal=p, kinds=("shipments", "security"), limit=100).entries
    assert {e.kind for e in only} == {"shipments", "security"}
    # Searched: only what matches, across kinds (a ticket's subject, a chat's words)
    found = timeline.timeline(db, principal=p, query="parcel", limit=100).entries
    assert found and all(e.kind == "support" for e in found)
    assert [e.action for e in timeline.timeline(db, principal=p, query="JACKET", limit=100).entries] \
        == ["chat.started"]
    # A search for a wildcard is a search for that character, not "everything"
    assert timeline.timeline(db, principal=p, query="%", limit=100).entries == []
    # Bad arguments are refused naming the field
    with pytest.raises(Invalid) as err:
        timeline.timeline(db, principal=p, kinds=("secrets",))
    assert err.value.data.get("field") == "kind"
    with pytest.raises(Invalid):
        timeline.timeline(db, principal=p, query="x" * 101)


def test_show_more_pages_through_the_same_order(db: Session) -> None:
    ua, ca = make_customer(db)
    _history(db, ua, ca)
    p = principal_for(ua)
    everything = timeline.timeline(db, principal=p, limit=200).entries
    first = timeline.timeline(db, principal=p, limit=5)
    more = timeline.timeline(db, principal=p, limit=10)
    assert first.has_more and more.entries[:5] == first.entries == everything[:5]
    assert more.entries == everything[:10]


@contextlib.contextmanager
def _count_queries(db: Session) -> Iterator[list[str]]:
    seen: list[str] = []
    engine = db.get_bind()

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_a_fixed_number_of_queries_however_long_the_history(db: Session) -> None:
    # Given Ann with a short history, then with four times as much
    ua, ca = make_customer(db)
    p = principal_for(ua)
    _history(db, ua, ca)
    db.expire_all()
    with _count_queries(db) as short:
        timeline.timeline(db, principal=p, limit=100)
    for n in range(3):
        _history(db, ua, ca, tag=f"t{n}")
    db.expire_all()
    with _count_queries(db) as long:
        got = timeline.timeline(db, principal=p, limit=100)
    # Then reading it costs the same few queries (one per source), not one per entry
    assert len(got.entries) > 4 * 10
    assert len(long) == len(short) <= 16
