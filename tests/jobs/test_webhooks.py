"""Signed outbound webhooks: fan-out from the outbox, signature, retries with backoff, replay."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session, select

from portal.db import utcnow
from portal.domain import outbox
from portal.domain.api import webhooks
from portal.jobs.webhooks import deliver_once
from portal.models import AuditEvent, Role, WebhookDelivery
from tests.factories import make_customer, make_staff, principal_for
from tests.support.aio import run_async
from tests.support.metrics import current

# The receivers here listen on loopback, which outbound webhooks reach only with this setting;
# tests/jobs/test_webhook_targets.py proves they are refused without it.
pytestmark = pytest.mark.usefixtures("allow_private_webhook_targets")


class Receiver:
    """A loopback HTTP server that records what it receives and answers with `status`."""

    def __init__(self) -> None:
        self.status = 200
        self.received: list[tuple[dict[str, str], bytes]] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                outer.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(outer.status)
                self.end_headers()
                self.wfile.write(b"ok" if outer.status < 300 else b"try later")

            def log_message(self, *_: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


def _endpoint(db: Session, url: str, kinds: list[str]) -> tuple[int, str, Any]:
    admin = principal_for(make_staff(db, role=Role.ADMIN))
    ep, secret = webhooks.create_endpoint(db, principal=admin, url=url, kinds=kinds)
    db.commit()
    return ep.id or 0, secret, admin


def test_outbox_events_are_signed_and_delivered_once(db: Session, receiver: Receiver) -> None:
    # Given an endpoint for cancellations, and an older event it must not receive
    _, cust = make_customer(db)
    outbox.enqueue(db, kind="order.cancel_requested", customer_id=cust.id, payload={"order": "old"})
    db.commit()
    _, secret, _ = _endpoint(db, receiver.url, ["order.cancel_requested"])
    # When a customer asks to cancel and a ticket is created (a kind it did not choose)
    ev = outbox.enqueue(db, kind="order.cancel_requested", customer_id=cust.id, payload={"order": "FH-1"})
    outbox.enqueue(db, kind="ticket.opened", customer_id=cust.id, payload={})
    db.commit()
    delivered = current("portal_webhooks_total", direction="out", source="endpoint", outcome="delivered")
    assert run_async(deliver_once()) == "sent 1"
    assert current("portal_webhooks_total", direction="out", source="endpoint", outcome="delivered") == delivered + 1
    # Then one signed request arrived, with the event id and a fresh timestamp
    assert len(receiver.received) == 1
    headers, body = receiver.received[0]
    assert headers["x-portal-event-id"] == ev.event_id and b"FH-1" in body
    assert webhooks.verify(secret, timestamp=headers["x-portal-timestamp"], body=body,
                           signature=headers["x-portal-signature"], now=int(time.time()))
    # A forged body, a wrong secret or an old timestamp fail verification
    assert not webhooks.verify(secret, timestamp=headers["x-portal-timestamp"], body=body + b" ",
                               signature=headers["x-portal-signature"], now=int(time.time()))
    assert not webhooks.verify("whsec_other", timestamp=headers["x-portal-timestamp"], body=body,
                               signature=headers["x-portal-signature"], now=int(time.time()))
    assert not webhooks.verify(secret, timestamp=headers["x-portal-timestamp"], body=body,
                               signature=headers["x-portal-signature"], now=int(time.time()) + 3600)
    # And the next tick sends nothing again
    assert run_async(deliver_once()) == "sent 0"
    d = db.exec(select(WebhookDelivery)).one()
    db.refresh(d)
    assert d.status == "succeeded" and d.last_status_code == 200 and d.last_response == "ok"


def test_failures_are_retried_with_backoff_then_replayed_by_an_admin(db: Session, receiver: Receiver) -> None:
    _, cust = make_customer(db)
    _, _, admin = _endpoint(db, receiver.url, [])
    outbox.enqueue(db, kind="return.requested", customer_id=cust.id, payload={"return": "R-1"})
    db.commit()
    receiver.status = 503
    run_async(deliver_once())
    d = db.exec(select(WebhookDelivery)).one()
    db.refresh(d)
    assert d.status == "pending" and d.attempts == 1 and d.last_status_code == 503
    assert d.last_response == "try later"
    assert d.next_attempt_at is not None and d.next_attempt_at > utcnow() + timedelta(seconds=20)
    # Not due yet: the next tick leaves it alone
    assert run_async(deliver_once()) == "sent 0"
    # Backoff doubles and is capped
    assert [webhooks.backoff(n).total_seconds() for n in (1, 2, 3)] == [30, 60, 120]
    assert webhooks.backoff(50) == webhooks.MAX_DELAY
    # After the last attempt it is marked failed
    d.attempts = webhooks.MAX_ATTEMPTS - 1
    d.next_attempt_at = utcnow()
    db.add(d)
    db.commit()
    run_async(deliver_once())
    db.refresh(d)
    assert d.status == "failed"
    # The admin replays it once the receiver works again
    receiver.status = 200
    webhooks.replay(db, principal=admin, delivery_id=d.id or 0)
    db.commit()
    assert run_async(deliver_once()) == "sent 1"
    db.refresh(d)
    assert d.status == "succeeded"
    assert receiver.received[-1][0]["x-portal-event-id"] == receiver.received[0][0]["x-portal-event-id"]
    assert db.exec(select(AuditEvent).where(AuditEvent.action == "webhook.delivery_replayed")).first()
    rows = webhooks.list_deliveries(db, principal=admin)
    assert rows[0].status == "succeeded" and rows[0].last_status_code == 200


def test_unreachable_endpoints_record_the_error(db: Session) -> None:
    _, cust = make_customer(db)
    _endpoint(db, "http://127.0.0.1:9/hooks", [])
    outbox.enqueue(db, kind="ticket.reopened", customer_id=cust.id, payload={})
    db.commit()
    run_async(deliver_once())
    d = db.exec(select(WebhookDelivery)).one()
    db.refresh(d)
    assert d.status == "pending" and d.last_status_code is None and "Connect" in d.last_error


def test_only_admins_manage_endpoints_and_urls_are_checked(db: Session) -> None:
    user, _ = make_customer(db)
    with pytest.raises(Exception, match="admin only"):
        webhooks.create_endpoint(db, principal=principal_for(user), url="http://127.0.0.1/x", kinds=[])
    admin = principal_for(make_staff(db, role=Role.ADMIN))
    for bad in ("ftp://x", "javascript:alert(1)", ""):
        with pytest.raises(Exception, match="URL"):
            webhooks.create_endpoint(db, principal=admin, url=bad, kinds=[])
    with pytest.raises(Exception, match="kind"):
        webhooks.create_endpoint(db, principal=admin, url="http://127.0.0.1/x", kinds=["everything"])


def test_endpoints_subscribe_to_exact_kinds_or_families() -> None:
    assert webhooks.kind_matches([], "ticket.opened")
    assert webhooks.kind_matches(["ticket.*"], "ticket.reopened")
    assert webhooks.kind_matches(["order.cancel_requested"], "order.cancel_requested")
    assert not webhooks.kind_matches(["ticket.*"], "order.cancel_requested")
    assert not webhooks.kind_matches(["order.cancel_requested"], "order.placed")


def test_old_idempotency_answers_and_finished_deliveries_are_pruned(db: Session, receiver: Receiver) -> None:
    from portal.models import IdempotencyRecord
    from tests.factories_api import make_api_key

    key_id, _ = make_api_key(db, "orders:read")
    old, fresh = utcnow() - timedelta(days=8), utcnow()
    for n, at in (("old", old), ("fresh", fresh)):
        db.add(IdempotencyRecord(api_key_id=key_id, idempotency_key=n, request_hash="x", status_code=200,
                                 response_body={}, created_at=at))
    db.commit()
    assert webhooks.prune(db) == 1
    db.commit()
    assert [r.idempotency_key for r in db.exec(select(IdempotencyRecord)).all()] == ["fresh"]


def test_a_delivery_is_never_sent_unsigned(db: Session, receiver: Receiver) -> None:
    _, cust = make_customer(db)
    ep_id, _, _ = _endpoint(db, receiver.url, [])
    ep = db.get(webhooks.WebhookEndpoint, ep_id)
    assert ep is not None
    ep.secret_encrypted = "not-a-fernet-token"
    db.add(ep)
    outbox.enqueue(db, kind="ticket.opened", customer_id=cust.id, payload={})
    db.commit()
    run_async(deliver_once())
    assert receiver.received == []
    d = db.exec(select(WebhookDelivery)).one()
    db.refresh(d)
    assert d.attempts == 1 and "secret" in d.last_error
