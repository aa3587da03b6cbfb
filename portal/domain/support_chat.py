"""Live chat: a customer asks from any page, an available agent takes it, with context.

When no agent is available (none had the console open recently and marked themselves
available) or nobody takes the chat in time, the conversation becomes a ticket holding the
transcript, and the customer is told which one. Messages, typing and read receipts reach the
customer's browsers and the agent's as Topic.CHAT events.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from portal.db import utcnow
from portal.domain import audit, events, help_context, throttle
from portal.domain import stored_wording as sw
from portal.domain import support as tickets
from portal.domain.errors import DomainError, ErrorCode, Invalid, NotFound
from portal.domain.events import DomainEvent, Topic
from portal.domain.principal import Principal, require_customer, require_principal, require_staff
from portal.i18n import in_language, tr
from portal.models import (
    AgentPresence,
    AuditEvent,
    Conversation,
    ConversationMessage,
    ConversationStatus,
    Customer,
    Order,
    SearchQuery,
    Shipment,
    Ticket,
    TicketMessage,
    TicketStatus,
    User,
)
from portal.settings import get_settings

BODY_MAX = 4000
RECENT_HOURS = 2  # an ended chat still shows (with its ticket) for this long
_LIVE = (str(ConversationStatus.WAITING), str(ConversationStatus.ACTIVE))


@dataclasses.dataclass(frozen=True, slots=True)
class ChatMessageView:
    id: int
    author_kind: str
    author_name: str
    body: str
    created_at: datetime


@dataclasses.dataclass(frozen=True, slots=True)
class ChatView:
    id: int
    status: str
    customer_id: int
    customer_name: str
    agent_user_id: int | None
    agent_name: str
    ticket_id: int | None
    ticket_number: str
    page: str
    started_at: datetime
    customer_last_read_at: datetime | None
    agent_last_read_at: datetime | None
    messages: list[ChatMessageView]


@dataclasses.dataclass(frozen=True, slots=True)
class ChatContext:
    customer_name: str
    customer_email: str
    customer_number: str
    page: str
    about: str  # what the chat or ticket was opened about ("Shipment TRK…"), if anything
    orders: list[tuple[int, str, str, datetime]]  # id, number, status, placed
    shipments: list[tuple[str, str, str]]  # carrier, tracking number, tag
    tickets: list[tuple[int, str, str, str]]  # id, number, subject, status
    searches: list[tuple[str, str, datetime]]  # query, source, when
    failures: list[tuple[str, datetime]]  # what the customer tried that failed or was refused, when


# -- helpers ----------------------------------------------------------------------------------------


def _clean(body: str) -> str:
    text = str(body or "").replace("\r\n", "\n").strip()
    if not text:
        raise Invalid("empty", field="body")
    if len(text) > BODY_MAX:
        raise Invalid("too_long", field="body")
    return text


def _announce(session: Session, conv: Conversation, **data: Any) -> None:
    payload = {"conversation_id": conv.id, **data}
    events.emit(session, DomainEvent(topic=Topic.CHAT, customer_id=conv.customer_id, data=payload))
    if conv.agent_user_id is not None:
        events.emit(session, DomainEvent(topic=Topic.CHAT, user_ids=(conv.agent_user_id,), data=payload))
    else:
        events.emit(session, DomainEvent(topic=Topic.CHAT, roles=tickets.STAFF_ROLES, data=payload))


def _conversation_for(session: Session, principal: Principal, conversation_id: int) -> Conversation:
    """Customers reach their own conversations, staff any; everything else is not found."""
    p = require_principal(principal)
    conv = session.get(Conversation, conversation_id) if isinstance(conversation_id, int) else None
    if conv is None:
        raise NotFound("conversation")
    if p.is_staff:
        return conv
    if not p.is_customer or conv.customer_id != p.customer_id:
        raise NotFound("conversation")
    return conv


def available_agents(session: Session, *, now: datetime | None = None) -> list[int]:
    now = now or utcnow()
    since = now - timedelta(minutes=get_settings().support_agent_available_minutes)
    rows = session.exec(select(AgentPresence.user_id).join(User, col(User.id) == col(AgentPresence.user_id))
                        .where(AgentPresence.available == True, col(AgentPresence.last_seen_at) >= since,  # noqa: E712
                               User.is_active == True)).all()  # noqa: E712
    return list(rows)


def touch_presence(session: Session, *, principal: Principal, available: bool | None = None) -> bool:
    """The agent's console is open; optionally change whether they take chats. Returns availability."""
    p = require_staff(principal)
    row = session.get(AgentPresence, p.user_id)
    if row is None:
        row = AgentPresence(user_id=p.user_id, available=True if available is None else bool(available))
    elif available is not None:
        row.available = bool(available)
    row.last_seen_at = utcnow()
    session.add(row)
    return row.available


def _view(session: Session, conv: Conversation) -> ChatView:
    msgs = session.exec(select(ConversationMessage).where(ConversationMessage.conversation_id == conv.id)
                        .order_by(col(ConversationMessage.created_at), col(ConversationMessage.id))).all()
    ids = {m.author_user_id or 0 for m in msgs} | {conv.agent_user_id or 0}
    users = {u.id: (u.full_name or u.email) for u in session.exec(select(User).where(col(User.id).in_(ids))).all()}
    customer = session.get(Customer, conv.customer_id)
    ticket = session.get(Ticket, conv.ticket_id) if conv.ticket_id else None
    return ChatView(
        id=conv.id or 0, status=conv.status, customer_id=conv.customer_id,
        customer_name=customer.name if customer else "", agent_user_id=conv.agent_user_id,
        agent_name=users.get(conv.agent_user_id, "") if conv.agent_user_id else "",
        ticket_id=conv.ticket_id, ticket_number=ticket.number if ticket else "",
        page=str(conv.context.get("page", "")), started_at=conv.started_at,
        customer_last_read_at=conv.customer_last_read_at, agent_last_read_at=conv.agent_last_read_at,
        messages=[ChatMessageView(id=m.id or 0, author_kind=m.author_kind,
                                  author_name=users.get(m.author_user_id, "") if m.author_user_id else "Support",
                                  body=m.body, created_at=m.created_at) for m in msgs],
    )


def _customer_locale(session: Session, conv: Conversation) -> str | None:
    """The language of the customer in the chat (what the chat's system lines are written in)."""
    user = session.get(User, conv.user_id) if conv.user_id else None
    return user.locale if user else None


def _to_ticket(session: Session, conv: Conversation, *, reason: str, actor: Principal | None) -> Ticket:
    """The conversation becomes a ticket that holds its transcript."""
    msgs = session.exec(select(ConversationMessage).where(ConversationMessage.conversation_id == conv.id)
                        .order_by(col(ConversationMessage.created_at), col(ConversationMessage.id))).all()
    # The ticket is the customer's: its subject and transcript heading are in their language.
    with in_language(_customer_locale(session, conv)):
        first = next((m.body for m in msgs if m.author_kind == "customer"), tr("Chat with support"))
        subject = tr("Chat: {message}", message=" ".join(first.split()))[:120]
        heading = tr("Live chat transcript:")
    about = help_context.parse_about(conv.context.get("about"))
    now = utcnow()
    first_due, res_due = tickets._sla_due(now, "normal")
    ticket = Ticket(number=f"tmp-{uuid.uuid4().hex[:24]}", customer_id=conv.customer_id,
                    requester_user_id=conv.user_id, subject=subject,
                    category="general", status=TicketStatus.OPEN if conv.agent_user_id else TicketStatus.NEW,
                    channel="chat", assignee_user_id=conv.agent_user_id, first_response_due_at=first_due,
                    context_type=about[0] if about else None, context_id=about[1] if about else None,
                    resolution_due_at=res_due, created_at=now, updated_at=now)
    session.add(ticket)
    session.flush()
    ticket.number = f"T-{60000 + (ticket.id or 0)}"
    names = {u.id: (u.full_name or u.email) for u in session.exec(
        select(User).where(col(User.id).in_({m.author_user_id or 0 for m in msgs}))).all()}
    transcript = "\n".join(f"[{m.created_at:%H:%M}] {names.get(m.author_user_id, m.author_kind)}: {m.body}"
                           for m in msgs)
    session.add(TicketMessage(ticket_id=ticket.id or 0, author_kind="customer", author_user_id=conv.user_id,
                              body=f"{heading}\n\n{transcript}", created_at=now))
    if reason:
        session.add(TicketMessage(ticket_id=ticket.id or 0, author_kind="system", internal=True, body=reason,
                                  created_at=now))
    conv.ticket_id = ticket.id
    conv.status = ConversationStatus.CLOSED
    conv.ended_at = now
    session.add(conv)
    audit.record(session, action="support.chat_to_ticket", principal=actor, customer_id=conv.customer_id,
                 target_type="conversation", target_id=conv.id or "", ticket=ticket.id)
    tickets._announce(session, ticket)
    return ticket


# -- customers --------------------------------------------------------------------------------------


def current_chat(session: Session, *, principal: Principal) -> ChatView | None:
    """The caller's latest conversation: still live, or ended recently (to show how it ended)."""
    customer_id = require_customer(principal)
    conv = session.exec(select(Conversation).where(Conversation.customer_id == customer_id,
                                                   Conversation.user_id == principal.user_id)
                        .order_by(col(Conversation.started_at).desc(), col(Conversation.id).desc())).first()
    if conv is None:
        return None
    if conv.status == ConversationStatus.CLOSED and conv.ended_at is not None \
            and utcnow() - conv.ended_at > timedelta(hours=RECENT_HOURS):
        return None
    return _view(session, conv)


def start_chat(session: Session, *, principal: Principal, body: str, page: str = "", about: str = "",
               about_text: str = "") -> ChatView:
    """`about` ("shipment:12"), checked again here, is what the chat is about; `about_text` is the
    UI's wording of its facts, shown as the conversation's first line (the caller read them with
    help_context.resolve for this principal)."""
    customer_id = require_customer(principal)
    text = _clean(body)
    live = session.exec(select(Conversation).where(Conversation.customer_id == customer_id,
                                                   Conversation.user_id == principal.user_id,
                                                   col(Conversation.status).in_(_LIVE))).first()
    if live is not None:
        send_customer_message(session, principal=principal, conversation_id=live.id or 0, body=text)
        return _view(session, live)
    throttle.require(session, f"rate:messages:{principal.user_id}", throttle.MESSAGES)
    page = str(page or "")[:200]
    if not page.startswith("/"):
        page = ""
    now = utcnow()
    context: dict[str, Any] = {"page": page}
    if about:
        try:
            sit = help_context.resolve(session, principal=principal, about=about)
        except NotFound:
            about_text = ""  # not theirs: the chat is about nothing in particular
        else:
            context.update(about=sit.about, about_label=tickets.context_label(
                session, principal=principal, context_type=sit.context_type, context_id=sit.context_id))
    conv = Conversation(customer_id=customer_id, user_id=principal.user_id, status=ConversationStatus.WAITING,
                        context=context, started_at=now, customer_last_read_at=now)
    session.add(conv)
    session.flush()
    if about_text and "about" in context:
        session.add(ConversationMessage(conversation_id=conv.id or 0, author_kind="system",
                                        body=str(about_text)[:BODY_MAX], created_at=now))
    session.add(ConversationMessage(conversation_id=conv.id or 0, author_user_id=principal.user_id,
                                    author_kind="customer", body=text, created_at=now))
    session.flush()
    if not available_agents(session, now=now):
        _to_ticket(session, conv, reason=sw.TICKET_LINES.write(sw.CHAT_NO_AGENT), actor=principal)
    _announce(session, conv)
    return _view(session, conv)


def send_customer_message(session: Session, *, principal: Principal, conversation_id: int, body: str,
                          client_id: str | None = None) -> None:
    require_customer(principal)
    conv = _conversation_for(session, principal, conversation_id)
    text = _clean(body)
    if conv.status not in _LIVE:
        raise DomainError(ErrorCode.NOT_ALLOWED, "chat_closed")
    throttle.require(session, f"rate:messages:{principal.user_id}", throttle.MESSAGES)
    now = utcnow()
    session.add(ConversationMessage(conversation_id=conv.id or 0, author_user_id=principal.user_id,
                                    author_kind="customer", body=text, client_id=(client_id or None),
                                    created_at=now))
    conv.customer_last_read_at = now
    session.add(conv)
    _announce(session, conv, typing="")


def typing(session: Session, *, principal: Principal, conversation_id: int, active: bool) -> None:
    """Nothing is stored: the other side is told that someone is (or stopped) typing."""
    p = require_principal(principal)
    conv = _conversation_for(session, p, conversation_id)
    if conv.status not in _LIVE:
        return
    if p.is_staff and conv.agent_user_id != p.user_id:
        return
    _announce(session, conv, typing=("agent" if p.is_staff else "customer") if active else "")


def mark_read(session: Session, *, principal: Principal, conversation_id: int) -> None:
    p = require_principal(principal)
    conv = _conversation_for(session, p, conversation_id)
    now = utcnow()
    if p.is_staff:
        if conv.agent_user_id != p.user_id:
            return
        conv.agent_last_read_at = now
    else:
        conv.customer_last_read_at = now
    session.add(conv)
    _announce(session, conv, read=True)


# -- agents -----------------------------------------------------------------------------------------


def chats_for_agent(session: Session, *, principal: Principal) -> list[ChatView]:
    """Waiting chats anyone may take, and the caller's own active chats."""
    p = require_staff(principal)
    rows = session.exec(select(Conversation).where(
        (Conversation.status == ConversationStatus.WAITING)
        | ((Conversation.status == ConversationStatus.ACTIVE) & (Conversation.agent_user_id == p.user_id))
    ).order_by(col(Conversation.started_at))).all()
    return [_view(session, c) for c in rows]


def get_chat(session: Session, *, principal: Principal, conversation_id: int) -> ChatView:
    p = require_staff(principal)
    return _view(session, _conversation_for(session, p, conversation_id))


def chat_context(session: Session, *, principal: Principal, conversation_id: int) -> ChatContext:
    """Who the customer is and what they did, so the agent need not ask."""
    p = require_staff(principal)
    conv = _conversation_for(session, p, conversation_id)
    return _customer_context(session, customer_id=conv.customer_id, user_id=conv.user_id,
                             page=str(conv.context.get("page", "")), about=str(conv.context.get("about_label", "")),
                             since=conv.started_at)


def ticket_context(session: Session, *, principal: Principal, ticket_id: int) -> ChatContext:
    """The same panel for a ticket: the agent answers knowing what the customer sees."""
    require_staff(principal)
    ticket = session.get(Ticket, ticket_id) if isinstance(ticket_id, int) else None
    if ticket is None:
        raise NotFound("ticket")
    return _customer_context(session, customer_id=ticket.customer_id, user_id=ticket.requester_user_id, page="",
                             about=tickets._context_label_any(session, ticket), since=ticket.created_at,
                             exclude_ticket=ticket.id)


def _customer_context(session: Session, *, customer_id: int, user_id: int | None, page: str, about: str,
                      since: datetime, exclude_ticket: int | None = None) -> ChatContext:
    customer = session.get(Customer, customer_id)
    orders = session.exec(select(Order).where(Order.customer_id == customer_id)
                          .order_by(col(Order.placed_at).desc()).limit(5)).all()
    ships = session.exec(select(Shipment).where(Shipment.customer_id == customer_id)
                         .order_by(col(Shipment.updated_at).desc()).limit(5)).all()
    others = select(Ticket).where(Ticket.customer_id == customer_id)
    if exclude_ticket is not None:
        others = others.where(Ticket.id != exclude_ticket)
    earlier = session.exec(others
                           .order_by(col(Ticket.created_at).desc()).limit(5)).all()
    searches = session.exec(select(SearchQuery).where(SearchQuery.user_id == user_id)
                            .order_by(col(SearchQuery.created_at).desc()).limit(8)).all() if user_id else []
    failures = session.exec(select(AuditEvent).where(AuditEvent.actor_user_id == user_id,
                                                     AuditEvent.outcome != "ok",
                                                     col(AuditEvent.created_at) >= since - timedelta(days=1))
                            .order_by(col(AuditEvent.created_at).desc()).limit(5)).all() if user_id else []
    return ChatContext(
        failures=[(f"{a.action} ({a.outcome})", a.created_at) for a in failures],
        customer_name=customer.name if customer else "", customer_email=customer.email if customer else "",
        customer_number=customer.number if customer else "", page=page, about=about,
        orders=[(o.id or 0, o.number, o.status, o.placed_at) for o in orders],
        shipments=[(s.carrier_name or s.carrier, s.tracking_number, s.tag) for s in ships],
        tickets=[(t.id or 0, t.number, t.subject, t.status) for t in earlier],
        searches=[(q.query, q.source, q.created_at) for q in searches],
    )


def take_chat(session: Session, *, principal: Principal, conversation_id: int) -> None:
    p = require_staff(principal)
    conv = _conversation_for(session, p, conversation_id)
    if conv.status != ConversationStatus.WAITING:
        raise DomainError(ErrorCode.CONFLICT, "chat_taken")
    conv.status = ConversationStatus.ACTIVE
    conv.agent_user_id = p.user_id
    conv.agent_last_read_at = utcnow()
    session.add(conv)
    with in_language(_customer_locale(session, conv)):  # the customer reads it
        joined = tr("{agent} joined the chat.", agent=p.name or tr("An agent"))
    session.add(ConversationMessage(conversation_id=conv.id or 0, author_kind="system", body=joined))
    # Everyone who saw it waiting learns it is taken; the customer learns who joined.
    events.emit(session, DomainEvent(topic=Topic.CHAT, roles=tickets.STAFF_ROLES, data={"conversation_id": conv.id}))
    _announce(session, conv)


def send_agent_message(session: Session, *, principal: Principal, conversation_id: int, body: str) -> None:
    p = require_staff(principal)
    conv = _conversation_for(session, p, conversation_id)
    text = _clean(body)
    if conv.status != ConversationStatus.ACTIVE or conv.agent_user_id != p.user_id:
        raise DomainError(ErrorCode.NOT_ALLOWED, "chat_not_yours")
    now = utcnow()
    session.add(ConversationMessage(conversation_id=conv.id or 0, author_user_id=p.user_id, author_kind="agent",
                                    body=text, created_at=now))
    conv.agent_last_read_at = now
    session.add(conv)
    _announce(session, conv, typing="")


def transfer_chat(session: Session, *, principal: Principal, conversation_id: int, to_user_id: int) -> None:
    p = require_staff(principal)
    conv = _conversation_for(session, p, conversation_id)
    if conv.status != ConversationStatus.ACTIVE or conv.agent_user_id != p.user_id:
        raise DomainError(ErrorCode.NOT_ALLOWED, "chat_not_yours")
    to = session.get(User, to_user_id) if isinstance(to_user_id, int) else None
    if to is None or to.role not in tickets.STAFF_ROLES or not to.is_active or to.id == p.user_id:
        raise NotFound("agent")
    with in_language(_customer_locale(session, conv)):  # the customer reads it
        note = tr("{agent} handed the chat to {colleague}.", agent=p.name or tr("The agent"),
                  colleague=to.full_name or tr("a colleague"))
    session.add(ConversationMessage(conversation_id=conv.id or 0, author_kind="system", body=note))
    events.emit(session, DomainEvent(topic=Topic.CHAT, user_ids=(p.user_id,), data={"conversation_id": conv.id}))
    conv.agent_user_id = to.id
    session.add(conv)
    audit.record(session, action="support.chat_transferred", principal=p, customer_id=conv.customer_id,
                 target_type="conversation", target_id=conv.id or "", to_user=to.id)
    _announce(session, conv)


def close_chat_to_ticket(session: Session, *, principal: Principal, conversation_id: int) -> Ticket:
    p = require_staff(principal)
    conv = _conversation_for(session, p, conversation_id)
    if conv.status == ConversationStatus.CLOSED:
        raise DomainError(ErrorCode.NOT_ALLOWED, "chat_closed")
    if conv.status == ConversationStatus.ACTIVE and conv.agent_user_id != p.user_id:
        raise DomainError(ErrorCode.NOT_ALLOWED, "chat_not_yours")
    conv.agent_user_id = conv.agent_user_id or p.user_id
    ticket = _to_ticket(session, conv, reason="", actor=p)
    _announce(session, conv)
    events.emit(session, DomainEvent(topic=Topic.CHAT, roles=tickets.STAFF_ROLES, data={"conversation_id": conv.id}))
    return ticket


def expire_waiting_chats(session: Session, *, now: datetime | None = None) -> int:
    """Chats nobody took in time become tickets (run by the support job)."""
    now = now or utcnow()
    cutoff = now - timedelta(minutes=get_settings().support_chat_wait_minutes)
    rows = session.exec(select(Conversation).where(Conversation.status == ConversationStatus.WAITING,
                                                   col(Conversation.started_at) <= cutoff)).all()
    for conv in rows:
        _to_ticket(session, conv, reason=sw.TICKET_LINES.write(sw.CHAT_NOT_TAKEN), actor=None)
        _announce(session, conv)
    return len(rows)
