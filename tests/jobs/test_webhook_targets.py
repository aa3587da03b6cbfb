"""Outbound webhooks reach public addresses only (unless WEBHOOKS_ALLOW_PRIVATE_TARGETS is on):
refused when an admin registers the endpoint, and again at every delivery, on the address the name
resolves to then, which is the address the request is sent to. The internal service here is a real
HTTP server on loopback, and deliveries are real HTTP requests."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from sqlmodel import Session, select

from portal.db import utcnow
from portal.domain import outbox
from portal.domain.api import webhooks
from portal.domain.errors import DomainError
from portal.integrations import outbound
from portal.jobs.webhooks import deliver_once
from portal.models import Role, WebhookDelivery, WebhookEndpoint
from tests.factories import make_customer, make_staff, principal_for
from tests.jobs.test_webhooks import Receiver
from tests.support.aio import run_async

INTERNAL = ("http://127.0.0.1:{port}/hooks", "http://localhost:{port}/hooks", "http://[::1]:{port}/hooks",
            "http://[::ffff:127.0.0.1]:{port}/hooks", "http://169.254.169.254/latest/meta-data/",
            "http://10.0.0.7/hooks", "http://192.168.1.20/hooks", "http://172.16.0.1/hooks", "http://[fd00::1]/",
            "http://[fe80::1]/", "http://0.0.0.0:{port}/hooks", "http://100.64.0.1/", "http://2130706433:{port}/")


@pytest.fixture
def internal_service() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


def _admin(db: Session) -> Any:
    return principal_for(make_staff(db, role=Role.ADMIN))


def test_internal_addresses_are_refused_when_an_admin_registers_them(db: Session,
                                                                     internal_service: Receiver) -> None:
    admin = _admin(db)
    port = internal_service.server.server_address[1]
    for template in INTERNAL:
        url = template.format(port=port)
        with pytest.raises(DomainError) as refused:
            webhooks.create_endpoint(db, principal=admin, url=url, kinds=[])
        assert refused.value.data.get("field") == "url", url
        assert "public address" in (refused.value.detail or ""), url
    assert db.exec(select(WebhookEndpoint)).first() is None


def _queued_to(db: Session, url: str) -> WebhookDelivery:
    """An endpoint whose name pointed somewhere public when it was registered (the row is written
    as the portal wrote it then) and points inside now, with an event queued for it."""
    admin = _admin(db)
    ep = WebhookEndpoint(url=url, kinds=[], secret_encrypted=webhooks.secrets_box.encrypt(
        "whsec_test", purpose=webhooks.SECRET_PURPOSE), created_by_user_id=admin.user_id)
    db.add(ep)
    db.commit()
    _, cust = make_customer(db)
    outbox.enqueue(db, kind="ticket.opened", customer_id=cust.id, payload={"ticket": "T-1"})
    db.commit()
    assert run_async(deliver_once()) == "sent 1"
    d = db.exec(select(WebhookDelivery)).one()
    db.refresh(d)
    return d


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::ffff:127.0.0.1]"])
def test_a_delivery_to_an_internal_address_is_refused_and_nothing_is_sent(db: Session, internal_service: Receiver,
                                                                          host: str) -> None:
    port = internal_service.server.server_address[1]
    d = _queued_to(db, f"http://{host}:{port}/hooks")
    assert internal_service.received == []
    assert d.last_status_code is None and d.last_response == "" and d.last_error.startswith("refused:")
    assert d.status == "pending" and d.next_attempt_at is not None and d.next_attempt_at > utcnow()


def test_the_same_delivery_goes_out_when_the_setting_allows_internal_targets(
        db: Session, internal_service: Receiver, allow_private_webhook_targets: None) -> None:
    port = internal_service.server.server_address[1]
    d = _queued_to(db, f"http://localhost:{port}/hooks")
    assert len(internal_service.received) == 1 and d.status == "succeeded" and d.last_status_code == 200


def test_the_request_goes_to_the_address_that_was_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    # A name that answers a public address once and loopback afterwards (DNS rebinding): the
    # checked answer is pinned into the URL, the name is sent only as Host and TLS server name.
    answers = iter(["93.184.215.14", "127.0.0.1", "127.0.0.1"])

    def rebinding(host: str, port: int, *args: Any, **kw: Any) -> list[Any]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    monkeypatch.setattr(outbound.socket, "getaddrinfo", rebinding)
    pinned = outbound.pin("https://hooks.example.com:8443/in?x=1")
    assert pinned.connect_url == "https://93.184.215.14:8443/in?x=1"
    assert pinned.host_header == "hooks.example.com:8443" and pinned.sni_hostname == "hooks.example.com"
    with pytest.raises(outbound.BlockedTarget):
        outbound.pin("https://hooks.example.com/in")


@pytest.mark.parametrize("ip, public", [("8.8.8.8", True), ("2606:4700:4700::1111", True), ("127.0.0.1", False),
                                        ("::1", False), ("::ffff:10.0.0.1", False), ("2002:a00:1::1", False),
                                        ("169.254.169.254", False), ("fc00::1", False), ("224.0.0.1", False)])
def test_which_addresses_count_as_public(ip: str, public: bool) -> None:
    assert outbound.is_public(ipaddress.ip_address(ip)) is public
