"""Forged websocket events against every support handler: customer B sending customer A's
ticket, message, file and chat ids gets nothing and changes nothing; customers calling agent
handlers (and agents calling customer ones) are refused."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from sqlmodel import Session, select

from portal.db import utcnow
from portal.domain import attachments as att
from portal.domain import support, support_chat
from portal.models import Attachment, Conversation, ConversationMessage, Ticket, TicketMessage, TicketStatus
from portal.state.chat import ChatState
from portal.state.staff import AgentChatState, AgentConsoleState, AgentTicketState
from portal.state.support import NewTicketState, TicketListState, TicketThreadState
from tests.browser.test_forged_events import cookie_for
from tests.factories import make_customer, make_order, make_staff, make_ticket, principal_for
from tests.factories_support import on_duty, png_bytes
from tests.support.aio import run_async as run
from tests.support.reflex_client import ReflexClient, deltas_text, handler_name, redirects

pytestmark = pytest.mark.browser

SECRET = "Alice's secret subject"
NOTE = "internal: alice is a VIP"


def _alice_world(db: Session) -> dict[str, Any]:
    ua, ca = make_customer(db, name="Alice")
    ub, cb = make_customer(db, name="Bob")
    agent = make_staff(db)
    alice = principal_for(ua)
    photo = att.stage_attachment(db, principal=alice, filename="a.png", data=png_bytes())
    staged = att.stage_attachment(db, principal=alice, filename="staged.png", data=png_bytes())
    ticket = support.create_ticket(db, principal=alice, subject=SECRET, body="private body",
                                   attachment_ids=[photo.id])
    db.flush()
    support.agent_reply(db, principal=principal_for(agent), ticket_id=ticket.id or 0, body=NOTE, internal=True)
    db.commit()
    resolved = make_ticket(db, ca, subject="Alice resolved", status=TicketStatus.RESOLVED, resolved_at=utcnow())
    order = make_order(db, ca, lines=(("Alice's secret boots", 1, 18900),))
    on_duty(db, agent)
    conv = support_chat.start_chat(db, principal=alice, body="Alice chat secret", page="/dashboard")
    db.commit()
    return {"ua": ua, "ub": ub, "cb": cb, "agent": agent, "ticket": ticket, "resolved": resolved, "order": order,
            "photo": photo, "staged": staged, "conv": conv}


async def _session(backend_url: str, cookie: str, steps: list[tuple[Any, dict[str, Any], str]]) -> str:
    out: list[dict[str, Any]] = []
    async with ReflexClient(backend_url, cookie=cookie) as c:
        for handler, payload, path in steps:
            out += await c.send(handler_name(handler), payload, path=path)
    return deltas_text(out)


def test_customer_b_forging_a_ids_gets_nothing_and_changes_nothing(db: Session, harness: Any,
                                                                   backend_url: str) -> None:
    w = _alice_world(db)
    tid, rid = w["ticket"].id, w["resolved"].id
    b_cookie = cookie_for(db, w["ub"])
    steps: list[tuple[Any, dict[str, Any], str]] = [
        (TicketThreadState.load, {}, f"/tickets/{tid}"),
        (TicketThreadState.update_draft, {"value": "forged reply"}, f"/tickets/{tid}"),
        (TicketThreadState.send_reply, {}, f"/tickets/{tid}"),
        (TicketThreadState.remove_file, {"attachment_id": w["staged"].id}, f"/tickets/{tid}"),
        (TicketThreadState.load, {}, f"/tickets/{rid}"),
        (TicketThreadState.reopen, {}, f"/tickets/{rid}"),
        (TicketThreadState.update_rating, {"value": 1}, f"/tickets/{rid}"),
        (TicketThreadState.rate, {}, f"/tickets/{rid}"),
        (TicketListState.load, {}, "/support"),
        (NewTicketState.load, {}, f"/support/new?context=order&id={w['order'].id}"),
        (NewTicketState.remove_file, {"attachment_id": w["staged"].id}, "/support/new"),
        (NewTicketState.solved_by, {"article_id": 1}, "/support/new"),
        (NewTicketState.update_subject, {"value": "Bob's own question"}, "/support/new"),
        (NewTicketState.update_body, {"value": "Bob's body"}, "/support/new"),
        (NewTicketState.submit, {}, "/support/new"),
        (NewTicketState.update_category, {"value": "billing"}, "/support/new"),
        (NewTicketState.update_priority, {"value": "urgent"}, "/support/new"),
        (NewTicketState.update_tags, {"value": "forged"}, "/support/new"),
        (TicketThreadState.update_rating_comment, {"value": "forged"}, f"/tickets/{rid}"),
        (ChatState.update_open, {"value": True}, "/dashboard"),
        (ChatState.new_chat, {}, "/dashboard"),
        (ChatState.toggle, {}, "/dashboard"),
        (ChatState.update_draft, {"value": "Bob says hi"}, "/dashboard"),
        (ChatState.send, {}, "/dashboard"),
    ]
    text = run(_session(backend_url, b_cookie, steps))

    # Nothing of Alice's reached Bob's browser
    for secret in (SECRET, "private body", NOTE, "Alice resolved", w["order"].number, "secret boots",
                   "Alice chat secret", "staged.png", "a.png"):
        assert secret not in text, secret
    assert "could not find" in text
    # ... and nothing of hers changed
    db.expire_all()
    msgs = db.exec(select(TicketMessage).where(TicketMessage.ticket_id == tid)).all()
    assert {m.body for m in msgs} == {"private body", NOTE}
    resolved = db.get(Ticket, rid)
    assert resolved is not None and resolved.status == TicketStatus.RESOLVED and resolved.rating is None
    staged = db.get(Attachment, w["staged"].id)
    assert staged is not None and staged.ticket_id is None
    conv = db.get(Conversation, w["conv"].id)
    assert conv is not None and conv.status == "waiting"
    assert [m.body for m in db.exec(select(ConversationMessage)
                                    .where(ConversationMessage.conversation_id == conv.id)).all()] == [
        "Alice chat secret"]
    # Bob's own ticket was opened, without Alice's order as context
    bobs = db.exec(select(Ticket).where(Ticket.customer_id == w["cb"].id)).one()
    assert bobs.subject == "Bob's own question" and bobs.context_id is None


Step = tuple[Any, dict[str, Any], str]


def _every_handler(classes: tuple[Any, ...], ids: dict[str, Any], paths: dict[Any, str]) -> list[Step]:
    """Every event handler of these states, each called with the victim's ids as arguments."""
    steps = []
    for cls in classes:
        for name, handler in cls.event_handlers.items():
            if name == "setvar":
                continue
            params = [p for p in inspect.signature(handler.fn).parameters if p != "self"]
            steps.append((handler, {p: ids.get(p, "1") for p in params}, paths[cls]))
    return steps


def test_customers_cannot_call_any_agent_handler(db: Session, harness: Any, backend_url: str) -> None:
    w = _alice_world(db)
    tid, cid = w["ticket"].id, w["conv"].id
    ids = {"ticket_id": tid, "conversation_id": cid, "value": str(w["ub"].id)}
    steps = _every_handler((AgentConsoleState, AgentTicketState, AgentChatState), ids, {
        AgentConsoleState: "/agent", AgentTicketState: f"/agent/tickets/{tid}",
        AgentChatState: f"/agent/chats/{cid}"})
    assert len(steps) >= 25

    async def go() -> tuple[str, list[str]]:
        out: list[dict[str, Any]] = []
        async with ReflexClient(backend_url, cookie=cookie_for(db, w["ub"])) as c:
            for handler, payload, path in steps:
                out += await c.send(handler_name(handler), payload, path=path)
        return deltas_text(out), redirects(out)

    text, redirected = run(go())
    # Every single one is refused (sent home), and nothing of Alice's leaks or changes
    assert redirected == ["/"] * len(steps)
    assert SECRET not in text and NOTE not in text and "Alice chat secret" not in text
    db.expire_all()
    ticket = db.get(Ticket, tid)
    conv = db.get(Conversation, cid)
    assert ticket is not None and ticket.assignee_user_id is None and ticket.status == TicketStatus.NEW
    assert ticket.merged_into_id is None
    assert conv is not None and conv.status == "waiting" and conv.agent_user_id is None
    assert len(db.exec(select(TicketMessage).where(TicketMessage.ticket_id == tid)).all()) == 2


def test_agents_cannot_call_any_customer_handler(db: Session, harness: Any, backend_url: str) -> None:
    w = _alice_world(db)
    tid = w["ticket"].id
    ids = {"attachment_id": w["staged"].id, "article_id": 1, "value": "x"}
    steps = [s for s in _every_handler(
        (NewTicketState, TicketListState, TicketThreadState, ChatState), ids,
        {NewTicketState: "/support/new", TicketListState: "/support", TicketThreadState: f"/tickets/{tid}",
         ChatState: "/dashboard"}) if s[0].fn.__name__ != "handle_upload"]

    async def go() -> list[str]:
        out: list[dict[str, Any]] = []
        async with ReflexClient(backend_url, cookie=cookie_for(db, w["agent"])) as c:
            for handler, payload, path in steps:
                out += await c.send(handler_name(handler), payload, path=path)
        return redirects(out)

    assert run(go()) == ["/"] * len(steps)
    db.expire_all()
    staged = db.get(Attachment, w["staged"].id)
    assert staged is not None


def test_agent_handlers_validate_their_arguments(db: Session, harness: Any, backend_url: str) -> None:
    w = _alice_world(db)
    tid = w["ticket"].id
    steps: list[tuple[Any, dict[str, Any], str]] = [
        (AgentConsoleState.load, {}, "/agent"),
        (AgentConsoleState.take, {"ticket_id": "1; drop table"}, "/agent"),
        (AgentConsoleState.update_status_filter, {"value": {"$ne": 1}}, "/agent"),
        (AgentTicketState.load, {}, f"/agent/tickets/{tid}"),
        (AgentTicketState.update_status, {"value": "deleted"}, f"/agent/tickets/{tid}"),
        (AgentTicketState.assign, {"value": str(w["ub"].id)}, f"/agent/tickets/{tid}"),
        (AgentTicketState.update_draft, {"value": "   "}, f"/agent/tickets/{tid}"),
        (AgentTicketState.send, {}, f"/agent/tickets/{tid}"),
    ]
    text = run(_session(backend_url, cookie_for(db, w["agent"]), steps))
    assert "Write a message first." in text
    db.expire_all()
    ticket = db.get(Ticket, tid)
    # A customer can never become the assignee; an unknown status is ignored
    assert ticket is not None and ticket.assignee_user_id is None and ticket.status == TicketStatus.NEW
    assert len(db.exec(select(TicketMessage).where(TicketMessage.ticket_id == tid)).all()) == 2
