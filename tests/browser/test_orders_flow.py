"""A demo customer finds her orders, opens them, cancels one that still can be cancelled (and
is told why another cannot), starts a return and downloads its label."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, col, select

from portal.db import session_scope, utcnow
from portal.domain import events
from portal.domain.events import DomainEvent, Topic
from portal.models import ORDER_STATUS_LABELS, Order, OrderEvent, OrderLine, OrderStatus, Return, ReturnPhoto
from portal.seed.demo import DEMO_PASSWORD
from tests.browser.test_live_dashboard import customer_of
from tests.browser.test_login_flow import sign_in
from tests.factories_orders import PNG
from tests.support.uploads import send_files

pytestmark = pytest.mark.browser


def _rows(page: Any) -> Any:
    return page.get_by_test_id("orders-table").get_by_test_id("order-row")


def _filter_status(page: Any, status: str, expect: int | None = None) -> None:
    """Pick a state and wait until the table shows only (and, if given, exactly `expect`) such orders."""
    page.get_by_test_id("status-filter").select_option(status)
    label = "" if status == "all" else ORDER_STATUS_LABELS[status]
    page.wait_for_function(
        """([label, n]) => {
            const rows = [...document.querySelectorAll('[data-testid=orders-table] [data-testid=order-row]')];
            return rows.length > 0 && (n < 0 || rows.length === n) && rows.every(r => r.innerText.includes(label));
        }""", arg=[label, -1 if expect is None else expect])


def _open_first(page: Any) -> str:
    """Open the first order of the list; returns once its own page (not a previous one) shows."""
    link = _rows(page).first.get_by_role("link")
    number = link.inner_text()
    link.click()
    page.get_by_test_id("order-number").get_by_text(number).wait_for()
    return number


def test_find_cancel_return_and_download_label(page: Any, demo: Any, db: Session, tmp_path: Path) -> None:
    alice = customer_of(db, "alice@example.com")
    mine = db.exec(select(Order).where(Order.customer_id == alice.id)).all()

    # Given Alice signed in, on her order history
    sign_in(page, "alice@example.com", DEMO_PASSWORD)
    page.wait_for_url(re.compile(r"/dashboard"))
    page.get_by_role("link", name="Orders").first.click()
    page.wait_for_url(re.compile(r"/orders$"))
    _rows(page).first.wait_for()
    assert _rows(page).count() == len(mine)

    # When she searches by an order number, she gets that order only
    target = sorted(mine, key=lambda o: o.placed_at)[0]
    page.get_by_test_id("order-search").fill(target.number)
    page.wait_for_function(
        "n => document.querySelectorAll('[data-testid=orders-table] [data-testid=order-row]').length === n", arg=1)
    assert target.number in _rows(page).first.inner_text()
    # ... and by a product name, every order holding that product
    with_pack = {ln.order_id for ln in db.exec(select(OrderLine).where(col(OrderLine.name).ilike("%packhorse%")))}
    expected = sum(o.id in with_pack for o in mine)
    assert expected >= 1
    page.get_by_test_id("order-search").fill("packhorse")
    page.wait_for_function(
        "n => document.querySelectorAll('[data-testid=orders-table] [data-testid=order-row]').length === n",
        arg=expected)
    page.get_by_test_id("clear-filters").click()
    page.wait_for_function(
        "n => document.querySelectorAll('[data-testid=orders-table] [data-testid=order-row]').length === n",
        arg=len(mine))

    # When she filters by state, then by a date range with nothing in it
    _filter_status(page, "cancelled", expect=sum(o.status == OrderStatus.CANCELLED for o in mine))
    assert "Cancelled" in _rows(page).first.inner_text()
    _filter_status(page, "all")
    tomorrow = (utcnow() + timedelta(days=2)).date().isoformat()
    page.get_by_test_id("date-from").fill(tomorrow)
    page.get_by_test_id("orders-no-match").wait_for()
    page.get_by_test_id("clear-filters").click()
    _rows(page).first.wait_for()

    # When she opens a shipped order, she is told why it cannot be cancelled
    _filter_status(page, "shipped", expect=1)
    _open_first(page)
    assert page.get_by_test_id("action-cancel").is_disabled()
    assert "handed to the carrier" in page.get_by_test_id("why-cancel").inner_text()
    assert page.get_by_test_id("shipment-row").count() >= 1
    assert re.match(r"/shipments/\d+$", page.get_by_test_id("track-link").first.get_attribute("href") or "")
    assert page.get_by_test_id("timeline-event").count() >= 3

    # When she opens her paid order and cancels it
    page.goto("/orders")
    _rows(page).first.wait_for()
    _filter_status(page, "paid", expect=1)
    paid_number = _open_first(page)
    page.get_by_test_id("action-cancel").click()
    page.get_by_test_id("confirm-cancel").click()
    page.get_by_text("Choose a reason.").wait_for()  # nothing happens without a reason
    page.get_by_test_id("cancel-reason").select_option("ordered_by_mistake")
    page.get_by_test_id("confirm-cancel").click()
    # Then it is cancelled, and that is on its history
    page.get_by_test_id("order-notice").get_by_text("Your order is cancelled").wait_for()
    assert "Cancelled" in page.get_by_test_id("order-status").inner_text()
    assert "Cancelled by you" in page.get_by_test_id("order-timeline").inner_text()
    db.expire_all()
    assert db.exec(select(Order).where(Order.number == paid_number)).one().status == OrderStatus.CANCELLED

    # While the page is open, what the business records appears without a reload
    order = db.exec(select(Order).where(Order.number == paid_number)).one()
    with session_scope() as s:
        s.add(OrderEvent(order_id=order.id or 0, kind="refunded", message="Refund of your payment sent",
                         created_at=utcnow()))
        events.emit(s, DomainEvent(topic=Topic.ORDERS, customer_id=alice.id, data={"order_id": order.id}))
    page.get_by_test_id("order-timeline").get_by_text("Refund of your payment sent").wait_for(timeout=10_000)

    # When she opens her most recent delivered order and starts a return for store credit
    page.goto("/orders")
    # The list keeps her last filters ("paid", now empty) until she clears them
    page.get_by_test_id("orders-no-match").wait_for()
    page.get_by_test_id("clear-filters").click()
    _rows(page).first.wait_for()
    _filter_status(page, "delivered")
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=orders-table] [data-testid=order-row]')]"
        ".every(r => r.innerText.includes('Delivered'))")
    _open_first(page)
    page.get_by_test_id("action-return").click()
    page.get_by_test_id("return-qty").first.fill("1")
    page.get_by_test_id("return-reason").select_option("too_small")
    page.get_by_test_id("return-quote").wait_for()
    # A photo of the problem is kept privately; a file that only claims to be an image is refused
    photo, fake = tmp_path / "seam.png", tmp_path / "notes.png"
    photo.write_bytes(PNG)
    fake.write_bytes(b"this is not an image")
    page.set_input_files("#return_photos input[type=file]", str(fake))
    page.get_by_text("Photos must be JPEG, PNG or WebP").wait_for()
    send_files(page, lambda: page.set_input_files("#return_photos input[type=file]", str(photo)),
               page.get_by_test_id("return-photo").get_by_text("seam.png"))
    original = page.get_by_test_id("return-quote").inner_text()
    page.get_by_test_id("refund-credit").click()
    page.wait_for_function("q => document.querySelector('[data-testid=return-quote]').innerText !== q",
                           arg=original)
    assert page.get_by_text("bonus").first.is_visible()
    page.get_by_test_id("confirm-return").click()
    page.get_by_test_id("order-notice").get_by_text("is started").wait_for()
    label = page.get_by_test_id("return-label").first
    label.wait_for()

    # Then the label downloads as a PDF for her, and for nobody else
    href = label.get_attribute("href") or ""
    response = page.context.request.get(href)
    assert response.status == 200 and response.body().startswith(b"%PDF")
    assert response.headers["content-type"] == "application/pdf"
    db.expire_all()
    ret = db.exec(select(Return).order_by(Return.id.desc())).first()  # type: ignore[union-attr]
    assert ret is not None and ret.number in page.get_by_test_id("order-returns").inner_text()
    assert len(db.exec(select(ReturnPhoto).where(ReturnPhoto.return_id == ret.id)).all()) == 1
    stranger = page.context.browser.new_context()
    try:
        assert stranger.request.get(href).status == 404
    finally:
        stranger.close()


def test_reorder_review_place_then_change_address_and_choose_a_window(page: Any, demo: Any, db: Session) -> None:
    # Given Alice on one of her delivered orders
    sign_in(page, "alice@example.com", DEMO_PASSWORD)
    page.wait_for_url(re.compile(r"/dashboard"))
    page.goto("/orders")
    _rows(page).first.wait_for()
    _filter_status(page, "delivered")
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=orders-table] [data-testid=order-row]')]"
        ".every(r => r.innerText.includes('Delivered'))")
    past_number = _open_first(page)

    # When she orders it again, she reviews today's prices, address and totals before placing it
    page.get_by_test_id("reorder").click()
    page.wait_for_url(re.compile(r"/orders/new\?from=\d+"))
    page.get_by_test_id("draft-line").first.wait_for()
    page.get_by_test_id("review-order").click()
    total = page.get_by_test_id("review-total")
    total.wait_for()
    reviewed = total.inner_text()
    assert re.match(r"€[\d,]+\.\d\d", reviewed)
    assert "Cambridge" in page.get_by_test_id("order-review").inner_text()
    page.get_by_test_id("place-order").click()

    # Then the confirmation shows, and from it the new order opens, placed, with the same total she reviewed
    page.wait_for_url(re.compile(r"/orders/\d+/placed$"))
    page.get_by_test_id("placed-order-link").click()
    page.wait_for_url(re.compile(r"/orders/\d+$"))
    page.wait_for_function("n => (document.querySelector('[data-testid=order-number]') || {}).innerText"
                           " && document.querySelector('[data-testid=order-number]').innerText !== n",
                           arg=past_number)
    assert "Placed" in page.get_by_test_id("order-status").inner_text()
    assert reviewed in page.inner_text("body")
    assert "Order placed in the portal (reorder of FH-" in page.get_by_test_id("order-timeline").inner_text()
    # Royal Mail, her UK carrier, offers no delivery windows, and she is told so
    assert "does not offer delivery windows" in page.get_by_test_id("why-window").inner_text()

    # When she sends it to a new address in the Netherlands instead (after one mistake)
    page.get_by_test_id("action-address").click()
    page.get_by_test_id("address-choice").select_option("new")
    page.get_by_test_id("addr-name").fill("Alice Martin")
    page.get_by_test_id("addr-line1").fill("Oudegracht 12")
    page.get_by_test_id("addr-postal_code").fill("3511 AB")
    page.get_by_test_id("addr-country").fill("NL")
    page.get_by_test_id("confirm-address").click()
    page.get_by_text("Enter the town or city.").wait_for()
    assert page.get_by_test_id("addr-line1").input_value() == "Oudegracht 12"  # nothing typed is lost
    page.get_by_test_id("addr-city").fill("Utrecht")
    page.get_by_test_id("confirm-address").click()
    page.get_by_test_id("order-notice").get_by_text("delivery address is changed").wait_for()
    assert "Utrecht" in page.get_by_test_id("order-addresses").inner_text()

    # Then PostNL's delivery windows are offered, and she picks one
    page.get_by_test_id("action-window").click()
    choice = page.get_by_test_id("window-choice")
    choice.wait_for()
    options = [o for o in choice.locator("option").all() if o.get_attribute("value")]
    choice.select_option(options[0].get_attribute("value"))
    page.get_by_test_id("confirm-window").click()
    page.get_by_test_id("window").wait_for()
    assert "Delivery window" in page.get_by_test_id("window").inner_text()



def test_a_return_not_yet_sent_can_be_called_off(page: Any, demo: Any, db: Session) -> None:
    # Given Alice with a return started on a delivered order, its label issued
    from portal.domain import orders, returns
    from portal.models import RefundMethod, ReturnStatus, User
    from tests.factories import principal_for

    sign_in(page, "alice@example.com", DEMO_PASSWORD)
    page.wait_for_url(re.compile(r"/dashboard"))
    user = db.exec(select(User).where(User.email == "alice@example.com")).one()
    alice = principal_for(user)
    with session_scope() as s:
        mine = s.exec(select(Order).where(Order.customer_id == user.customer_id,
                                          Order.status == OrderStatus.DELIVERED)).all()
        order = next(o for o in mine if orders.order_detail(s, principal=alice, order_id=o.id).actions["return"] == "")
        detail = orders.order_detail(s, principal=alice, order_id=order.id)
        line_id, qty = next((lid, q) for lid, q in detail.returnable.items() if q > 0)
        quote = returns.quote_return(s, principal=alice, order_id=order.id, quantities={line_id: qty},
                                     refund_method=RefundMethod.ORIGINAL)
        ret = returns.start_return(s, principal=alice, order_id=order.id, quantities={line_id: qty},
                                   reason="changed_mind", note="", refund_method=RefundMethod.ORIGINAL,
                                   photo_ids=[], expected_amount_cents=quote.amount_cents)
        ret_id, ret_number, order_id = ret.id, ret.number, order.id
    # When she opens the order, asks to cancel the return, and confirms
    page.goto(f"/orders/{order_id}")
    row = page.get_by_test_id("return-row").filter(has_text=ret_number)
    row.get_by_test_id("cancel-return").click()
    row.get_by_test_id("cancel-return-confirm").get_by_text(f"Cancel return {ret_number}?").wait_for()
    row.get_by_test_id("confirm-cancel-return").click()
    # Then she is told, the return shows as cancelled without its label, and it is on the history
    page.get_by_test_id("order-notice").get_by_text(f"Return {ret_number} is cancelled").wait_for()
    row.get_by_text("Cancelled").wait_for()
    assert row.get_by_test_id("return-label").count() == 0 and row.get_by_test_id("cancel-return").count() == 0
    assert f"Return {ret_number} cancelled" in page.get_by_test_id("order-timeline").inner_text()
    db.expire_all()
    assert db.get(Return, ret_id).status == ReturnStatus.CANCELLED  # type: ignore[union-attr]
