"""Order self-service rows in the audit log say from where and with what they were done (issue 14:
order and assistant rows had no address or user agent). Done over Reflex's websocket."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session, select

from portal.models import AuditEvent, Order, OrderStatus
from portal.state.order_detail import OrderDetailState
from tests.browser.test_forged_events import cookie_for
from tests.factories import make_customer, make_order
from tests.support.aio import run_async as run
from tests.support.reflex_client import ReflexClient, handler_name

pytestmark = pytest.mark.browser
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) PortalTest/14"


class BrowserClient(ReflexClient):
    async def __aenter__(self) -> ReflexClient:
        await self.sio.connect(f"{self.backend_url}?token={self.token}", socketio_path="/_event",
                               transports=["websocket"], headers={"Cookie": self.cookie or "", "User-Agent": BROWSER},
                               namespaces=["/_event"], wait_timeout=10)
        return self


def test_a_cancelled_order_is_audited_with_address_and_user_agent(db: Session, harness: Any,
                                                                   backend_url: str) -> None:
    user, customer = make_customer(db)
    order = make_order(db, customer)
    path = f"/orders/{order.id}"

    async def cancel() -> None:
        async with BrowserClient(backend_url, cookie=cookie_for(db, user)) as c:
            await c.send(handler_name(OrderDetailState.load), {}, path=path)
            await c.send(handler_name(OrderDetailState.update_cancel_reason), {"value": "ordered_by_mistake"},
                         path=path)
            await c.send(handler_name(OrderDetailState.cancel_order), {}, path=path)

    run(cancel())
    db.expire_all()
    cancelled = db.get(Order, order.id)
    assert cancelled is not None and cancelled.status == OrderStatus.CANCELLED
    row = db.exec(select(AuditEvent).where(AuditEvent.action == "order.cancel")).one()
    assert (row.ip_address, row.user_agent) == ("127.0.0.1", BROWSER)
