"""Customer B, sending customer A's order, line, address, photo and return ids to every orders
handler over a forged websocket, gets nothing of A's and changes nothing of A's; the label
download route answers 404 to everyone but the owner."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlmodel import Session, select

from portal.domain import returns
from portal.models import Order, OrderEvent, OrderLine, OrderStatus, OutboundEvent, RefundMethod, ReturnPhoto
from portal.state.new_order import NewOrderState
from portal.state.order_detail import OrderDetailState
from portal.state.orders import OrderListState
from tests.browser.test_forged_events import cookie_for
from tests.factories import make_customer, principal_for
from tests.factories_orders import PNG, make_address, make_product, make_variant_order
from tests.support.aio import run_async as run
from tests.support.reflex_client import ReflexClient, deltas_text, handler_name

pytestmark = pytest.mark.browser

D = OrderDetailState


def _snapshot(db: Session, order_id: int) -> tuple[Any, ...]:
    db.expire_all()
    order = db.get(Order, order_id)
    assert order is not None
    lines = db.exec(select(OrderLine.variant_id, OrderLine.variant_label).where(OrderLine.order_id == order_id)).all()
    n_events = len(db.exec(select(OrderEvent.id).where(OrderEvent.order_id == order_id)).all())
    return (order.status, dict(order.shipping_address), order.delivery_window_start, tuple(lines), n_events)


async def _forge(backend_url: str, cookie: str, steps: list[tuple[Any, dict[str, Any], str]]) -> str:
    async with ReflexClient(backend_url, cookie=cookie) as c:
        out = []
        for handler, payload, path in steps:
            out += await c.send(handler_name(handler), payload, path=path)
        return deltas_text(out)


def test_customer_b_gets_nothing_of_customer_a_through_any_orders_handler(db: Session, harness: Any,
                                                                          backend_url: str) -> None:
    # Given Alice with a paid order, a delivered order with a return and a staged photo, and Bob with his own
    ua, ca = make_customer(db, name="Alice")
    ub, cb = make_customer(db, name="Bob")
    small, medium, _large = make_product(db, name="Anorak", stock=5)
    a_addr = make_address(db, ca, city="Alicetown")
    make_address(db, cb, city="Bobville")
    a_paid = make_variant_order(db, ca, [(small, 1)], status=OrderStatus.PAID, number="FH-ALICE01")
    a_line = db.exec(select(OrderLine).where(OrderLine.order_id == a_paid.id)).one()
    a_delivered = make_variant_order(db, ca, [(small, 2)], status=OrderStatus.DELIVERED, delivered_days_ago=2,
                                     number="FH-ALICE02")
    a_dline = db.exec(select(OrderLine).where(OrderLine.order_id == a_delivered.id)).one()
    pa = principal_for(ua)
    a_return = returns.start_return(db, principal=pa, order_id=a_delivered.id, quantities={a_dline.id: 1},
                                    reason="damaged", note="", refund_method=RefundMethod.ORIGINAL, photo_ids=[],
                                    expected_amount_cents=small.price_cents)
    a_photo = returns.stage_photo(db, principal=pa, filename="alice.png", content_type="image/png", data=PNG)
    db.commit()
    b_paid = make_variant_order(db, cb, [(small, 1)], status=OrderStatus.PAID, number="FH-BOB001")
    b_delivered = make_variant_order(db, cb, [(small, 1)], status=OrderStatus.DELIVERED, delivered_days_ago=2,
                                     number="FH-BOB002")
    before = {oid: _snapshot(db, oid) for oid in (a_paid.id or 0, a_delivered.id or 0)}
    b_cookie = cookie_for(db, ub)
    a_path = f"/orders/{a_paid.id}"

    # When Bob opens Alice's order by its id and then fires every action at it
    text = run(_forge(backend_url, b_cookie, [
        (D.load, {}, a_path),
        (D.open_panel, {"name": "cancel"}, a_path),
        (D.update_cancel_reason, {"value": "other"}, a_path),
        (D.cancel_order, {}, a_path),
        (D.update_address_choice, {"value": str(a_addr.id)}, a_path),
        (D.change_address, {}, a_path),
        (D.update_variant_line, {"value": str(a_line.id)}, a_path),
        (D.update_variant_choice, {"value": str(medium.id)}, a_path),
        (D.change_variant, {}, a_path),
        (D.update_window_choice, {"value": "2030-01-07/morning"}, a_path),
        (D.choose_window, {}, a_path),
        (D.update_return_qty, {"line_id": a_dline.id, "value": "1"}, f"/orders/{a_delivered.id}"),
        (D.update_return_reason, {"value": "damaged"}, f"/orders/{a_delivered.id}"),
        (D.submit_return, {}, f"/orders/{a_delivered.id}"),
        (D.remove_photo, {"photo_id": a_photo.id}, a_path),
    ]))
    # Then he sees nothing of hers, and nothing of hers changed
    assert "FH-ALICE01" not in text and "Alicetown" not in text and a_return.number not in text
    assert "could not find" in text

    # When Bob works on his own orders but slips Alice's ids into the arguments
    b_path, b_dpath = f"/orders/{b_paid.id}", f"/orders/{b_delivered.id}"
    text = run(_forge(backend_url, b_cookie, [
        (D.load, {}, b_path),
        (D.update_address_choice, {"value": str(a_addr.id)}, b_path),
        (D.change_address, {}, b_path),
        (D.update_variant_line, {"value": str(a_line.id)}, b_path),
        (D.update_variant_choice, {"value": str(medium.id)}, b_path),
        (D.change_variant, {}, b_path),
        (D.load, {}, b_dpath),
        (D.update_return_qty, {"line_id": a_dline.id, "value": "1"}, b_dpath),
        (D.submit_return, {}, b_dpath),
        (D.remove_photo, {"photo_id": a_photo.id}, b_dpath),
        (NewOrderState.load, {}, f"/orders/new?from={a_delivered.id}"),
        (NewOrderState.update_address_choice, {"value": str(a_addr.id)}, "/orders/new"),
        (NewOrderState.load, {}, "/orders/new"),
        (NewOrderState.update_address_choice, {"value": str(a_addr.id)}, "/orders/new"),
        (NewOrderState.update_pick_variant, {"value": str(small.id)}, "/orders/new"),
        (NewOrderState.add_line, {}, "/orders/new"),
        (NewOrderState.review_order, {}, "/orders/new"),
        (NewOrderState.place_order, {}, "/orders/new"),
        (OrderListState.load, {}, "/orders"),
        (OrderListState.update_query, {"value": "FH-ALICE"}, "/orders"),
    ]))
    assert "FH-BOB001" in text and "Bobville" in text  # the test can see a leak if there were one
    for secret in ("FH-ALICE01", "FH-ALICE02", "Alicetown", a_return.number):
        assert secret not in text

    for oid, snap in before.items():
        assert _snapshot(db, oid) == snap
    db.expire_all()
    b_now = db.get(Order, b_paid.id)
    assert b_now is not None and b_now.shipping_address["city"] != "Alicetown"
    assert db.get(ReturnPhoto, a_photo.id) is not None
    # Nothing was sent to the business about Alice but her own return, made in the setup
    assert [e.kind for e in db.exec(select(OutboundEvent).where(OutboundEvent.customer_id == ca.id))] \
        == ["return.requested"]
    # Bob's new order goes to his own address, whatever address id he sent
    b_orders = db.exec(select(Order).where(Order.customer_id == cb.id)).all()
    assert len(b_orders) == 3 and all(o.shipping_address.get("city") != "Alicetown" for o in b_orders)

    # And his own cancel through the same path does work: the test would see a change
    run(_forge(backend_url, b_cookie, [(D.load, {}, b_path), (D.update_cancel_reason, {"value": "other"}, b_path),
                                       (D.cancel_order, {}, b_path)]))
    db.expire_all()
    assert db.get(Order, b_paid.id).status == OrderStatus.CANCELLED  # type: ignore[union-attr]

    # The label route: Alice gets her PDF; Bob, a stranger and a made-up id get the same 404
    url = f"{backend_url}/api/returns/{a_return.id}/label.pdf"
    a_cookie = cookie_for(db, ua)
    owner = httpx.get(url, headers={"Cookie": a_cookie})
    assert owner.status_code == 200 and owner.content.startswith(b"%PDF")
    assert owner.headers["content-type"] == "application/pdf"
    for cookie in (b_cookie, ""):
        other = httpx.get(url, headers={"Cookie": cookie} if cookie else {})
        assert other.status_code == 404 and b"%PDF" not in other.content
    assert httpx.get(f"{backend_url}/api/returns/99999999/label.pdf", headers={"Cookie": a_cookie}).status_code == 404
