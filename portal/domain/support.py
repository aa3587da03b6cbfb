"""Support tickets: customers open and follow their own; staff work the queue.

Customers only ever reach tickets of their own customer account (anything else is "not
found") and never internal notes. Every change announces itself to the customer's open
browsers (Topic.TICKETS) and to the agents' consoles (Topic.QUEUE).
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from portal.db import utcnow
from portal.domain import attachments as att
from portal.domain import audit, events, help_context, kb, outbox, throttle
from portal.domain import stored_wording as sw
from portal.domain.errors import DomainError, ErrorCode, Invalid, NotFound
from portal.domain.events import DomainEvent, Topic
from portal.domain.notifications import Text, notify_customer
from portal.domain.principal import Principal, require_customer, require_principal, require_staff
from portal.i18n import N_, tr
from portal.models import (
    OPEN_TICKET_STATUSES,
    ArticleStatus,
    ArticleSuggestion,
    Attachment,
    CannedReply,
    Invoice,
    KbArticle,
    NotificationKind,
    Order,
    Return,
    Role,
    SearchQuery,
    Shipment,
    Tag,
    Ticket,
    TicketMessage,
    TicketPriority,
    TicketPublic,
    TicketStatus,
    TicketTag,
    User,
)
from portal.settings import get_settings

CATEGORIES = ("general", "orders", "shipping", "returns", "billing", "products", "account")
# What a category is called (shown with tr()/t()).
CATEGORY_LABELS = {"general": N_("General"), "orders": N_("Orders"), "shipping": N_("Shipping"),
                   "returns": N_("Returns"), "billing": N_("Billing"), "products": N_("Products"),
                   "account": N_("Account")}
assert set(CATEGORY_LABELS) == set(CATEGORIES)
PRIORITIES = tuple(str(p) for p in TicketPriority)
STATUSES = tuple(str(s) for s in TicketStatus)
CONTEXT_TYPES = ("order", "invoice", "return", "shipment")
CHANNELS = ("web", "chat", "assistant", "email", "api")
STAFF_ROLES = (str(Role.AGENT), str(Role.ADMIN))
SUBJECT_MAX = 200
BODY_MAX = 10_000
MAX_TAGS = 5
_OPEN = [str(s) for s in OPEN_TICKET_STATUSES]
# The queue's filter for every status still waiting on someone (new, open, pending); "open" alone
# is one of those statuses.
UNRESOLVED = "unresolved"


# -- shapes -----------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Suggestion:
    id: int
    slug: str
    title: str
    summary: str


@dataclasses.dataclass(frozen=True, slots=True)
class MessageView:
    id: int
    author_kind: str
    author_name: str
    body: str
    internal: bool
    created_at: datetime
    attachments: list[att.AttachmentInfo]
    via_email: bool = False
    delivery_status: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class TicketView:
    id: int
    number: str
    subject: str
    category: str
    priority: str
    status: str
    channel: str
    customer_id: int
    customer_name: str
    assignee_user_id: int | None
    assignee_name: str
    context_type: str | None
    context_id: int | None
    context_label: str
    tags: list[str]
    created_at: datetime
    updated_at: datetime
    first_response_due_at: datetime | None
    resolution_due_at: datetime | None
    first_responded_at: datetime | None
    resolved_at: datetime | None
    sla_breach_flagged_at: datetime | None
    rating: int | None
    rating_comment: str
    merged_into_number: str
    can_reply: bool
    can_reopen: bool
    can_rate: bool
    messages: list[MessageView]
    contact_email: str = ""
    guest_contact: bool = False
    follow_up_of_number: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class QueueRow:
    id: int
    number: str
    subject: str
    customer_name: str
    category: str
    priority: str
    status: str
    assignee_name: str
    assignee_user_id: int | None
    tags: list[str]
    updated_at: datetime
    first_response_due_at: datetime | None
    resolution_due_at: datetime | None
    first_responded_at: datetime | None
    at_risk: bool
    channel: str = "web"


@dataclasses.dataclass(frozen=True, slots=True)
class Figures:
    open_tickets: int
    avg_first_response_minutes: int | None
    avg_resolution_minutes: int | None
    avg_rating: float | None
    rated: int


@dataclasses.dataclass(frozen=True, slots=True)
class StaffMember:
    id: int
    name: str


# -- helpers ----------------------------------------------------------------------------------------


def _announce(session: Session, ticket: Ticket, **data: Any) -> None:
    payload = {"ticket_id": ticket.id, **data}
    events.emit(session, DomainEvent(topic=Topic.TICKETS, customer_id=ticket.customer_id, data=payload))
    events.emit(session, DomainEvent(topic=Topic.QUEUE, roles=STAFF_ROLES, data=payload))


def _clean_text(value: str, *, field: str, max_len: int, required: bool = True) -> str:
    text = str(value or "").replace("\r\n", "\n").strip()
    if required and not text:
        raise Invalid("empty", field=field)
    if len(text) > max_len:
        raise Invalid("too_long", field=field)
    return text


def _sla_due(created: datetime, priority: str) -> tuple[datetime, datetime]:
    s = get_settings()
    first = s.support_first_response_minutes.get(priority, s.support_first_response_minutes.get("normal", 2880))
    res = s.support_resolution_minutes.get(priority, s.support_resolution_minutes.get("normal", 7200))
    return created + timedelta(minutes=first), created + timedelta(minutes=res)


def _own_ticket(session: Session, principal: Principal, ticket_id: int) -> Ticket:
    """The ticket if the caller may see it: staff any, customers their own; else NotFound."""
    p = require_principal(principal)
    ticket = session.get(Ticket, ticket_id) if isinstance(ticket_id, int) else None
    if ticket is None:
        raise NotFound("ticket")
    if p.is_staff:
        return ticket
    if not p.is_customer or ticket.customer_id != p.customer_id:
        raise NotFound("ticket")
    return ticket


def _user_names(session: Session, ids: set[int]) -> dict[int, str]:
    ids.discard(0)
    if not ids:
        return {}
    rows = session.exec(select(User).where(col(User.id).in_(ids))).all()
    return {u.id or 0: (u.full_name or u.email) for u in rows}


def _tags_of(session: Session, ticket_ids: list[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {tid: [] for tid in ticket_ids}
    if not ticket_ids:
        return out
    rows = session.exec(select(TicketTag.ticket_id, Tag.name).join(Tag, col(Tag.id) == col(TicketTag.tag_id))
                        .where(col(TicketTag.ticket_id).in_(ticket_ids)).order_by(col(Tag.name))).all()
    for tid, name in rows:
        out.setdefault(tid, []).append(name)
    return out


def _normalize_tags(tags: list[str]) -> list[str]:
    out: list[str] = []
    for raw in tags:
        name = "-".join(str(raw).strip().lower().split())[:40]
        if name and name not in out:
            out.append(name)
    if len(out) > MAX_TAGS:
        raise Invalid("too_many_tags", field="tags")
    return out


def _set_tags(session: Session, ticket: Ticket, tags: list[str]) -> None:
    for name in tags:
        tag = session.exec(select(Tag).where(Tag.name == name)).first()
        if tag is None:
            tag = Tag(name=name)
            session.add(tag)
            session.flush()
        if session.get(TicketTag, (ticket.id, tag.id)) is None:
            session.add(TicketTag(ticket_id=ticket.id or 0, tag_id=tag.id or 0))


def context_label(session: Session, *, principal: Principal, context_type: str, context_id: int) -> str:
    """What a ticket opened from a page is about, checked to belong to the caller's customer."""
    customer_id = require_customer(principal)
    model: Any = {"order": Order, "invoice": Invoice, "return": Return, "shipment": Shipment}.get(context_type)
    if model is None or not isinstance(context_id, int):
        raise NotFound("context")
    row = session.get(model, context_id)
    if row is None or row.customer_id != customer_id:
        raise NotFound("context")
    return _context_words(context_type, row)


def _context_label_any(session: Session, ticket: Ticket) -> str:
    if not ticket.context_type or ticket.context_id is None:
        return ""
    model: Any = {"order": Order, "invoice": Invoice, "return": Return, "shipment": Shipment}.get(ticket.context_type)
    row = session.get(model, ticket.context_id) if model else None
    if row is None or row.customer_id != ticket.customer_id:
        return ""
    return _context_words(ticket.context_type, row)


_CONTEXT_LABELS = {"order": N_("Order {number}"), "invoice": N_("Invoice {number}"), "return": N_("Return {number}")}


def _context_words(context_type: str, row: Any) -> str:
    """How a ticket's subject is named ("Order FH-10012"), in the reader's language."""
    if isinstance(row, Shipment):
        return tr("Shipment {number}", number=row.tracking_number)
    label = _CONTEXT_LABELS.get(context_type)
    return tr(label, number=row.number) if label else f"{context_type.capitalize()} {row.number}"


# -- help articles ----------------------------------------------------------------------------------


def suggest_articles(session: Session, *, principal: Principal, text: str, limit: int = 3) -> list[Suggestion]:
    """Published help articles that may already answer what the customer is typing: the help
    center's own ranking (full-text fused with semantic similarity when the model is installed).
    Nothing is recorded here, as this runs while they type; record_suggestion notes what helped."""
    require_principal(principal)
    query = kb.normalize_query(str(text)[:kb.MAX_QUERY])
    if not any(len(w) >= 3 for w in kb.terms(query)):
        return []
    # Ranked in the reader's language too (its translations' index fused with the English one).
    ids, _ = kb.rank(session, query, limit=max(1, min(limit, 10)), lang=kb.reader_language())
    return _published(session, ids)


def _published(session: Session, ids: list[int]) -> list[Suggestion]:
    """These articles in this order, those still published; in the reader's language where the
    article is translated into it, else the English original."""
    rows = session.exec(select(KbArticle).where(col(KbArticle.id).in_(ids),
                                                KbArticle.status == ArticleStatus.PUBLISHED)).all() if ids else []
    by_id = {a.id: a for a in rows}
    translated = kb.translations(session, [i for i in by_id if i is not None], kb.reader_language())
    out: list[Suggestion] = []
    for a in (by_id.get(i) for i in ids):
        if a is None:
            continue
        t = translated.get(a.id or 0)
        out.append(Suggestion(id=a.id or 0, slug=a.slug, title=t.title if t else a.title,
                              summary=t.summary if t else a.summary))
    return out


def situation_suggestions(session: Session, *, principal: Principal, code: str, limit: int = 3) -> list[Suggestion]:
    """The published articles that answer a "Get help with this" situation, best first."""
    require_principal(principal)
    ids = help_context.suggested_article_ids(session, code=code, limit=limit)
    return _published(session, ids)


def record_suggestion(session: Session, *, principal: Principal, article_id: int, query: str, solved: bool,
                      ticket_id: int | None = None) -> None:
    customer_id = require_customer(principal)
    article = session.get(KbArticle, article_id)
    if article is None or article.status != ArticleStatus.PUBLISHED:
        raise NotFound("article")
    session.add(ArticleSuggestion(customer_id=customer_id, user_id=principal.user_id, article_id=article_id,
                                  query=str(query)[:500], solved=bool(solved), ticket_id=ticket_id))
    if solved:
        _log_search(session, principal, str(query), result_count=1, clicked_article_id=article_id)


def _log_search(session: Session, principal: Principal, query: str, *, result_count: int,
                clicked_article_id: int | None = None) -> None:
    """What was typed into the ticket form, for help-center analytics and the agent's context."""
    text = " ".join(query.split())[:500]
    if text:
        session.add(SearchQuery(user_id=principal.user_id, query=text, normalized=text.lower(),
                                result_count=result_count, clicked_article_id=clicked_article_id,
                                source="ticket_form"))


# -- customers --------------------------------------------------------------------------------------


def open_tickets(session: Session, *, principal: Principal, limit: int = 5) -> list[TicketPublic]:
    customer_id = require_customer(principal)
    rows = session.exec(
        select(Ticket).where(Ticket.customer_id == customer_id, col(Ticket.status).in_(_OPEN),
                             col(Ticket.merged_into_id).is_(None))
        .order_by(col(Ticket.updated_at).desc()).limit(max(1, min(limit, 50)))
    ).all()
    return [TicketPublic.model_validate(t, from_attributes=True) for t in rows]


def list_tickets(session: Session, *, principal: Principal, resolved: bool, limit: int = 100) -> list[TicketPublic]:
    customer_id = require_customer(principal)
    cond = col(Ticket.status).not_in(_OPEN) if resolved else col(Ticket.status).in_(_OPEN)
    rows = session.exec(select(Ticket).where(Ticket.customer_id == customer_id, cond)
                        .order_by(col(Ticket.updated_at).desc()).limit(max(1, min(limit, 200)))).all()
    return [TicketPublic.model_validate(t, from_attributes=True) for t in rows]


def create_ticket(session: Session, *, principal: Principal, subject: str, body: str, category: str = "general",
                  priority: str = "normal", tags: list[str] | None = None, context_type: str | None = None,
                  context_id: int | None = None, attachment_ids: list[int] | None = None,
                  suggested_article_ids: list[int] | None = None, channel: str = "web") -> Ticket:
    customer_id = require_customer(principal)
    subject = _clean_text(subject, field="subject", max_len=SUBJECT_MAX)
    body = _clean_text(body, field="body", max_len=BODY_MAX)
    if category not in CATEGORIES:
        raise Invalid("category", field="category")
    # Customers may say "urgent", but the business decides what that means; any value is checked.
    if priority not in PRIORITIES:
        raise Invalid("priority", field="priority")
    tag_names = _normalize_tags(tags or [])
    if context_type:
        context_label(session, principal=principal, context_type=context_type, context_id=context_id or 0)
    else:
        context_id = None
    throttle.require(session, f"rate:tickets:{customer_id}", throttle.NEW_TICKETS)
    now = utcnow()
    first_due, res_due = _sla_due(now, priority)
    ticket = Ticket(number=f"tmp-{uuid.uuid4().hex[:24]}", customer_id=customer_id,
                    requester_user_id=principal.user_id, subject=subject, category=category, priority=priority,
                    status=TicketStatus.NEW, channel=channel, context_type=context_type or None,
                    context_id=context_id, first_response_due_at=first_due, resolution_due_at=res_due,
                    created_at=now, updated_at=now)
    session.add(ticket)
    session.flush()
    assert ticket.id is not None
    ticket.number = f"T-{60000 + ticket.id}"
    msg = TicketMessage(ticket_id=ticket.id, author_user_id=principal.user_id, author_kind="customer", body=body,
                        created_at=now)
    session.add(msg)
    session.flush()
    att.claim_staged(session, principal=principal, attachment_ids=list(attachment_ids or []), ticket_id=ticket.id,
                     message_id=msg.id or 0)
    _set_tags(session, ticket, tag_names)
    suggested = [aid for aid in list(dict.fromkeys(suggested_article_ids or []))[:5]
                 if isinstance(aid, int) and session.get(KbArticle, aid) is not None]
    for aid in suggested:
        session.add(ArticleSuggestion(customer_id=customer_id, user_id=principal.user_id, article_id=aid,
                                      query=subject[:500], solved=False, ticket_id=ticket.id))
    _log_search(session, principal, subject, result_count=len(suggested))
    audit.record(session, action="support.ticket_opened", principal=principal, target_type="ticket",
                 target_id=ticket.id)
    outbox.enqueue(session, kind="ticket.opened", customer_id=customer_id,
                   payload={"ticket": ticket.number, "subject": subject, "category": category, "priority": priority})
    _announce(session, ticket)
    return ticket


def get_ticket(session: Session, *, principal: Principal, ticket_id: int) -> TicketView:
    p = require_principal(principal)
    ticket = _own_ticket(session, p, ticket_id)
    return _view(session, p, ticket)


def _view(session: Session, p: Principal, ticket: Ticket) -> TicketView:
    assert ticket.id is not None
    q = select(TicketMessage).where(TicketMessage.ticket_id == ticket.id)
    if not p.is_staff:
        # Internal notes never leave the server for customers.
        q = q.where(TicketMessage.internal == False)  # noqa: E712
    msgs = session.exec(q.order_by(col(TicketMessage.created_at), col(TicketMessage.id))).all()
    files = session.exec(select(Attachment).where(Attachment.ticket_id == ticket.id)
                         .order_by(col(Attachment.id))).all()
    by_msg: dict[int, list[att.AttachmentInfo]] = {}
    for f in files:
        by_msg.setdefault(f.message_id or 0, []).append(att.to_info(f))
    names = _user_names(session, {m.author_user_id or 0 for m in msgs} | {ticket.assignee_user_id or 0})
    from portal.models import Customer

    customer = session.get(Customer, ticket.customer_id)
    merged = session.get(Ticket, ticket.merged_into_id) if ticket.merged_into_id else None
    follow_up = session.get(Ticket, ticket.follow_up_of_id) if ticket.follow_up_of_id else None
    if follow_up is not None and follow_up.customer_id != ticket.customer_id:
        follow_up = None
    s = get_settings()
    now = utcnow()
    can_reopen = (ticket.status == TicketStatus.RESOLVED and ticket.resolved_at is not None
                  and now - ticket.resolved_at <= timedelta(days=s.support_reopen_days))
    return TicketView(
        id=ticket.id, number=ticket.number, subject=ticket.subject, category=ticket.category,
        priority=ticket.priority, status=ticket.status, channel=ticket.channel, customer_id=ticket.customer_id,
        customer_name=customer.name if customer else "", assignee_user_id=ticket.assignee_user_id,
        assignee_name=names.get(ticket.assignee_user_id or 0, ""), context_type=ticket.context_type,
        context_id=ticket.context_id, context_label=_context_label_any(session, ticket),
        tags=_tags_of(session, [ticket.id])[ticket.id], created_at=ticket.created_at, updated_at=ticket.updated_at,
        first_response_due_at=ticket.first_response_due_at, resolution_due_at=ticket.resolution_due_at,
        first_responded_at=ticket.first_responded_at, resolved_at=ticket.resolved_at,
        sla_breach_flagged_at=ticket.sla_breach_flagged_at, rating=ticket.rating,
        rating_comment=ticket.rating_comment, merged_into_number=merged.number if merged else "",
        can_reply=ticket.status in _OPEN, can_reopen=can_reopen,
        can_rate=ticket.status in (TicketStatus.RESOLVED, TicketStatus.CLOSED) and ticket.rating is None
        and ticket.merged_into_id is None,
        messages=[MessageView(id=m.id or 0, author_kind=m.author_kind,
                              author_name=_author_name(m, names, customer.name if customer else ""),
                              body=sw.TICKET_LINES.read(m.body) if m.author_kind == "system" else m.body,
                              internal=m.internal, created_at=m.created_at,
                              attachments=by_msg.get(m.id or 0, []), via_email=m.via_email,
                              delivery_status=m.delivery_status if p.is_staff else "") for m in msgs],
        contact_email=ticket.contact_email if p.is_staff else "",
        guest_contact=bool(customer and customer.guest),
        follow_up_of_number=follow_up.number if follow_up else "",
    )


def _author_name(m: TicketMessage, names: dict[int, str], customer_name: str) -> str:
    if m.author_kind == "system":
        if not m.author_user_id:
            return tr("{business} support", business=get_settings().portal_business_name)
        return names.get(m.author_user_id, tr("Support"))
    return names.get(m.author_user_id or 0, customer_name if m.author_kind == "customer" else tr("Support"))


def customer_reply(session: Session, *, principal: Principal, ticket_id: int, body: str,
                   attachment_ids: list[int] | None = None) -> TicketMessage:
    require_customer(principal)
    ticket = _own_ticket(session, principal, ticket_id)
    body = _clean_text(body, field="body", max_len=BODY_MAX)
    if ticket.status not in _OPEN:
        raise DomainError(ErrorCode.NOT_ALLOWED, "ticket_closed")
    throttle.require(session, f"rate:messages:{principal.user_id}", throttle.MESSAGES)
    now = utcnow()
    msg = TicketMessage(ticket_id=ticket.id or 0, author_user_id=principal.user_id, author_kind="customer",
                        body=body, created_at=now)
    session.add(msg)
    session.flush()
    att.claim_staged(session, principal=principal, attachment_ids=list(attachment_ids or []),
                     ticket_id=ticket.id or 0, message_id=msg.id or 0)
    if ticket.status == TicketStatus.PENDING:
        ticket.status = TicketStatus.OPEN
    ticket.updated_at = now
    session.add(ticket)
    outbox.enqueue(session, kind="ticket.customer_replied", customer_id=ticket.customer_id,
                   payload={"ticket": ticket.number})
    _announce(session, ticket, message_id=msg.id)
    return msg


def reopen_ticket(session: Session, *, principal: Principal, ticket_id: int) -> Ticket:
    require_customer(principal)
    ticket = _own_ticket(session, principal, ticket_id)
    view_ok = (ticket.status == TicketStatus.RESOLVED and ticket.resolved_at is not None
               and utcnow() - ticket.resolved_at <= timedelta(days=get_settings().support_reopen_days))
    if not view_ok:
        raise DomainError(ErrorCode.NOT_ALLOWED, "reopen_window")
    now = utcnow()
    ticket.status = TicketStatus.OPEN
    ticket.resolved_at = None
    ticket.updated_at = now
    ticket.resolution_due_at = _sla_due(now, ticket.priority)[1]
    ticket.sla_breach_flagged_at = None
    session.add(ticket)
    session.add(TicketMessage(ticket_id=ticket.id or 0, author_kind="system", body=sw.TICKET_LINES.write(sw.REOPENED),
                              created_at=now))
    audit.record(session, action="support.ticket_reopened", principal=principal, target_type="ticket",
                 target_id=ticket.id or "")
    outbox.enqueue(session, kind="ticket.reopened", customer_id=ticket.customer_id, payload={"ticket": ticket.number})
    _announce(session, ticket)
    return ticket


def rate_ticket(session: Session, *, principal: Principal, ticket_id: int, rating: int, comment: str = "") -> None:
    require_customer(principal)
    ticket = _own_ticket(session, principal, ticket_id)
    if not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5:
        raise Invalid("rating", field="rating")
    comment = _clean_text(comment, field="comment", max_len=1000, required=False)
    if ticket.status not in (TicketStatus.RESOLVED, TicketStatus.CLOSED) or ticket.rating is not None:
        raise DomainError(ErrorCode.NOT_ALLOWED, "not_rateable")
    ticket.rating = rating
    ticket.rating_comment = comment
    session.add(ticket)
    outbox.enqueue(session, kind="ticket.rated", customer_id=ticket.customer_id,
                   payload={"ticket": ticket.number, "rating": rating})
    _announce(session, ticket)


# -- staff ------------------------------------------------------------------------------------------


def queue_summary(session: Session, *, principal: Principal) -> dict[str, int]:
    """Open tickets per priority."""
    require_staff(principal)
    rows = session.exec(
        select(Ticket.priority, func.count()).where(col(Ticket.status).in_(_OPEN)).group_by(Ticket.priority)
    ).all()
    counts = {str(p): int(n) for p, n in rows}
    return {p: counts.get(p, 0) for p in ("urgent", "high", "normal", "low")}


def _at_risk(t: Ticket, now: datetime) -> bool:
    if t.status not in _OPEN:
        return False
    if t.sla_breach_flagged_at is not None:
        return True
    warn = timedelta(minutes=get_settings().support_sla_warning_minutes)
    if t.first_responded_at is None and t.first_response_due_at is not None and t.first_response_due_at - now <= warn:
        return True
    return t.resolution_due_at is not None and t.resolution_due_at - now <= warn


def queue(session: Session, *, principal: Principal, status: str = "unresolved", priority: str = "", category: str = "",
          tag: str = "", assignee: str = "", channel: str = "", limit: int = 200) -> list[QueueRow]:
    """The queue, tickets at risk of breaching their SLA first.

    status: "unresolved" (new, open, pending), "all", or one status (such as "open" alone); assignee: "",
    "me", "none" or a user id.
    """
    p = require_staff(principal)
    q = select(Ticket).where(col(Ticket.merged_into_id).is_(None))
    if status == UNRESOLVED:
        q = q.where(col(Ticket.status).in_(_OPEN))
    elif status in STATUSES:
        q = q.where(Ticket.status == status)
    elif status != "all":
        raise Invalid("status", field="status")
    if priority:
        if priority not in PRIORITIES:
            raise Invalid("priority", field="priority")
        q = q.where(Ticket.priority == priority)
    if category:
        q = q.where(Ticket.category == category[:40])
    if channel:
        if channel not in CHANNELS:
            raise Invalid("channel", field="channel")
        q = q.where(Ticket.channel == channel)
    if tag:
        q = q.where(col(Ticket.id).in_(select(TicketTag.ticket_id).join(Tag, col(Tag.id) == col(TicketTag.tag_id))
                                       .where(Tag.name == tag[:40])))
    if assignee == "me":
        q = q.where(Ticket.assignee_user_id == p.user_id)
    elif assignee == "none":
        q = q.where(col(Ticket.assignee_user_id).is_(None))
    elif assignee:
        if not assignee.isdigit():
            raise Invalid("assignee", field="assignee")
        q = q.where(Ticket.assignee_user_id == int(assignee))
    rows = list(session.exec(q.order_by(col(Ticket.updated_at).desc()).limit(max(1, min(limit, 500)))).all())
    now = utcnow()
    rank = {"urgent": 0, "high": 1, "normal": 2, "low": 3}
    rows.sort(key=lambda t: (not _at_risk(t, now), rank.get(t.priority, 9),
                             t.first_response_due_at or t.resolution_due_at or now))
    from portal.models import Customer

    ids = [t.id or 0 for t in rows]
    tags = _tags_of(session, ids)
    names = _user_names(session, {t.assignee_user_id or 0 for t in rows})
    cids = {t.customer_id for t in rows}
    customers = {c.id: c.name for c in session.exec(select(Customer).where(col(Customer.id).in_(cids))).all()} \
        if cids else {}
    return [QueueRow(id=t.id or 0, number=t.number, subject=t.subject, customer_name=customers.get(t.customer_id, ""),
                     category=t.category, priority=t.priority, status=t.status,
                     assignee_name=names.get(t.assignee_user_id or 0, ""), assignee_user_id=t.assignee_user_id,
                     tags=tags.get(t.id or 0, []),
                     updated_at=t.updated_at, first_response_due_at=t.first_response_due_at,
                     resolution_due_at=t.resolution_due_at, first_responded_at=t.first_responded_at,
                     at_risk=_at_risk(t, now), channel=t.channel) for t in rows]


def staff_members(session: Session, *, principal: Principal) -> list[StaffMember]:
    require_staff(principal)
    rows = session.exec(select(User).where(col(User.role).in_(STAFF_ROLES), User.is_active == True)  # noqa: E712
                        .order_by(col(User.full_name))).all()
    return [StaffMember(id=u.id or 0, name=u.full_name or u.email) for u in rows]


def categories_and_tags(session: Session, *, principal: Principal) -> tuple[list[str], list[str]]:
    require_staff(principal)
    tags = session.exec(select(Tag.name).order_by(col(Tag.name))).all()
    return list(CATEGORIES), list(tags)


def canned_replies(session: Session, *, principal: Principal) -> list[CannedReply]:
    require_staff(principal)
    return list(session.exec(select(CannedReply).order_by(col(CannedReply.title))).all())


def agent_reply(session: Session, *, principal: Principal, ticket_id: int, body: str, internal: bool = False,
                canned_reply_id: int | None = None) -> TicketMessage:
    p = require_staff(principal)
    ticket = _own_ticket(session, p, ticket_id)
    if canned_reply_id is not None:
        canned = session.get(CannedReply, canned_reply_id)
        if canned is None:
            raise NotFound("canned_reply")
        body = body or canned.body
    body = _clean_text(body, field="body", max_len=BODY_MAX)
    if ticket.status == TicketStatus.CLOSED or ticket.merged_into_id is not None:
        raise DomainError(ErrorCode.NOT_ALLOWED, "ticket_closed")
    now = utcnow()
    msg = TicketMessage(ticket_id=ticket.id or 0, author_user_id=p.user_id, author_kind="agent", body=body,
                        internal=bool(internal), created_at=now)
    session.add(msg)
    session.flush()
    if not internal:
        if ticket.first_responded_at is None:
            ticket.first_responded_at = now
        if ticket.assignee_user_id is None:
            ticket.assignee_user_id = p.user_id
        if ticket.status in (TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.RESOLVED):
            ticket.status = TicketStatus.PENDING
            ticket.resolved_at = None
        ticket.updated_at = now
        by_mail = bool(ticket.contact_email)
        if by_mail:
            # The ticket came by email: the answer goes back the same way, threaded (the portal
            # notification below then carries no email of its own).
            from portal.domain import support_mail

            support_mail.email_reply(session, ticket=ticket, message=msg, agent_name=p.name)
        notify_customer(session, customer_id=ticket.customer_id, kind=NotificationKind.SUPPORT,
                        title=lambda: tr("New reply on your ticket {number}", number=ticket.number),
                        body=lambda: tr("{agent} answered “{subject}”:\n\n{message}",
                                        agent=p.name or tr("Our support team"), subject=ticket.subject,
                                        message=body[:600]),
                        link=f"/tickets/{ticket.id}", email=not by_mail)
    session.add(ticket)
    if internal:
        # Only staff hear about notes: the customer's browsers are not even told something changed.
        events.emit(session, DomainEvent(topic=Topic.QUEUE, roles=STAFF_ROLES, data={"ticket_id": ticket.id}))
    else:
        _announce(session, ticket, message_id=msg.id)
    return msg


def assign_ticket(session: Session, *, principal: Principal, ticket_id: int, assignee_user_id: int | None) -> None:
    p = require_staff(principal)
    ticket = _own_ticket(session, p, ticket_id)
    if assignee_user_id is not None:
        user = session.get(User, assignee_user_id)
        if user is None or user.role not in STAFF_ROLES or not user.is_active:
            raise NotFound("agent")
    ticket.assignee_user_id = assignee_user_id
    if ticket.status == TicketStatus.NEW and assignee_user_id is not None:
        ticket.status = TicketStatus.OPEN
    ticket.updated_at = utcnow()
    session.add(ticket)
    audit.record(session, action="support.ticket_assigned", principal=p, customer_id=ticket.customer_id,
                 target_type="ticket", target_id=ticket.id or "", assignee=assignee_user_id)
    _announce(session, ticket)
    if assignee_user_id is not None and assignee_user_id != p.user_id:
        events.emit(session, DomainEvent(topic=Topic.QUEUE, user_ids=(assignee_user_id,),
                                         data={"ticket_id": ticket.id}))


def set_status(session: Session, *, principal: Principal, ticket_id: int, status: str) -> None:
    p = require_staff(principal)
    ticket = _own_ticket(session, p, ticket_id)
    if status not in STATUSES:
        raise Invalid("status", field="status")
    now = utcnow()
    if status == TicketStatus.RESOLVED and ticket.status != TicketStatus.RESOLVED:
        ticket.resolved_at = now
    elif status in _OPEN:
        ticket.resolved_at = None
    if status == TicketStatus.CLOSED:
        ticket.closed_at = now
        ticket.resolved_at = ticket.resolved_at or now
    ticket.status = status
    ticket.updated_at = now
    session.add(ticket)
    if status in (TicketStatus.RESOLVED, TicketStatus.CLOSED):
        notify_customer(session, customer_id=ticket.customer_id, kind=NotificationKind.SUPPORT,
                        title=lambda: tr("Ticket {number} solved", number=ticket.number),
                        body=lambda: tr("We marked your question as solved. How did we do?"),
                        link=f"/tickets/{ticket.id}")
    _announce(session, ticket)


def set_priority(session: Session, *, principal: Principal, ticket_id: int, priority: str) -> None:
    p = require_staff(principal)
    ticket = _own_ticket(session, p, ticket_id)
    if priority not in PRIORITIES:
        raise Invalid("priority", field="priority")
    ticket.priority = priority
    # Targets follow the new priority, counted from when the ticket was opened.
    ticket.first_response_due_at, ticket.resolution_due_at = _sla_due(ticket.created_at, priority)
    ticket.sla_breach_flagged_at = None
    ticket.updated_at = utcnow()
    session.add(ticket)
    _announce(session, ticket)


def merge_tickets(session: Session, *, principal: Principal, source_id: int, target_id: int) -> Ticket:
    """Fold a duplicate into another ticket of the same customer: its thread and files move over."""
    p = require_staff(principal)
    source = _own_ticket(session, p, source_id)
    target = _own_ticket(session, p, target_id)
    if source.id == target.id:
        raise Invalid("merge_self", field="target")
    if source.customer_id != target.customer_id:
        raise DomainError(ErrorCode.NOT_ALLOWED, "merge_other_customer")
    if source.merged_into_id is not None or target.merged_into_id is not None:
        raise DomainError(ErrorCode.NOT_ALLOWED, "already_merged")
    now = utcnow()
    for m in session.exec(select(TicketMessage).where(TicketMessage.ticket_id == source.id)).all():
        m.ticket_id = target.id or 0
        session.add(m)
    for a in session.exec(select(Attachment).where(Attachment.ticket_id == source.id)).all():
        a.ticket_id = target.id
        session.add(a)
    session.flush()
    session.add(TicketMessage(ticket_id=target.id or 0, author_kind="system", author_user_id=p.user_id,
                              body=sw.TICKET_LINES.write(sw.MERGED, number=source.number, subject=source.subject),
                              created_at=now))
    source.merged_into_id = target.id
    source.status = TicketStatus.CLOSED
    source.closed_at = now
    source.updated_at = now
    target.updated_at = now
    session.add(source)
    session.add(target)
    audit.record(session, action="support.ticket_merged", principal=p, customer_id=target.customer_id,
                 target_type="ticket", target_id=target.id or "", source=source.id)
    _announce(session, source)
    _announce(session, target)
    return target


def figures(session: Session, *, principal: Principal, days: int = 30) -> tuple[Figures, Figures]:
    """(own, team): open tickets, average first response, satisfaction over the last `days`."""
    p = require_staff(principal)
    since = utcnow() - timedelta(days=days)
    recent = list(session.exec(select(Ticket).where(col(Ticket.created_at) >= since)).all())
    open_rows = list(session.exec(select(Ticket.assignee_user_id).where(col(Ticket.status).in_(_OPEN))).all())

    def calc(rows: list[Ticket], open_count: int) -> Figures:
        waits = [(t.first_responded_at - t.created_at).total_seconds() / 60 for t in rows
                 if t.first_responded_at is not None]
        rated = [t.rating for t in rows if t.rating is not None]
        spans = [(t.resolved_at - t.created_at).total_seconds() / 60 for t in rows if t.resolved_at is not None]
        return Figures(open_tickets=open_count,
                       avg_first_response_minutes=round(sum(waits) / len(waits)) if waits else None,
                       avg_resolution_minutes=round(sum(spans) / len(spans)) if spans else None,
                       avg_rating=round(sum(rated) / len(rated), 1) if rated else None, rated=len(rated))

    own = calc([t for t in recent if t.assignee_user_id == p.user_id],
               sum(1 for a in open_rows if a == p.user_id))
    return own, calc(recent, len(open_rows))


def _sla_words(t: Ticket, *, first_response: bool) -> tuple[Text, Text]:
    """An SLA warning's title and body, worded for each agent in their language."""
    def title() -> str:
        return tr("SLA at risk: {number}", number=t.number)

    def body() -> str:
        if first_response:
            return tr("The first response target for “{subject}” is about to be missed.", subject=t.subject)
        return tr("The resolution target for “{subject}” is about to be missed.", subject=t.subject)

    return title, body


def flag_sla_risks(session: Session, *, now: datetime | None = None) -> int:
    """Flag and escalate open tickets about to miss (or past) a target. Run by the support job."""
    now = now or utcnow()
    warn = now + timedelta(minutes=get_settings().support_sla_warning_minutes)
    rows = session.exec(select(Ticket).where(
        col(Ticket.status).in_(_OPEN), col(Ticket.sla_breach_flagged_at).is_(None),
        col(Ticket.merged_into_id).is_(None),
        or_((col(Ticket.first_responded_at).is_(None) & (col(Ticket.first_response_due_at) <= warn)),
            col(Ticket.resolution_due_at) <= warn),
    )).all()
    staff = session.exec(select(User).where(col(User.role).in_(STAFF_ROLES), User.is_active == True)).all()  # noqa: E712
    from portal.domain.notifications import notify_user

    for t in rows:
        t.sla_breach_flagged_at = now
        first = t.first_responded_at is None and t.first_response_due_at is not None \
            and t.first_response_due_at <= warn
        session.add(t)
        session.add(TicketMessage(ticket_id=t.id or 0, author_kind="system", internal=True,
                                  body=sw.TICKET_LINES.write(sw.SLA_FIRST_RESPONSE if first else sw.SLA_RESOLUTION),
                                  created_at=now))
        # Escalation: the assignee hears about it; an unassigned ticket goes to every agent.
        targets = [u for u in staff if t.assignee_user_id in (None, u.id)]
        for u in targets:
            # Each agent is told in their own language (worded per recipient).
            title, body = _sla_words(t, first_response=first)
            notify_user(session, user=u, kind=NotificationKind.SUPPORT, title=title, body=body,
                        link=f"/agent/tickets/{t.id}")
        events.emit(session, DomainEvent(topic=Topic.QUEUE, roles=STAFF_ROLES, data={"ticket_id": t.id}))
    return len(rows)


def ticket_id_by_number(session: Session, *, principal: Principal, number: str) -> int:
    require_staff(principal)
    ticket = session.exec(select(Ticket).where(Ticket.number == str(number).strip().upper()[:32])).first()
    if ticket is None or ticket.id is None:
        raise NotFound("ticket")
    return ticket.id
