"""Live chat through the domain: fallback to a ticket when nobody is there, taking, handing
over and closing chats, context for the agent, and isolation between customers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from portal.db import utcnow
from portal.domain import support_chat as chat
from portal.domain.errors import DomainError, Forbidden, Invalid, NotFound
from portal.models import AuditEvent, Conversation, ConversationMessage, SearchQuery, Ticket, TicketMessage
from tests.factories import make_customer, make_order, make_staff, principal_for
from tests.factories_support import on_duty


def test_with_no_agent_available_the_chat_becomes_a_ticket_with_the_transcript(db: Session) -> None:
    ua, ca = make_customer(db)
    # An agent whose console was last open long ago does not count
    on_duty(db, make_staff(db), minutes_ago=60)
    view = chat.start_chat(db, principal=principal_for(ua), body="My boots leak", page="/orders/3")
    db.commit()
    assert view.status == "closed" and view.ticket_number.startswith("T-")
    ticket = db.get(Ticket, view.ticket_id)
    assert ticket is not None and ticket.customer_id == ca.id and ticket.channel == "chat"
    first = db.exec(select(TicketMessage).where(TicketMessage.ticket_id == ticket.id,
                                                TicketMessage.internal == False)).one()  # noqa: E712
    assert "My boots leak" in first.body


def test_an_available_agent_takes_the_chat_and_both_sides_talk(db: Session) -> None:
    ua, ca = make_customer(db)
    agent_user = make_staff(db)
    on_duty(db, agent_user)
    alice, agent = principal_for(ua), principal_for(agent_user)
    make_order(db, ca)
    db.add(SearchQuery(user_id=ua.id, query="waterproof boots leak", normalized="waterproof boots leak"))
    db.add(AuditEvent(action="returns.request", actor_user_id=ua.id, outcome="failed"))
    db.commit()

    view = chat.start_chat(db, principal=alice, body="Hello?", page="/orders/3")
    db.commit()
    assert view.status == "waiting"
    assert [c.id for c in chat.chats_for_agent(db, principal=agent)] == [view.id]
    chat.take_chat(db, principal=agent, conversation_id=view.id)
    chat.send_agent_message(db, principal=agent, conversation_id=view.id, body="Hi Alice, how can I help?")
    chat.send_customer_message(db, principal=alice, conversation_id=view.id, body="Boots leak")
    db.commit()
    mine = chat.current_chat(db, principal=alice)
    assert mine is not None and mine.status == "active"
    assert [m.body for m in mine.messages if m.author_kind != "system"] == [
        "Hello?", "Hi Alice, how can I help?", "Boots leak"]

    ctx = chat.chat_context(db, principal=agent, conversation_id=view.id)
    assert ctx.customer_email == ua.email and ctx.page == "/orders/3"
    assert len(ctx.orders) == 1 and ctx.searches[0][0] == "waterproof boots leak"
    assert [f[0] for f in ctx.failures] == ["returns.request (failed)"]

    # A second take fails: it is already taken
    with pytest.raises(DomainError):
        chat.take_chat(db, principal=principal_for(make_staff(db)), conversation_id=view.id)


def test_hand_over_and_close_into_a_ticket(db: Session) -> None:
    ua, _ = make_customer(db)
    a1, a2 = make_staff(db), make_staff(db)
    on_duty(db, a1)
    view = chat.start_chat(db, principal=principal_for(ua), body="Need help", page="/dashboard")
    chat.take_chat(db, principal=principal_for(a1), conversation_id=view.id)
    chat.transfer_chat(db, principal=principal_for(a1), conversation_id=view.id, to_user_id=a2.id or 0)
    db.commit()
    # The first agent may no longer write; the second may
    with pytest.raises(DomainError):
        chat.send_agent_message(db, principal=principal_for(a1), conversation_id=view.id, body="still me")
    db.rollback()
    chat.send_agent_message(db, principal=principal_for(a2), conversation_id=view.id, body="I'll take over")
    ticket = chat.close_chat_to_ticket(db, principal=principal_for(a2), conversation_id=view.id)
    db.commit()
    assert ticket.assignee_user_id == a2.id
    conv = db.get(Conversation, view.id)
    assert conv is not None and conv.status == "closed" and conv.ticket_id == ticket.id
    with pytest.raises(DomainError):
        chat.send_customer_message(db, principal=principal_for(ua), conversation_id=view.id, body="hello?")


def test_chats_nobody_takes_become_tickets(db: Session) -> None:
    ua, _ = make_customer(db)
    on_duty(db, make_staff(db))
    view = chat.start_chat(db, principal=principal_for(ua), body="Anyone?", page="/dashboard")
    db.commit()
    assert chat.expire_waiting_chats(db, now=utcnow() + timedelta(minutes=1)) == 0
    assert chat.expire_waiting_chats(db, now=utcnow() + timedelta(minutes=30)) == 1
    db.commit()
    mine = chat.current_chat(db, principal=principal_for(ua))
    assert mine is not None and mine.id == view.id and mine.ticket_number


def test_customer_b_cannot_reach_customer_a_chat_and_customers_cannot_act_as_agents(db: Session) -> None:
    ua, _ = make_customer(db)
    ub, cb = make_customer(db)
    on_duty(db, make_staff(db))
    view = chat.start_chat(db, principal=principal_for(ua), body="Private question", page="/dashboard")
    db.commit()
    bob = principal_for(ub)
    for attempt in (
        lambda: chat.send_customer_message(db, principal=bob, conversation_id=view.id, body="hi"),
        lambda: chat.typing(db, principal=bob, conversation_id=view.id, active=True),
        lambda: chat.mark_read(db, principal=bob, conversation_id=view.id),
    ):
        with pytest.raises(NotFound):
            attempt()
        db.rollback()
    for attempt in (
        lambda: chat.take_chat(db, principal=bob, conversation_id=view.id),
        lambda: chat.get_chat(db, principal=bob, conversation_id=view.id),
        lambda: chat.chat_context(db, principal=bob, conversation_id=view.id),
        lambda: chat.chats_for_agent(db, principal=bob),
        lambda: chat.close_chat_to_ticket(db, principal=bob, conversation_id=view.id),
        lambda: chat.touch_presence(db, principal=bob, available=True),
    ):
        with pytest.raises(Forbidden):
            attempt()
        db.rollback()
    assert chat.current_chat(db, principal=bob) is None
    assert len(db.exec(select(ConversationMessage)).all()) == 1
    with pytest.raises(Invalid):
        chat.start_chat(db, principal=bob, body="   ")
    db.rollback()
    assert db.exec(select(Conversation).where(Conversation.customer_id == cb.id)).first() is None


def test_an_old_ended_chat_is_not_shown_again(db: Session) -> None:
    ua, _ = make_customer(db)
    view = chat.start_chat(db, principal=principal_for(ua), body="Nobody home?", page="/dashboard")
    db.commit()
    assert view.status == "closed"
    conv = db.get(Conversation, view.id)
    assert conv is not None
    conv.ended_at = utcnow() - timedelta(hours=chat.RECENT_HOURS + 1)
    db.add(conv)
    db.commit()
    assert chat.current_chat(db, principal=principal_for(ua)) is None
