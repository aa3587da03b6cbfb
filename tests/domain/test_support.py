"""Tickets through the domain: customers open, follow, answer, reopen and rate their own;
agents work the queue; nobody reaches another customer's tickets, notes or files."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session, col, select

from portal.db import utcnow
from portal.domain import attachments as att
from portal.domain import events, support
from portal.domain.errors import DomainError, ErrorCode, Forbidden, Invalid, NotFound
from portal.domain.events import DomainEvent, Topic
from portal.models import (
    ArticleStatus,
    ArticleSuggestion,
    Attachment,
    AuditEvent,
    MailMessage,
    Notification,
    OutboundEvent,
    SearchQuery,
    Ticket,
    TicketMessage,
    TicketStatus,
)
from tests.factories import make_customer, make_order, make_staff, make_ticket, principal_for
from tests.factories_support import EXE_BYTES, PDF_BYTES, make_article, png_bytes


@pytest.fixture
def heard() -> Any:
    """Domain events announced after commit."""
    got: list[DomainEvent] = []

    def listener(batch: list[DomainEvent]) -> None:
        got.extend(batch)

    events.subscribe(listener)
    yield got
    events.unsubscribe(listener)


def _open(db: Session, principal: Any, **kw: Any) -> Ticket:
    fields: dict[str, Any] = {"subject": "My parcel is late", "body": "It was due on Monday."} | kw
    t = support.create_ticket(db, principal=principal, **fields)
    db.commit()
    return t


def test_customer_opens_a_ticket_about_their_order_with_tags_and_a_picture(db: Session, heard: Any) -> None:
    # Given Alice and one of her orders, and a photo she uploaded
    ua, ca = make_customer(db)
    order = make_order(db, ca)
    alice = principal_for(ua)
    photo = att.stage_attachment(db, principal=alice, filename="damage.png", data=png_bytes())
    db.commit()

    # When she opens a ticket from the order page
    t = _open(db, alice, category="orders", priority="high", tags=["Damaged Box", "courier"],
              context_type="order", context_id=order.id, attachment_ids=[photo.id])

    # Then it is hers, about that order, with SLA targets from configuration, tags and the photo
    view = support.get_ticket(db, principal=alice, ticket_id=t.id or 0)
    assert view.status == TicketStatus.NEW and view.context_label == f"Order {order.number}"
    assert view.tags == ["courier", "damaged-box"]
    assert view.first_response_due_at is not None and view.resolution_due_at is not None
    assert timedelta(hours=23) < view.first_response_due_at - view.created_at <= timedelta(hours=24)
    assert [f.filename for f in view.messages[0].attachments] == ["damage.png"]
    # The file is stored privately under a name the server chose
    row = db.get(Attachment, photo.id)
    assert row is not None and "damage" not in row.storage_key and row.content_type == "image/png"
    # ... the business hears about it, the audit trail has it, and open browsers are told
    assert db.exec(select(OutboundEvent).where(OutboundEvent.kind == "ticket.opened")).one()
    assert db.exec(select(AuditEvent).where(AuditEvent.action == "support.ticket_opened")).one()
    assert {(e.topic, e.customer_id) for e in heard} >= {(Topic.TICKETS, ca.id), (Topic.QUEUE, None)}


def test_context_of_someone_elses_order_is_not_found_and_nothing_is_created(db: Session) -> None:
    ua, _ = make_customer(db)
    _, cb = make_customer(db)
    bobs = make_order(db, cb)
    with pytest.raises(NotFound):
        support.create_ticket(db, principal=principal_for(ua), subject="x", body="y", context_type="order",
                              context_id=bobs.id)
    db.rollback()
    assert db.exec(select(Ticket)).all() == []
    with pytest.raises(NotFound):
        support.context_label(db, principal=principal_for(ua), context_type="invoice", context_id=bobs.id or 0)


@pytest.mark.parametrize(("name", "data", "code"), [
    ("photo.png", EXE_BYTES, "file_type"),  # an executable dressed up as a picture
    ("invoice.pdf", png_bytes(), "file_type"),  # a real picture, but not what its name says
    ("script.exe", EXE_BYTES, "file_type"),
    ("notes.txt", b"", "empty_file"),
    ("big.pdf", PDF_BYTES + b"0" * (10 * 1024 * 1024), "too_large"),
])
def test_bad_files_are_refused_and_nothing_is_stored(db: Session, name: str, data: bytes, code: str) -> None:
    ua, _ = make_customer(db)
    with pytest.raises(Invalid) as err:
        att.stage_attachment(db, principal=principal_for(ua), filename=name, data=data)
    assert err.value.detail == code
    db.rollback()
    assert db.exec(select(Attachment)).all() == []


def test_good_files_are_accepted_by_content(db: Session) -> None:
    ua, _ = make_customer(db)
    p = principal_for(ua)
    pdf = att.stage_attachment(db, principal=p, filename="../../etc/Receipt.PDF", data=PDF_BYTES)
    txt = att.stage_attachment(db, principal=p, filename="log.txt", data="naïve café\n".encode())
    assert (pdf.filename, pdf.content_type) == ("Receipt.PDF", "application/pdf")
    assert txt.content_type == "text/plain"


def test_suggestions_come_from_published_articles_and_a_solved_one_is_recorded(db: Session) -> None:
    ua, _ = make_customer(db)
    alice = principal_for(ua)
    good = make_article(db, title="Track your order", summary="Follow your parcel", body="Use the tracking link")
    make_article(db, title="Tracking secrets (draft)", status=ArticleStatus.DRAFT)
    make_article(db, title="Boot care", body="Wax your boots")

    found = support.suggest_articles(db, principal=alice, text="Where can I TRACK my parcel?")
    assert [s.id for s in found] == [good.id]
    assert support.suggest_articles(db, principal=alice, text="a an") == []

    support.record_suggestion(db, principal=alice, article_id=good.id or 0, query="track parcel", solved=True)
    db.commit()
    row = db.exec(select(ArticleSuggestion)).one()
    assert row.solved is True and row.article_id == good.id
    logged = db.exec(select(SearchQuery)).one()
    assert (logged.source, logged.clicked_article_id, logged.user_id) == ("ticket_form", good.id, ua.id)


def test_customers_never_see_internal_notes_agents_do(db: Session) -> None:
    ua, _ = make_customer(db)
    agent = make_staff(db)
    t = _open(db, principal_for(ua))
    support.agent_reply(db, principal=principal_for(agent), ticket_id=t.id or 0, body="Customer seems upset",
                        internal=True)
    support.agent_reply(db, principal=principal_for(agent), ticket_id=t.id or 0, body="We are on it!")
    db.commit()
    customer_view = support.get_ticket(db, principal=principal_for(ua), ticket_id=t.id or 0)
    agent_view = support.get_ticket(db, principal=principal_for(agent), ticket_id=t.id or 0)
    assert [m.body for m in customer_view.messages] == ["It was due on Monday.", "We are on it!"]
    assert "Customer seems upset" in [m.body for m in agent_view.messages]


def test_agent_answer_sets_first_response_and_emails_the_customer_with_a_link(db: Session) -> None:
    ua, _ = make_customer(db)
    agent = make_staff(db)
    t = _open(db, principal_for(ua))
    support.agent_reply(db, principal=principal_for(agent), ticket_id=t.id or 0, body="It ships today.")
    db.commit()
    db.refresh(t)
    assert t.first_responded_at is not None and t.status == TicketStatus.PENDING
    assert t.assignee_user_id == agent.id
    note = db.exec(select(Notification).where(Notification.user_id == ua.id)).one()
    assert note.link == f"/tickets/{t.id}" and note.kind == "support"
    mail = db.exec(select(MailMessage).where(MailMessage.to_address == ua.email)).one()
    assert f"/tickets/{t.id}" in mail.body_text and "It ships today." in mail.body_text
    # An internal note sends nothing
    support.agent_reply(db, principal=principal_for(agent), ticket_id=t.id or 0, body="note", internal=True)
    db.commit()
    assert len(db.exec(select(MailMessage)).all()) == 1


def test_bad_replies_change_nothing(db: Session) -> None:
    ua, ca = make_customer(db)
    t = _open(db, principal_for(ua))
    closed = make_ticket(db, ca, status=TicketStatus.CLOSED)
    with pytest.raises(Invalid):
        support.customer_reply(db, principal=principal_for(ua), ticket_id=t.id or 0, body="   ")
    with pytest.raises(DomainError) as err:
        support.customer_reply(db, principal=principal_for(ua), ticket_id=closed.id or 0, body="hello?")
    assert err.value.code == ErrorCode.NOT_ALLOWED and err.value.detail == "ticket_closed"
    db.rollback()
    assert len(db.exec(select(TicketMessage)).all()) == 1


def test_customer_b_gets_nothing_of_customer_a(db: Session) -> None:
    # Given Alice's ticket with a photo, and a file she staged but did not send yet
    ua, ca = make_customer(db)
    ub, _ = make_customer(db)
    alice, bob = principal_for(ua), principal_for(ub)
    photo = att.stage_attachment(db, principal=alice, filename="a.png", data=png_bytes())
    staged = att.stage_attachment(db, principal=alice, filename="b.png", data=png_bytes())
    db.commit()
    t = _open(db, alice, attachment_ids=[photo.id])
    resolved = make_ticket(db, ca, status=TicketStatus.RESOLVED, resolved_at=utcnow())
    tid = t.id or 0

    # Then everything Bob tries with her ids is "not found", exactly like a missing id
    attempts = [
        lambda: support.get_ticket(db, principal=bob, ticket_id=tid),
        lambda: support.customer_reply(db, principal=bob, ticket_id=tid, body="hi"),
        lambda: support.reopen_ticket(db, principal=bob, ticket_id=resolved.id or 0),
        lambda: support.rate_ticket(db, principal=bob, ticket_id=resolved.id or 0, rating=1),
        lambda: att.open_attachment(db, principal=bob, attachment_id=photo.id),
        lambda: att.open_attachment(db, principal=bob, attachment_id=staged.id),
        lambda: att.discard_staged(db, principal=bob, attachment_id=staged.id),
        lambda: support.create_ticket(db, principal=bob, subject="s", body="b", attachment_ids=[staged.id]),
        lambda: support.get_ticket(db, principal=bob, ticket_id=999_999),
    ]
    for attempt in attempts:
        with pytest.raises(NotFound):
            attempt()
        db.rollback()
    assert support.list_tickets(db, principal=bob, resolved=False) == []
    assert support.list_tickets(db, principal=bob, resolved=True) == []
    # ... and nothing of hers changed
    staged_row = db.get(Attachment, staged.id)
    assert staged_row is not None and staged_row.ticket_id is None
    assert len(db.exec(select(TicketMessage).where(TicketMessage.ticket_id == tid)).all()) == 1
    db.refresh(resolved)
    assert resolved.rating is None and resolved.status == TicketStatus.RESOLVED
    # She herself can open both files
    assert att.open_attachment(db, principal=alice, attachment_id=photo.id).path.read_bytes() == png_bytes()


def test_customers_cannot_use_agent_functions(db: Session) -> None:
    ua, ca = make_customer(db)
    t = make_ticket(db, ca)
    alice = principal_for(ua)
    for attempt in (
        lambda: support.queue(db, principal=alice),
        lambda: support.agent_reply(db, principal=alice, ticket_id=t.id or 0, body="x", internal=True),
        lambda: support.assign_ticket(db, principal=alice, ticket_id=t.id or 0, assignee_user_id=ua.id),
        lambda: support.set_status(db, principal=alice, ticket_id=t.id or 0, status="closed"),
        lambda: support.merge_tickets(db, principal=alice, source_id=t.id or 0, target_id=t.id or 0),
        lambda: support.figures(db, principal=alice),
    ):
        with pytest.raises(Forbidden):
            attempt()


def test_reopen_within_the_window_and_rate_once(db: Session) -> None:
    ua, ca = make_customer(db)
    alice = principal_for(ua)
    recent = make_ticket(db, ca, status=TicketStatus.RESOLVED, resolved_at=utcnow() - timedelta(days=1))
    old = make_ticket(db, ca, status=TicketStatus.RESOLVED, resolved_at=utcnow() - timedelta(days=30))
    support.reopen_ticket(db, principal=alice, ticket_id=recent.id or 0)
    db.commit()
    db.refresh(recent)
    assert recent.status == TicketStatus.OPEN
    with pytest.raises(DomainError) as err:
        support.reopen_ticket(db, principal=alice, ticket_id=old.id or 0)
    assert err.value.detail == "reopen_window"
    db.rollback()
    with pytest.raises(Invalid):
        support.rate_ticket(db, principal=alice, ticket_id=old.id or 0, rating=9)
    support.rate_ticket(db, principal=alice, ticket_id=old.id or 0, rating=5, comment="Quick and kind")
    db.commit()
    with pytest.raises(DomainError):
        support.rate_ticket(db, principal=alice, ticket_id=old.id or 0, rating=1)
    db.rollback()
    db.refresh(old)
    assert (old.rating, old.rating_comment) == (5, "Quick and kind")


def test_merge_moves_the_thread_and_closes_the_duplicate(db: Session) -> None:
    ua, _ = make_customer(db)
    ub, _ = make_customer(db)
    agent = principal_for(make_staff(db))
    first = _open(db, principal_for(ua), subject="Parcel late")
    dup = _open(db, principal_for(ua), subject="Parcel STILL late", body="Any news?")
    other = _open(db, principal_for(ub), subject="Other customer")
    with pytest.raises(DomainError) as err:
        support.merge_tickets(db, principal=agent, source_id=dup.id or 0, target_id=other.id or 0)
    assert err.value.detail == "merge_other_customer"
    db.rollback()
    support.merge_tickets(db, principal=agent, source_id=dup.id or 0, target_id=first.id or 0)
    db.commit()
    view = support.get_ticket(db, principal=principal_for(ua), ticket_id=first.id or 0)
    assert "Any news?" in [m.body for m in view.messages]
    db.refresh(dup)
    assert dup.status == TicketStatus.CLOSED and dup.merged_into_id == first.id


def test_queue_filters_and_puts_tickets_at_risk_first(db: Session) -> None:
    _, ca = make_customer(db)
    agent_user = make_staff(db)
    agent = principal_for(agent_user)
    now = utcnow()
    calm = make_ticket(db, ca, subject="calm", priority="urgent", first_response_due_at=now + timedelta(days=2),
                       resolution_due_at=now + timedelta(days=3))
    risky = make_ticket(db, ca, subject="risky", priority="low", first_response_due_at=now + timedelta(minutes=10),
                        resolution_due_at=now + timedelta(days=3))
    mine = make_ticket(db, ca, subject="mine", priority="normal", assignee_user_id=agent_user.id,
                       status=TicketStatus.PENDING)
    make_ticket(db, ca, subject="done", status=TicketStatus.RESOLVED)
    rows = support.queue(db, principal=agent)
    assert [r.subject for r in rows][:2] == ["risky", "calm"] and rows[0].at_risk
    assert {r.subject for r in rows} == {"risky", "calm", "mine"}
    assert [r.id for r in support.queue(db, principal=agent, assignee="me")] == [mine.id]
    assert [r.id for r in support.queue(db, principal=agent, priority="urgent")] == [calm.id]
    assert [r.subject for r in support.queue(db, principal=agent, status="resolved")] == ["done"]
    with pytest.raises(Invalid):
        support.queue(db, principal=agent, status="bogus")
    assert risky.id in {r.id for r in support.queue(db, principal=agent, assignee="none")}


def test_figures_own_and_team(db: Session) -> None:
    _, ca = make_customer(db)
    me, other = make_staff(db), make_staff(db)
    now = utcnow()
    make_ticket(db, ca, assignee_user_id=me.id, created_at=now - timedelta(hours=3),
                first_responded_at=now - timedelta(hours=2), rating=4, status=TicketStatus.RESOLVED,
                resolved_at=now - timedelta(hours=1))
    make_ticket(db, ca, assignee_user_id=other.id, created_at=now - timedelta(hours=5),
                first_responded_at=now - timedelta(hours=2), rating=2, status=TicketStatus.OPEN)
    own, team = support.figures(db, principal=principal_for(me))
    assert (own.open_tickets, own.avg_first_response_minutes, own.avg_rating) == (0, 60, 4.0)
    assert own.avg_resolution_minutes == 120 and team.avg_resolution_minutes == 120
    assert (team.open_tickets, team.avg_first_response_minutes, team.avg_rating) == (1, 120, 3.0)


def test_set_priority_moves_the_sla_targets(db: Session) -> None:
    ua, _ = make_customer(db)
    agent = principal_for(make_staff(db))
    t = _open(db, principal_for(ua))
    support.set_priority(db, principal=agent, ticket_id=t.id or 0, priority="urgent")
    db.commit()
    db.refresh(t)
    assert t.first_response_due_at is not None
    assert t.first_response_due_at - t.created_at == timedelta(minutes=240)
    with pytest.raises(Invalid):
        support.set_priority(db, principal=agent, ticket_id=t.id or 0, priority="asap")


def test_staged_files_nobody_sent_are_purged(db: Session) -> None:
    ua, _ = make_customer(db)
    info = att.stage_attachment(db, principal=principal_for(ua), filename="a.png", data=png_bytes())
    db.commit()
    row = db.get(Attachment, info.id)
    assert row is not None
    path = att.get_settings().files_dir / row.storage_key
    row.created_at = utcnow() - timedelta(days=2)
    db.add(row)
    db.commit()
    assert att.purge_stale_staged(db) == 1
    db.commit()
    assert not path.exists() and db.exec(select(Attachment).where(col(Attachment.id) == info.id)).first() is None


def test_reply_with_files_only_takes_the_callers_own_staged_files(db: Session) -> None:
    ua, _ = make_customer(db)
    ub, _ = make_customer(db)
    alice, bob = principal_for(ua), principal_for(ub)
    t = _open(db, alice)
    mine = att.stage_attachment(db, principal=alice, filename="receipt.pdf", data=PDF_BYTES)
    bobs = att.stage_attachment(db, principal=bob, filename="bob.pdf", data=PDF_BYTES)
    db.commit()
    with pytest.raises(NotFound):
        support.customer_reply(db, principal=alice, ticket_id=t.id or 0, body="and this", attachment_ids=[bobs.id])
    db.rollback()
    support.customer_reply(db, principal=alice, ticket_id=t.id or 0, body="Here is the receipt",
                           attachment_ids=[mine.id])
    db.commit()
    view = support.get_ticket(db, principal=alice, ticket_id=t.id or 0)
    assert [(m.body, [f.filename for f in m.attachments]) for m in view.messages] == [
        ("It was due on Monday.", []), ("Here is the receipt", ["receipt.pdf"])]
    bob_row = db.get(Attachment, bobs.id)
    assert bob_row is not None and bob_row.ticket_id is None
