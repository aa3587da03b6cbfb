"""A customer (or a script with their session) cannot flood the assistant, the live chat, ticket
replies or new tickets: past an allowance per window they are told to wait, nothing is stored,
and other customers are not affected. The window passes and they can go on."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from portal.db import utcnow
from portal.domain import assistant, support, support_chat, throttle
from portal.domain.errors import DomainError, ErrorCode
from portal.models import ConversationMessage, Ticket
from tests.factories import make_customer, make_staff, principal_for
from tests.factories_kb import clear_search_index


@pytest.fixture(autouse=True)
def _empty_index(db: Session) -> None:
    clear_search_index(db)


def _later(monkeypatch: pytest.MonkeyPatch, by: timedelta) -> None:
    now = utcnow() + by
    monkeypatch.setattr(throttle, "utcnow", lambda: now)


def test_the_assistant_asks_a_flooding_customer_to_wait(db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    ua, _ = make_customer(db)
    ub, _ = make_customer(db)
    alice, convo = principal_for(ua), assistant.Conversation()
    limit = throttle.ASSISTANT_MESSAGES.limit
    for _ in range(limit):
        r = assistant.respond(db, principal=alice, convo=convo, text="hello", embedder=False)
        db.commit()
        assert "faster than I can answer" not in r.text
    r = assistant.respond(db, principal=alice, convo=convo, text="hello", embedder=False)
    assert "faster than I can answer" in r.text
    assert len(convo.transcript) == 2 * limit  # the refused message was not taken into the conversation
    # Someone else is not affected
    r = assistant.respond(db, principal=principal_for(ub), convo=assistant.Conversation(), text="hello",
                          embedder=False)
    assert "faster" not in r.text
    # A minute later she can go on
    _later(monkeypatch, timedelta(minutes=1, seconds=1))
    r = assistant.respond(db, principal=alice, convo=convo, text="hello", embedder=False)
    assert "faster" not in r.text


def test_new_tickets_are_limited_per_customer(db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    ua, ca = make_customer(db)
    ub, _ = make_customer(db)
    alice = principal_for(ua)
    for i in range(throttle.NEW_TICKETS.limit):
        support.create_ticket(db, principal=alice, subject=f"Question {i}", body="Hello")
        db.commit()
    with pytest.raises(DomainError) as refused:
        support.create_ticket(db, principal=alice, subject="One more", body="Hello")
    assert (refused.value.code, refused.value.detail) == (ErrorCode.THROTTLED, "rate")
    db.rollback()
    assert len(db.exec(select(Ticket).where(Ticket.customer_id == ca.id)).all()) == throttle.NEW_TICKETS.limit
    support.create_ticket(db, principal=principal_for(ub), subject="Mine", body="Hello")
    _later(monkeypatch, timedelta(hours=1, seconds=1))
    support.create_ticket(db, principal=alice, subject="Next hour", body="Hello")


def test_chat_messages_and_ticket_replies_share_one_allowance(db: Session) -> None:
    ua, _ = make_customer(db)
    alice = principal_for(ua)
    support_chat.touch_presence(db, principal=principal_for(make_staff(db)), available=True)  # an agent is online
    ticket = support.create_ticket(db, principal=alice, subject="Help", body="Hello")
    db.commit()
    chat = support_chat.start_chat(db, principal=alice, body="first")  # counts as one
    db.commit()
    sent = 1
    for i in range(throttle.MESSAGES.limit - 2):
        support_chat.send_customer_message(db, principal=alice, conversation_id=chat.id, body=f"m{i}")
        db.commit()
        sent += 1
    support.customer_reply(db, principal=alice, ticket_id=ticket.id or 0, body="a reply")
    db.commit()
    for send in (lambda: support_chat.send_customer_message(db, principal=alice, conversation_id=chat.id, body="x"),
                 lambda: support.customer_reply(db, principal=alice, ticket_id=ticket.id or 0, body="y"),
                 lambda: support_chat.start_chat(db, principal=alice, body="z")):
        with pytest.raises(DomainError) as refused:
            send()
        assert refused.value.code == ErrorCode.THROTTLED
        db.rollback()
    stored = db.exec(select(ConversationMessage).where(ConversationMessage.conversation_id == chat.id)).all()
    assert len(stored) == sent and all(m.body not in ("x", "z") for m in stored)


def test_the_counter_cannot_be_overtaken(db: Session) -> None:
    # take() never lets more through than the limit, whatever was counted before in the window
    key = "rate:test:1"
    rate = throttle.Rate(limit=3, window=timedelta(minutes=1))
    results = [throttle.take(db, key, rate) for _ in range(5)]
    assert results == [True, True, True, False, False]
