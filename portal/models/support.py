"""Support tickets, their messages and attachments, tags, and live chat conversations."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import LargeBinary, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from portal.models.base import created_at_field, fk, json_field


class TicketStatus(StrEnum):
    NEW = "new"
    OPEN = "open"
    PENDING = "pending"  # waiting on the customer
    RESOLVED = "resolved"
    CLOSED = "closed"


OPEN_TICKET_STATUSES = (TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.PENDING)


class TicketPriority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class TicketBase(SQLModel):
    subject: str = Field(max_length=200)
    category: str = Field(default="general", max_length=40, index=True)
    priority: str = Field(default=TicketPriority.NORMAL, sa_type=String(8), index=True)


class Ticket(TicketBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=32, unique=True, index=True)
    customer_id: int = fk("customer.id")
    requester_user_id: int | None = Field(default=None, foreign_key="user.id")
    assignee_user_id: int | None = Field(default=None, foreign_key="user.id", index=True)
    status: str = Field(default=TicketStatus.NEW, sa_type=String(12), index=True)
    channel: str = Field(default="web", max_length=16)  # web, chat, assistant, email, api
    # What the ticket is about, when opened from a page: ("order", 12), ("invoice", 3), ...
    context_type: str | None = Field(default=None, max_length=24)
    context_id: int | None = None
    first_response_due_at: datetime | None = None
    resolution_due_at: datetime | None = None
    first_responded_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    sla_breach_flagged_at: datetime | None = None
    rating: int | None = None
    rating_comment: str = Field(default="", max_length=1000)
    merged_into_id: int | None = Field(default=None, foreign_key="ticket.id")
    # Tickets that arrive by email: the address the conversation runs with, and the unguessable
    # token of its reply address (support+TOKEN@...). A ticket opened after the reopen window by
    # a reply to an older one points back at it.
    contact_email: str = Field(default="", max_length=320)
    reply_token: str | None = Field(default=None, max_length=40, unique=True)
    follow_up_of_id: int | None = Field(default=None, foreign_key="ticket.id")
    created_at: datetime = created_at_field()
    updated_at: datetime = created_at_field()


class TicketCreate(TicketBase):
    body: str
    context_type: str | None = None
    context_id: int | None = None


class TicketPublic(TicketBase):
    id: int
    number: str
    status: str
    channel: str
    created_at: datetime
    updated_at: datetime


class TicketMessage(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = fk("ticket.id", ondelete="CASCADE")
    author_user_id: int | None = Field(default=None, foreign_key="user.id")
    author_kind: str = Field(default="customer", max_length=16)  # customer, agent, system, assistant
    body: str
    # Internal notes are for staff only; customers never receive them.
    internal: bool = False
    # Mail: the Message-ID (inbound or outbound) for threading and duplicate detection; for inbound
    # messages the headers and the full original text (the body keeps the new part only), shown
    # to agents on demand; "undelivered" when an outbound reply bounced.
    via_email: bool = False
    email_message_id: str | None = Field(default=None, max_length=500, index=True)
    email_headers: str = ""
    email_original: str = ""
    delivery_status: str = Field(default="", max_length=16)
    created_at: datetime = created_at_field()


class TicketMessagePublic(SQLModel):
    id: int
    author_kind: str
    author_name: str = ""
    body: str
    created_at: datetime


class Tag(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=40, unique=True, index=True)


class TicketTag(SQLModel, table=True):
    ticket_id: int = Field(foreign_key="ticket.id", primary_key=True, ondelete="CASCADE")
    tag_id: int = Field(foreign_key="tag.id", primary_key=True, ondelete="CASCADE")


class Attachment(SQLModel, table=True):
    """A private file attached to a ticket message; served only by an authorised route."""

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = fk("customer.id")
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id", index=True)
    message_id: int | None = Field(default=None, foreign_key="ticketmessage.id")
    conversation_id: int | None = Field(default=None, foreign_key="conversation.id")
    uploaded_by_user_id: int | None = Field(default=None, foreign_key="user.id")
    filename: str = Field(max_length=255)
    content_type: str = Field(max_length=100)
    size_bytes: int
    sha256: str = Field(max_length=64)
    storage_key: str = Field(max_length=255, unique=True)
    created_at: datetime = created_at_field()


class InboundMailStatus(StrEnum):
    TICKET = "ticket"  # opened a ticket
    REPLY = "reply"  # added to a ticket
    DUPLICATE = "duplicate"
    BOUNCE = "bounce"
    IGNORED = "ignored"  # our own mail, newsletters without a ticket, strangers when refused
    QUARANTINED = "quarantined"  # a reply to a ticket from someone who does not own it
    ACCEPTED = "accepted"  # a quarantined reply an agent let in
    REJECTED = "rejected"  # a quarantined reply an agent turned away
    FAILED = "failed"


class InboundMail(SQLModel, table=True):
    """Every message read from the support mailbox and what became of it. `message_key` (a hash
    of the Message-ID) makes a second delivery of the same message change nothing."""

    id: int | None = Field(default=None, primary_key=True)
    message_key: str = Field(max_length=64, unique=True, index=True)
    message_id: str = Field(default="", max_length=500)
    from_address: str = Field(default="", max_length=320)
    subject: str = Field(default="", max_length=300)
    size_bytes: int = 0
    status: str = Field(default=InboundMailStatus.FAILED, sa_type=String(16), index=True)
    reason: str = Field(default="", max_length=500)
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id", index=True)
    ticket_message_id: int | None = Field(default=None, foreign_key="ticketmessage.id")
    # Kept only while an agent has to decide (quarantine).
    raw: bytes | None = Field(default=None, sa_type=LargeBinary)
    decided_by_user_id: int | None = Field(default=None, foreign_key="user.id")
    decided_at: datetime | None = None
    created_at: datetime = created_at_field()


class CannedReply(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=120)
    body: str
    created_at: datetime = created_at_field()


class ConversationStatus(StrEnum):
    WAITING = "waiting"
    ACTIVE = "active"
    CLOSED = "closed"


class Conversation(SQLModel, table=True):
    """A live chat between a customer and an agent."""

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = fk("customer.id")
    user_id: int | None = Field(default=None, foreign_key="user.id")
    agent_user_id: int | None = Field(default=None, foreign_key="user.id", index=True)
    status: str = Field(default=ConversationStatus.WAITING, sa_type=String(12), index=True)
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id")
    # What the customer was doing when they asked: page, recent searches, assistant steps.
    context: dict[str, Any] = json_field(dict)
    started_at: datetime = created_at_field()
    ended_at: datetime | None = None
    customer_last_read_at: datetime | None = None
    agent_last_read_at: datetime | None = None


class ConversationMessage(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("conversation_id", "client_id"),)
    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = fk("conversation.id", ondelete="CASCADE")
    author_user_id: int | None = Field(default=None, foreign_key="user.id")
    author_kind: str = Field(default="customer", max_length=16)
    body: str
    client_id: str | None = Field(default=None, max_length=64)
    created_at: datetime = created_at_field()


class AgentPresence(SQLModel, table=True):
    """Whether an agent can take live chats: the console refreshes `last_seen_at` while open."""

    user_id: int = Field(foreign_key="user.id", primary_key=True)
    available: bool = True
    last_seen_at: datetime = created_at_field()


class ArticleSuggestion(SQLModel, table=True):
    """A help article suggested while a customer described a problem, and whether it solved it."""

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = fk("customer.id")
    user_id: int | None = Field(default=None, foreign_key="user.id")
    article_id: int = fk("kbarticle.id", ondelete="CASCADE")
    query: str = Field(default="", max_length=500)
    solved: bool = False
    # The ticket opened anyway, when the suggestion did not solve it.
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id")
    created_at: datetime = created_at_field()
