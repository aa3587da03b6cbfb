"""Signed outbound webhooks for the business's systems.

Outbox rows (portal.domain.outbox) are fanned out into one WebhookDelivery per active endpoint
that wants their kind; the delivery job signs and sends them, retrying with exponential
backoff. Signature: hex HMAC-SHA256 of "<timestamp>.<body>" with the endpoint's secret, so a
receiver can refuse old timestamps (replays) and forged bodies.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import re
import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func
from sqlmodel import Session, col, delete, select

from portal.db import utcnow
from portal.domain import audit, secrets_box
from portal.domain.audit import NO_REQUEST, RequestInfo
from portal.domain.errors import Invalid, NotFound
from portal.domain.principal import Principal, require_admin
from portal.integrations import outbound
from portal.models import IdempotencyRecord, OutboundEvent, WebhookDelivery, WebhookEndpoint
from portal.settings import get_settings

SECRET_PURPOSE = "webhook-secret"
SIGNATURE_HEADER = "X-Portal-Signature"
TIMESTAMP_HEADER = "X-Portal-Timestamp"
EVENT_ID_HEADER = "X-Portal-Event-Id"
EVENT_KIND_HEADER = "X-Portal-Event"
MAX_ATTEMPTS = 8
BASE_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(hours=6)
# What the portal announces today (the outbox may grow). An endpoint subscribes to exact kinds
# or to a family ("ticket.*"); one with no kinds receives everything.
KNOWN_KINDS = ("order.cancel_requested", "order.address_change_requested", "order.variant_change_requested",
               "order.delivery_window_requested", "return.requested", "ticket.opened", "ticket.customer_replied",
               "ticket.reopened", "ticket.rated", "document.uploaded", "document.signed", "profile.changed",
               "address.changed", "invoice.paid", "payment.received", "offer.applied", "account.closed",
               "privacy.exported", "order.placed", "invoice.issued", "invoice.voided", "credit_note.issued",
               "payment.refunded", "payment.disputed")
KIND_PATTERN = re.compile(r"^[a-z][a-z_]{0,30}\.(\*|[a-z][a-z_]{0,40})$")


def kind_matches(kinds: list[str], kind: str) -> bool:
    if not kinds:
        return True
    family = kind.split(".", 1)[0] + ".*"
    return kind in kinds or family in kinds


def sign(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


def verify(secret: str, *, timestamp: str, body: bytes, signature: str, now: int, tolerance: int = 300) -> bool:
    """What a receiver does (used by the tests and documented in the README)."""
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    if abs(now - ts) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, ts, body), signature.removeprefix("v1="))


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, ... capped at 6 h."""
    return min(BASE_DELAY * (2 ** min(max(0, attempts - 1), 20)), MAX_DELAY)


def _check_url(url: str) -> str:
    url = (url or "").strip()
    parts = urlsplit(url)
    if len(url) > 500 or parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid("an http(s) URL is required", field="url")
    if not get_settings().webhooks_allow_private_targets:
        # Checked again, on the resolved address, at every delivery (portal.jobs.webhooks).
        try:
            outbound.check_url(url)
        except outbound.BlockedTarget as exc:
            raise Invalid(f"the URL must reach a public address: {exc}", field="url") from None
    return url


@dataclasses.dataclass(frozen=True, slots=True)
class EndpointRow:
    id: int
    url: str
    description: str
    kinds: list[str]
    active: bool
    pending: int
    failed: int


def list_endpoints(session: Session, *, principal: Principal) -> list[EndpointRow]:
    require_admin(principal)
    out = []
    for ep in session.exec(select(WebhookEndpoint).order_by(col(WebhookEndpoint.id))).all():
        counts = dict(session.exec(select(WebhookDelivery.status, func.count()).where(  # type: ignore[call-overload]
            WebhookDelivery.endpoint_id == ep.id).group_by(WebhookDelivery.status)).all())
        out.append(EndpointRow(id=ep.id or 0, url=ep.url, description=ep.description, kinds=list(ep.kinds),
                               active=ep.active, pending=int(counts.get("pending", 0)),
                               failed=int(counts.get("failed", 0))))
    return out


def create_endpoint(session: Session, *, principal: Principal, url: str, kinds: list[str], description: str = "",
                    request: RequestInfo = NO_REQUEST) -> tuple[WebhookEndpoint, str]:
    """Returns the endpoint and its secret, shown once. History before now is not sent."""
    p = require_admin(principal)
    chosen = sorted(set(kinds))
    if len(chosen) > 50 or not all(isinstance(k, str) and KIND_PATTERN.fullmatch(k) for k in chosen):
        raise Invalid("event kinds look like ticket.opened or ticket.*", field="kinds")
    secret = "whsec_" + secrets.token_urlsafe(32)
    high = session.exec(select(func.max(OutboundEvent.id))).one() or 0
    ep = WebhookEndpoint(url=_check_url(url), description=(description or "").strip()[:200], kinds=chosen,
                         secret_encrypted=secrets_box.encrypt(secret, purpose=SECRET_PURPOSE),
                         last_outbound_id=int(high), created_by_user_id=p.user_id)
    session.add(ep)
    session.flush()
    audit.record(session, action="webhook.endpoint_created", principal=p, target_type="webhook_endpoint",
                 target_id=ep.id or "", request=request, url=ep.url, kinds=chosen)
    return ep, secret


def set_endpoint_active(session: Session, *, principal: Principal, endpoint_id: int, active: bool,
                        request: RequestInfo = NO_REQUEST) -> None:
    p = require_admin(principal)
    ep = session.get(WebhookEndpoint, endpoint_id)
    if ep is None:
        raise NotFound("webhook endpoint")
    ep.active = bool(active)
    session.add(ep)
    audit.record(session, action="webhook.endpoint_enabled" if active else "webhook.endpoint_disabled",
                 principal=p, target_type="webhook_endpoint", target_id=endpoint_id, request=request)


@dataclasses.dataclass(frozen=True, slots=True)
class DeliveryRow:
    id: int
    endpoint_url: str
    event_id: str
    kind: str
    status: str
    attempts: int
    last_status_code: int | None
    last_response: str
    last_error: str
    next_attempt_at: object
    created_at: object


def list_deliveries(session: Session, *, principal: Principal, limit: int = 100) -> list[DeliveryRow]:
    require_admin(principal)
    q = (select(WebhookDelivery, WebhookEndpoint.url, OutboundEvent.event_id, OutboundEvent.kind)
         .join(WebhookEndpoint, col(WebhookEndpoint.id) == col(WebhookDelivery.endpoint_id))
         .join(OutboundEvent, col(OutboundEvent.id) == col(WebhookDelivery.outbound_event_id))
         .order_by(col(WebhookDelivery.id).desc()).limit(max(1, min(limit, 500))))
    return [DeliveryRow(id=d.id or 0, endpoint_url=url, event_id=eid, kind=kind, status=d.status,
                        attempts=d.attempts, last_status_code=d.last_status_code, last_response=d.last_response,
                        last_error=d.last_error, next_attempt_at=d.next_attempt_at, created_at=d.created_at)
            for d, url, eid, kind in session.exec(q).all()]


def replay(session: Session, *, principal: Principal, delivery_id: int, request: RequestInfo = NO_REQUEST) -> None:
    """Send again on the next tick, whatever happened before (same event id: receivers dedupe)."""
    p = require_admin(principal)
    d = session.get(WebhookDelivery, delivery_id)
    if d is None:
        raise NotFound("webhook delivery")
    d.status, d.next_attempt_at, d.attempts = "pending", utcnow(), 0
    session.add(d)
    audit.record(session, action="webhook.delivery_replayed", principal=p, target_type="webhook_delivery",
                 target_id=delivery_id, request=request)


# Delivery (called by the job) ---------------------------------------------------------------

def fan_out(session: Session, *, batch: int = 500) -> int:
    """Queues a delivery per endpoint for new outbox rows. Returns how many were queued."""
    queued = 0
    now = utcnow()
    for ep in session.exec(select(WebhookEndpoint).where(col(WebhookEndpoint.active).is_(True))).all():
        rows = session.exec(select(OutboundEvent).where(col(OutboundEvent.id) > ep.last_outbound_id)
                            .order_by(col(OutboundEvent.id)).limit(batch)).all()
        for ev in rows:
            if kind_matches(list(ep.kinds), ev.kind):
                session.add(WebhookDelivery(endpoint_id=ep.id or 0, outbound_event_id=ev.id or 0,
                                            next_attempt_at=now))
                queued += 1
            ep.last_outbound_id = ev.id or ep.last_outbound_id
        session.add(ep)
    return queued


@dataclasses.dataclass(frozen=True, slots=True)
class Outgoing:
    delivery_id: int
    url: str
    headers: dict[str, str]
    body: bytes


def body_of(ev: OutboundEvent) -> bytes:
    return json.dumps({"id": ev.event_id, "kind": ev.kind, "created_at": ev.created_at.isoformat(),
                       "customer_id": ev.customer_id, "data": ev.payload}, separators=(",", ":"),
                      sort_keys=True).encode()


def due(session: Session, *, limit: int = 50) -> list[Outgoing]:
    now = utcnow()
    q = (select(WebhookDelivery, WebhookEndpoint, OutboundEvent)
         .join(WebhookEndpoint, col(WebhookEndpoint.id) == col(WebhookDelivery.endpoint_id))
         .join(OutboundEvent, col(OutboundEvent.id) == col(WebhookDelivery.outbound_event_id))
         .where(WebhookDelivery.status == "pending", col(WebhookDelivery.next_attempt_at) <= now,
                col(WebhookEndpoint.active).is_(True))
         .order_by(col(WebhookDelivery.id)).limit(limit))
    out = []
    ts = int(now.timestamp())
    for d, ep, ev in session.exec(q).all():
        secret = secrets_box.decrypt(ep.secret_encrypted, purpose=SECRET_PURPOSE)
        if secret is None:
            # PORTAL_SECRET_KEY changed since the endpoint was created: never send unsigned.
            record_attempt(session, delivery_id=d.id or 0, status_code=None, response="",
                           error="signing secret unreadable: create the endpoint again")
            continue
        body = body_of(ev)
        out.append(Outgoing(delivery_id=d.id or 0, url=ep.url, body=body, headers={
            "content-type": "application/json", "user-agent": "customer-portal-webhooks/1",
            SIGNATURE_HEADER: "v1=" + sign(secret, ts, body), TIMESTAMP_HEADER: str(ts),
            EVENT_ID_HEADER: ev.event_id, EVENT_KIND_HEADER: ev.kind}))
    return out


def record_attempt(session: Session, *, delivery_id: int, status_code: int | None, response: str,
                   error: str) -> None:
    d = session.get(WebhookDelivery, delivery_id)
    if d is None:
        return
    now = utcnow()
    d.attempts += 1
    d.last_status_code = status_code
    d.last_response = response[:2000]
    d.last_error = error[:500]
    if status_code is not None and 200 <= status_code < 300:
        d.status, d.delivered_at, d.next_attempt_at = "succeeded", now, None
    elif d.attempts >= MAX_ATTEMPTS:
        d.status, d.next_attempt_at = "failed", None
    else:
        d.next_attempt_at = now + backoff(d.attempts)
    session.add(d)


IDEMPOTENCY_KEPT = timedelta(days=7)
DELIVERIES_KEPT = timedelta(days=30)


def prune(session: Session) -> int:
    """Idempotency answers are kept a week (clients retry within minutes); finished deliveries
    a month, for admins to look back at."""
    now = utcnow()
    n = session.exec(delete(IdempotencyRecord).where(  # type: ignore[call-overload]
        col(IdempotencyRecord.created_at) < now - IDEMPOTENCY_KEPT)).rowcount or 0
    n += session.exec(delete(WebhookDelivery).where(  # type: ignore[call-overload]
        col(WebhookDelivery.status) != "pending",
        col(WebhookDelivery.created_at) < now - DELIVERIES_KEPT)).rowcount or 0
    return int(n)


def stats(session: Session) -> dict[str, Any]:
    rows = session.exec(select(WebhookDelivery.status, func.count()).group_by(  # type: ignore[call-overload]
        WebhookDelivery.status)).all()
    return {str(k): int(v) for k, v in rows}
