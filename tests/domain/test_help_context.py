""""Get help with this": a reference is resolved from the customer's own records, or not at all."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session

from portal.db import utcnow
from portal.domain import help_context
from portal.domain import support_chat as chat
from portal.domain.errors import DomainError, NotFound
from portal.models import InvoiceStatus, TrackingTag
from portal.state import help_about
from tests.factories import make_customer, make_invoice, make_order, make_staff, make_ticket, principal_for
from tests.factories_support import on_duty
from tests.factories_tracking import make_shipment


def test_a_late_parcel_of_her_own_is_described_from_her_records(db: Session) -> None:
    # Given Ann's parcel, promised four days ago and still in transit
    ua, ca = make_customer(db)
    promised = utcnow() - timedelta(days=4)
    s = make_shipment(db, ca, original_expected_delivery=promised, expected_delivery_end=promised)
    # When she asks for help with it
    sit = help_context.resolve(db, principal=principal_for(ua), about=f"shipment:{s.id}")
    # Then it is a late parcel, four days late, a shipping question of high priority, with the facts
    assert (sit.code, sit.days, sit.category, sit.priority) == ("shipment.late", 4, "shipping", "high")
    assert help_about.subject(sit) == f"Parcel DHL {s.tracking_number} is 4 days late"
    body = help_about.body(sit)
    assert f"Tracking: DHL {s.tracking_number}" in body and "Last scan: Seeded scan 1 (Venlo, NL)" in body


def test_someone_elses_or_a_made_up_reference_is_not_found(db: Session) -> None:
    ua, _ = make_customer(db)
    ub, cb = make_customer(db)
    theirs = make_shipment(db, cb)
    for about in (f"shipment:{theirs.id}", "shipment:999999", "order:abc", "shipment:1;drop", "user:1", ""):
        with pytest.raises(NotFound):
            help_context.resolve(db, principal=principal_for(ua), about=about)
    # Positive control: the owner gets it
    assert help_context.resolve(db, principal=principal_for(ub), about=f"shipment:{theirs.id}").context_id == theirs.id


@pytest.mark.parametrize(("tag", "subtag", "code", "priority"), [
    (TrackingTag.EXCEPTION, "Exception_013", "shipment.problem", "high"),
    (TrackingTag.EXCEPTION, "Exception_004", "shipment.customs", "high"),
    (TrackingTag.ATTEMPT_FAIL, "AttemptFail_001", "shipment.attempt_failed", "normal"),
    (TrackingTag.IN_TRANSIT, "InTransit_003", "shipment.on_its_way", "normal"),
])
def test_each_shipment_situation(db: Session, tag: TrackingTag, subtag: str, code: str, priority: str) -> None:
    ua, ca = make_customer(db)
    s = make_shipment(db, ca, tag=tag, subtag=subtag)
    sit = help_context.resolve(db, principal=principal_for(ua), about=f"shipment:{s.id}")
    assert (sit.code, sit.priority) == (code, priority)


def test_an_overdue_invoice_and_an_order(db: Session) -> None:
    ua, ca = make_customer(db)
    inv = make_invoice(db, ca, due_in_days=-3, status=InvoiceStatus.OPEN)
    order = make_order(db, ca)
    p = principal_for(ua)
    sit = help_context.resolve(db, principal=p, about=f"invoice:{inv.id}")
    assert (sit.code, sit.category, sit.days) == ("invoice.overdue", "billing", 3)
    assert help_about.subject(sit) == f"Invoice {inv.number} is overdue"
    sit = help_context.resolve(db, principal=p, about=f"order:{order.id}")
    assert (sit.code, sit.category) == ("order.not_shipped", "orders")
    assert "Items: 1 × Trail jacket" in help_about.body(sit)


def test_the_same_context_travels_into_a_live_chat_and_its_ticket(db: Session) -> None:
    # Given Ann's late parcel, Bob's parcel and an agent on duty
    ua, ca = make_customer(db)
    _, cb = make_customer(db)
    agent = make_staff(db)
    on_duty(db, agent)
    mine = make_shipment(db, ca, original_expected_delivery=utcnow() - timedelta(days=2))
    theirs = make_shipment(db, cb)
    p = principal_for(ua)
    sit = help_context.resolve(db, principal=p, about=f"shipment:{mine.id}")
    # When she starts a chat about it
    view = chat.start_chat(db, principal=p, body="Where is it?", page=f"/shipments/{mine.id}", about=sit.about,
                           about_text=help_about.subject(sit))
    db.commit()
    # Then the chat's first line is the context, and the agent's panel says what it is about
    assert [m.author_kind for m in view.messages] == ["system", "customer"]
    assert view.messages[0].body == f"Parcel DHL {mine.tracking_number} is 2 days late"
    ctx = chat.chat_context(db, principal=principal_for(agent), conversation_id=view.id)
    assert ctx.about == f"Shipment {mine.tracking_number}"
    # ... and the ticket the chat becomes is about the same shipment, with the same panel
    ticket = chat.close_chat_to_ticket(db, principal=principal_for(agent), conversation_id=view.id)
    db.commit()
    assert (ticket.context_type, ticket.context_id) == ("shipment", mine.id)
    assert chat.ticket_context(db, principal=principal_for(agent), ticket_id=ticket.id or 0).about == ctx.about
    # A reference to someone else's shipment gives the chat no context at all
    other = chat.start_chat(db, principal=principal_for(make_customer(db)[0]), body="Hi",
                            about=f"shipment:{theirs.id}", about_text="Parcel X is 9 days late")
    assert [m.author_kind for m in other.messages] == ["customer"]


def test_customers_do_not_reach_the_agents_panel(db: Session) -> None:
    ua, ca = make_customer(db)
    ticket = make_ticket(db, ca)
    with pytest.raises(DomainError):
        chat.ticket_context(db, principal=principal_for(ua), ticket_id=ticket.id or 0)
