"""Order history, order detail and every self-service action, with every policy refusal and
two-customer isolation, through the domain."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from sqlmodel import Session, select

from portal.db import utcnow
from portal.domain import events, order_actions, order_policy, orders, returns
from portal.domain.errors import DomainError, ErrorCode, Invalid, NotFound
from portal.domain.events import DomainEvent, Topic
from portal.domain.order_actions import DraftLine, NotAllowed
from portal.models import (
    AuditEvent,
    Document,
    Notification,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
    OutboundEvent,
    ProductVariant,
    RefundMethod,
    Return,
    ReturnPhoto,
    ReturnStatus,
)
from portal.settings import get_settings
from tests.factories import make_customer, principal_for
from tests.factories_orders import JPEG, PNG, make_address, make_product, make_variant_order
from tests.pdf_tools import scan_barcodes


@pytest.fixture
def announced() -> Iterator[list[DomainEvent]]:
    seen: list[DomainEvent] = []

    def listener(batch: list[DomainEvent]) -> None:
        seen.extend(batch)

    events.subscribe(listener)
    yield seen
    events.unsubscribe(listener)


@pytest.fixture
def alice(db: Session) -> Any:
    user, customer = make_customer(db, name="Alice")
    return principal_for(user), customer


@pytest.fixture
def bob(db: Session) -> Any:
    user, customer = make_customer(db, name="Bob")
    return principal_for(user), customer


def _trail(db: Session, order: Order, kind: str, audit_action: str, outbox_kind: str) -> None:
    """The action left its whole trail: order event, audit event, outbound event."""
    assert db.exec(select(OrderEvent).where(OrderEvent.order_id == order.id, OrderEvent.kind == kind)).first()
    assert db.exec(select(AuditEvent).where(AuditEvent.action == audit_action,
                                            AuditEvent.target_id == str(order.id))).first()
    out = db.exec(select(OutboundEvent).where(OutboundEvent.kind == outbox_kind)).first()
    assert out is not None and out.payload["order_id"] == order.id


def _stock(db: Session, variant: ProductVariant) -> int:
    db.expire_all()
    v = db.get(ProductVariant, variant.id)
    assert v is not None
    return v.stock


# -- history -----------------------------------------------------------------------------------


def test_order_history_searches_filters_and_pages_only_the_callers_orders(db: Session, alice: Any,
                                                                          bob: Any) -> None:
    # Given Alice with 25 orders (one of boots, one shipped last month) and Bob with one
    pa, ca = alice
    _pb, cb = bob
    jacket = make_product(db, name="Trail jacket")
    boots = make_product(db, name="Fellwalker boots")
    for i in range(23):
        make_variant_order(db, ca, [(jacket[0], 1)], days_ago=i + 1)
    boot_order = make_variant_order(db, ca, [(boots[1], 1)], days_ago=3, number="FH-BOOTS1")
    old = make_variant_order(db, ca, [(jacket[1], 1)], status=OrderStatus.SHIPPED, days_ago=40)
    make_variant_order(db, cb, [(boots[0], 1)], number="FH-BOBS1")

    # When she pages through everything
    first = orders.list_orders(db, principal=pa, page=1, page_size=10)
    third = orders.list_orders(db, principal=pa, page=3, page_size=10)
    # Then she sees her 25 orders, newest first, ten a page, and none of Bob's
    assert first.total == 25 and first.pages == 3 and len(first.orders) == 10 and len(third.orders) == 5
    assert first.orders[0].placed_at >= first.orders[-1].placed_at
    assert "FH-BOBS1" not in {o.number for o in first.orders + third.orders}

    # By order number, by product name (case-insensitive), by status, by date range
    assert [o.id for o in orders.list_orders(db, principal=pa, filters=orders.OrderFilter(query="boots1")).orders] \
        == [boot_order.id]
    assert [o.id for o in orders.list_orders(db, principal=pa,
                                             filters=orders.OrderFilter(query="FELLWALKER")).orders] == [boot_order.id]
    assert [o.id for o in orders.list_orders(db, principal=pa,
                                             filters=orders.OrderFilter(status="shipped")).orders] == [old.id]
    today = utcnow().date()
    ranged = orders.list_orders(db, principal=pa, filters=orders.OrderFilter(
        date_from=today - timedelta(days=45), date_to=today - timedelta(days=30)))
    assert [o.id for o in ranged.orders] == [old.id]
    # Bob's product name finds nothing for Alice, and the empty state knows she has orders
    nothing = orders.list_orders(db, principal=pa, filters=orders.OrderFilter(query="FH-BOBS1"))
    assert nothing.total == 0 and nothing.has_any_orders
    # A LIKE wildcard is a literal, not "everything"
    assert orders.list_orders(db, principal=pa, filters=orders.OrderFilter(query="%")).total == 0


def test_order_history_refuses_bad_filters_and_knows_a_new_customer_has_no_orders(db: Session,
                                                                                    alice: Any) -> None:
    pa, _ = alice
    assert orders.list_orders(db, principal=pa).has_any_orders is False
    for bad in (orders.OrderFilter(status="lost"), orders.OrderFilter(query="x" * 101),
                orders.OrderFilter(date_from=date(2026, 5, 2), date_to=date(2026, 5, 1))):
        with pytest.raises(Invalid):
            orders.list_orders(db, principal=pa, filters=bad)


def test_order_detail_is_not_found_for_someone_else(db: Session, alice: Any, bob: Any) -> None:
    pa, ca = alice
    pb, _ = bob
    order = make_variant_order(db, ca, [(make_product(db)[0], 1)])
    assert orders.order_detail(db, principal=pa, order_id=order.id).order.number == order.number
    for forged in (order.id, 10_000_000, "1", None, True):
        with pytest.raises(NotFound):
            orders.order_detail(db, principal=pb, order_id=forged)


# -- cancel ------------------------------------------------------------------------------------


def test_cancel_before_dispatch_restocks_and_leaves_a_trail(db: Session, alice: Any,
                                                            announced: list[DomainEvent]) -> None:
    pa, ca = alice
    variants = make_product(db, stock=5)
    order = make_variant_order(db, ca, [(variants[0], 2)], status=OrderStatus.PAID)
    assert orders.order_detail(db, principal=pa, order_id=order.id).actions["cancel"] == ""

    order_actions.cancel_order(db, principal=pa, order_id=order.id, reason="no_longer_needed")
    db.commit()

    assert db.get(Order, order.id).status == OrderStatus.CANCELLED  # type: ignore[union-attr]
    assert _stock(db, variants[0]) == 7
    _trail(db, order, "cancelled", "order.cancel", "order.cancel_requested")
    assert db.exec(select(Notification).where(Notification.user_id == pa.user_id)).first() is not None
    assert any(e.topic == Topic.ORDERS and e.customer_id == ca.id for e in announced)


@pytest.mark.parametrize(("status", "reason"), [
    (OrderStatus.SHIPPED, "already_dispatched"), (OrderStatus.DELIVERED, "already_dispatched"),
    (OrderStatus.CANCELLED, "order_cancelled"),
])
def test_cancel_is_refused_after_dispatch_with_the_reason(db: Session, alice: Any, status: OrderStatus,
                                                          reason: str) -> None:
    pa, ca = alice
    order = make_variant_order(db, ca, [(make_product(db)[0], 1)], status=status)
    assert orders.order_detail(db, principal=pa, order_id=order.id).actions["cancel"] == reason
    with pytest.raises(NotAllowed) as err:
        order_actions.cancel_order(db, principal=pa, order_id=order.id, reason="other")
    assert err.value.reason == reason
    db.rollback()
    assert db.exec(select(OutboundEvent)).first() is None


def test_cancel_needs_a_known_reason_and_the_callers_own_order(db: Session, alice: Any, bob: Any) -> None:
    pa, ca = alice
    pb, _ = bob
    order = make_variant_order(db, ca, [(make_product(db)[0], 1)])
    with pytest.raises(Invalid):
        order_actions.cancel_order(db, principal=pa, order_id=order.id, reason="<script>")
    with pytest.raises(NotFound):
        order_actions.cancel_order(db, principal=pb, order_id=order.id, reason="other")
    db.rollback()
    assert db.get(Order, order.id).status == OrderStatus.PAID  # type: ignore[union-attr]


def test_the_policy_file_decides_not_the_code(db: Session, alice: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a policy where paid orders can no longer be cancelled
    pa, ca = alice
    strict = order_policy.parse_policy({"allowed_states": {"cancel": ["placed"]}})
    monkeypatch.setattr(order_policy, "current_policy", lambda: strict)
    monkeypatch.setattr(order_actions, "current_policy", lambda: strict)
    order = make_variant_order(db, ca, [(make_product(db)[0], 1)], status=OrderStatus.PAID)
    with pytest.raises(NotAllowed):
        order_actions.cancel_order(db, principal=pa, order_id=order.id, reason="other")


def test_the_shipped_policy_file_parses_with_every_action() -> None:
    policy = order_policy.current_policy()
    assert set(policy.allowed_states) == set(order_policy.ACTIONS)
    assert policy.carrier_slots["dhl"] and policy.store_credit_bonus_percent == 10
    assert get_settings().orders_policy_file.name == "order_policy.toml"


# -- shipping address --------------------------------------------------------------------------


def test_change_address_to_a_saved_one_or_a_new_one(db: Session, alice: Any) -> None:
    pa, ca = alice
    saved = make_address(db, ca, city="Leiden")
    order = make_variant_order(db, ca, [(make_product(db)[0], 1)], status=OrderStatus.PACKED)

    order_actions.change_shipping_address(db, principal=pa, order_id=order.id, address_id=saved.id)
    db.commit()
    assert db.get(Order, order.id).shipping_address["city"] == "Leiden"  # type: ignore[union-attr]
    _trail(db, order, "address_changed", "order.address_change", "order.address_change_requested")

    order_actions.change_shipping_address(db, principal=pa, order_id=order.id, new_address={
        "name": "Alice", "line1": "Kade 9", "city": "Delft", "postal_code": "2611 AA", "country": "nl"})
    db.commit()
    assert db.get(Order, order.id).shipping_address["country"] == "NL"  # type: ignore[union-attr]


def test_change_address_refusals(db: Session, alice: Any, bob: Any) -> None:
    pa, ca = alice
    pb, cb = bob
    bobs_address = make_address(db, cb, city="Bob's town")
    order = make_variant_order(db, ca, [(make_product(db)[0], 1)])
    # Bob's saved address is not Alice's to use, and Bob cannot touch Alice's order
    with pytest.raises(NotFound):
        order_actions.change_shipping_address(db, principal=pa, order_id=order.id, address_id=bobs_address.id)
    with pytest.raises(NotFound):
        order_actions.change_shipping_address(db, principal=pb, order_id=order.id, address_id=bobs_address.id)
    # A new address must be complete and have a two-letter country
    with pytest.raises(Invalid) as err:
        order_actions.change_shipping_address(db, principal=pa, order_id=order.id, new_address={
            "name": "A", "line1": "x", "city": "", "postal_code": "1", "country": "NL"})
    assert err.value.field == "city"
    with pytest.raises(Invalid):
        order_actions.change_shipping_address(db, principal=pa, order_id=order.id, new_address={
            "name": "A", "line1": "x", "city": "y", "postal_code": "1", "country": "Netherlands"})
    # After dispatch it is too late
    shipped = make_variant_order(db, ca, [(make_product(db)[0], 1)], status=OrderStatus.SHIPPED)
    with pytest.raises(NotAllowed) as refused:
        order_actions.change_shipping_address(db, principal=pa, order_id=shipped.id,
                                              address_id=make_address(db, ca).id)
    assert refused.value.reason == "already_dispatched"
    db.rollback()
    assert db.get(Order, order.id).shipping_address["city"] == "Berlin"  # type: ignore[union-attr]


# -- variant -----------------------------------------------------------------------------------


def test_change_variant_before_packing_moves_stock(db: Session, alice: Any) -> None:
    pa, ca = alice
    small, medium, _large = make_product(db, stock=3)
    order = make_variant_order(db, ca, [(small, 1)], status=OrderStatus.PAID)
    line = db.exec(select(OrderLine).where(OrderLine.order_id == order.id)).one()
    detail = orders.order_detail(db, principal=pa, order_id=order.id)
    assert {c.label for c in detail.variant_choices[line.id or 0]} == {"M", "L"}

    order_actions.change_line_variant(db, principal=pa, order_id=order.id, line_id=line.id, variant_id=medium.id)
    db.commit()
    assert db.get(OrderLine, line.id).variant_label == "M"  # type: ignore[union-attr]
    assert _stock(db, small) == 4 and _stock(db, medium) == 2
    _trail(db, order, "variant_changed", "order.variant_change", "order.variant_change_requested")


def test_change_variant_refusals(db: Session, alice: Any, bob: Any) -> None:
    pa, ca = alice
    pb, cb = bob
    small, medium, large = make_product(db, stock=3)
    other_product = make_product(db, name="Tent")[0]
    order = make_variant_order(db, ca, [(small, 2)], status=OrderStatus.PAID)
    line = db.exec(select(OrderLine).where(OrderLine.order_id == order.id)).one()
    bobs = make_variant_order(db, cb, [(small, 1)])
    bobs_line = db.exec(select(OrderLine).where(OrderLine.order_id == bobs.id)).one()
    # Another product's variant, and a size without enough stock
    large.stock = 1
    db.add(large)
    db.commit()
    for variant_id in (other_product.id, large.id, 999_999, "2"):
        with pytest.raises(NotAllowed):
            order_actions.change_line_variant(db, principal=pa, order_id=order.id, line_id=line.id,
                                              variant_id=variant_id)
    # Bob's line through Alice's order, and Alice's order by Bob
    with pytest.raises(NotFound):
        order_actions.change_line_variant(db, principal=pa, order_id=order.id, line_id=bobs_line.id,
                                          variant_id=medium.id)
    with pytest.raises(NotFound):
        order_actions.change_line_variant(db, principal=pb, order_id=order.id, line_id=line.id, variant_id=medium.id)
    # Once packed, too late
    packed = make_variant_order(db, ca, [(small, 1)], status=OrderStatus.PACKED)
    packed_line = db.exec(select(OrderLine).where(OrderLine.order_id == packed.id)).one()
    with pytest.raises(NotAllowed) as err:
        order_actions.change_line_variant(db, principal=pa, order_id=packed.id, line_id=packed_line.id,
                                          variant_id=medium.id)
    assert err.value.reason == "already_packed"


# -- delivery window ---------------------------------------------------------------------------


def test_choose_and_change_a_delivery_window_offered_by_the_carrier(db: Session, alice: Any) -> None:
    pa, ca = alice
    order = make_variant_order(db, ca, [(make_product(db)[0], 1)])  # to Germany: DHL offers windows
    detail = orders.order_detail(db, principal=pa, order_id=order.id)
    assert detail.actions["delivery_window"] == "" and detail.window_carrier == "dhl"
    first, second = detail.window_offers[0], detail.window_offers[1]

    order_actions.set_delivery_window(db, principal=pa, order_id=order.id, window_key=first.key)
    order_actions.set_delivery_window(db, principal=pa, order_id=order.id, window_key=second.key)
    db.commit()
    saved = db.get(Order, order.id)
    assert saved is not None and saved.delivery_window_start == second.start
    _trail(db, order, "delivery_window_set", "order.delivery_window", "order.delivery_window_requested")


def test_delivery_window_refusals(db: Session, alice: Any, bob: Any) -> None:
    pa, ca = alice
    pb, _ = bob
    uk = make_address(db, ca, city="Leeds", country="GB")
    order = make_variant_order(db, ca, [(make_product(db)[0], 1)], address=uk)  # Royal Mail: no windows
    assert orders.order_detail(db, principal=pa, order_id=order.id).actions["delivery_window"] \
        == "carrier_has_no_windows"
    with pytest.raises(NotAllowed):
        order_actions.set_delivery_window(db, principal=pa, order_id=order.id, window_key="2030-01-01/morning")
    de = make_variant_order(db, ca, [(make_product(db)[0], 1)])
    for forged in ("1999-01-01/morning", "x" * 500, 3):
        with pytest.raises(Invalid):
            order_actions.set_delivery_window(db, principal=pa, order_id=de.id, window_key=forged)
    with pytest.raises(NotFound):
        order_actions.set_delivery_window(db, principal=pb, order_id=de.id, window_key="x")
    delivered = make_variant_order(db, ca, [(make_product(db)[0], 1)], status=OrderStatus.DELIVERED,
                                   delivered_days_ago=1)
    with pytest.raises(NotAllowed):
        order_actions.set_delivery_window(db, principal=pa, order_id=delivered.id, window_key="x")


# -- new orders and reorders -------------------------------------------------------------------


def test_reorder_reviews_current_prices_then_places_the_order(db: Session, alice: Any) -> None:
    pa, ca = alice
    address = make_address(db, ca)
    jacket = make_product(db, price_cents=10000, stock=4)
    gone = make_product(db, name="Discontinued hat", stock=0)
    past = make_variant_order(db, ca, [(jacket[1], 2), (gone[0], 1)], status=OrderStatus.DELIVERED,
                              delivered_days_ago=50)
    jacket[1].price_cents = 11000  # the price went up since
    db.add(jacket[1])
    db.commit()

    again = order_actions.reorder_draft(db, principal=pa, order_id=past.id)
    draft = again.lines
    assert draft == [DraftLine(variant_id=jacket[1].id or 0, quantity=2)] and len(again.unavailable) == 1
    assert again.number == past.number
    review = order_actions.review_order(db, principal=pa, lines=draft, address_id=address.id)
    assert review.subtotal_cents == 22000 and review.shipping_cents == 0 and review.total_cents == 22000

    # A total that is no longer true places nothing
    with pytest.raises(NotAllowed) as err:
        order_actions.place_order(db, principal=pa, lines=draft, address_id=address.id, expected_total_cents=20000)
    assert err.value.reason == "prices_changed"
    db.rollback()

    placed = order_actions.place_order(db, principal=pa, lines=draft, address_id=address.id,
                                       expected_total_cents=review.total_cents, reordered_from=past.id)
    db.commit()
    assert placed.status == OrderStatus.PLACED and placed.total_cents == 22000
    assert _stock(db, jacket[1]) == 2
    _trail(db, placed, "placed", "order.place", "order.placed")


def test_new_order_refusals(db: Session, alice: Any, bob: Any) -> None:
    pa, ca = alice
    pb, cb = bob
    address = make_address(db, ca)
    bobs_address = make_address(db, cb)
    v = make_product(db, stock=2)[0]
    with pytest.raises(NotAllowed):  # more than in stock
        order_actions.review_order(db, principal=pa, lines=[DraftLine(v.id or 0, 3)], address_id=address.id)
    with pytest.raises(Invalid):
        order_actions.review_order(db, principal=pa, lines=[], address_id=address.id)
    with pytest.raises(Invalid):
        order_actions.review_order(db, principal=pa, lines=[DraftLine(v.id or 0, 0)], address_id=address.id)
    with pytest.raises(NotFound):  # Bob's address
        order_actions.review_order(db, principal=pa, lines=[DraftLine(v.id or 0, 1)], address_id=bobs_address.id)
    with pytest.raises(NotFound):  # a variant that does not exist
        order_actions.review_order(db, principal=pa, lines=[DraftLine(999_999, 1)], address_id=address.id)
    alices = make_variant_order(db, ca, [(v, 1)])
    with pytest.raises(NotFound):  # Bob reordering Alice's order
        order_actions.reorder_draft(db, principal=pb, order_id=alices.id)


# -- returns -----------------------------------------------------------------------------------


def _delivered(db: Session, customer: Any, days: float = 3) -> tuple[Order, list[OrderLine]]:
    variants = make_product(db, price_cents=5000)
    order = make_variant_order(db, customer, [(variants[0], 2), (variants[1], 1)], status=OrderStatus.DELIVERED,
                               delivered_days_ago=days)
    lines = list(db.exec(select(OrderLine).where(OrderLine.order_id == order.id).order_by(OrderLine.id)))
    return order, lines


def test_return_with_store_credit_bonus_photos_and_a_private_label(db: Session, alice: Any) -> None:
    pa, ca = alice
    order, lines = _delivered(db, ca)
    quantities = {lines[0].id: 1, lines[1].id: 1}
    original = returns.quote_return(db, principal=pa, order_id=order.id, quantities=quantities,
                                    refund_method=RefundMethod.ORIGINAL)
    credit = returns.quote_return(db, principal=pa, order_id=order.id, quantities=quantities,
                                  refund_method=RefundMethod.STORE_CREDIT)
    assert (original.amount_cents, credit.bonus_cents, credit.amount_cents) == (10000, 1000, 11000)

    photo = returns.stage_photo(db, principal=pa, filename="../../etc/tear.png", content_type="image/png", data=PNG)
    db.commit()
    ret = returns.start_return(db, principal=pa, order_id=order.id, quantities=quantities, reason="too_small",
                               note="", refund_method=RefundMethod.STORE_CREDIT, photo_ids=[photo.id or 0],
                               expected_amount_cents=11000)
    db.commit()

    assert ret.status == ReturnStatus.LABEL_ISSUED and ret.refund_cents == 11000
    assert db.get(ReturnPhoto, photo.id).return_id == ret.id  # type: ignore[union-attr]
    assert "/" not in db.get(ReturnPhoto, photo.id).filename  # type: ignore[union-attr]
    label = returns.return_label(db, principal=pa, return_id=ret.id)
    assert label.path.read_bytes().startswith(b"%PDF") and label.path.is_relative_to(get_settings().files_dir)
    # It carries the return number as a carrier's scanner reads it, in Code 128 and QR
    assert scan_barcodes(label.path.read_bytes()) == {"Code 128": ret.number, "QR Code": ret.number}
    _trail(db, order, "return_requested", "return.request", "return.requested")
    # What is on its way back can no longer be returned twice
    detail = orders.order_detail(db, principal=pa, order_id=order.id)
    assert detail.returnable == {lines[0].id: 1, lines[1].id: 0}
    assert detail.returns[0].has_label and detail.returns[0].photo_count == 1


def test_return_refusals(db: Session, alice: Any, bob: Any) -> None:
    pa, ca = alice
    pb, _cb = bob
    order, lines = _delivered(db, ca)
    base = {"reason": "too_small", "note": "", "refund_method": RefundMethod.ORIGINAL, "photo_ids": [],
            "expected_amount_cents": 5000}
    # More than was delivered; a line of another order; a changed amount
    with pytest.raises(Invalid):
        returns.start_return(db, principal=pa, order_id=order.id, quantities={lines[1].id: 2}, **base)
    _other, other_lines = _delivered(db, ca)
    with pytest.raises(NotFound):
        returns.start_return(db, principal=pa, order_id=order.id, quantities={other_lines[0].id: 1}, **base)
    with pytest.raises(NotAllowed):
        returns.start_return(db, principal=pa, order_id=order.id, quantities={lines[0].id: 2}, **base)
    # "Other" needs a note
    with pytest.raises(Invalid):
        returns.start_return(db, principal=pa, order_id=order.id, quantities={lines[0].id: 1},
                             **{**base, "reason": "other"})
    # Bob cannot return Alice's order
    with pytest.raises(NotFound):
        returns.start_return(db, principal=pb, order_id=order.id, quantities={lines[0].id: 1}, **base)
    # Outside the return window, and before delivery
    late, late_lines = _delivered(db, ca, days=31)
    assert orders.order_detail(db, principal=pa, order_id=late.id).actions["return"] == "return_window_closed"
    with pytest.raises(NotAllowed):
        returns.quote_return(db, principal=pa, order_id=late.id, quantities={late_lines[0].id: 1},
                             refund_method=RefundMethod.ORIGINAL)
    paid = make_variant_order(db, ca, [(make_product(db)[0], 1)])
    assert orders.order_detail(db, principal=pa, order_id=paid.id).actions["return"] == "not_delivered"
    db.rollback()
    assert db.exec(select(Return)).first() is None


def test_return_photos_are_checked_and_private_to_their_owner(db: Session, alice: Any, bob: Any) -> None:
    pa, _ca = alice
    pb, _ = bob
    # The bytes must be what the type says, and of an allowed type and size
    for ctype, data in (("image/png", b"GIF89a not a png"), ("image/gif", b"GIF89a"), ("text/html", b"<html>"),
                        ("image/jpeg", JPEG + b"\x00" * 6_000_000)):
        with pytest.raises(Invalid):
            returns.stage_photo(db, principal=pa, filename="x", content_type=ctype, data=data)
    photo = returns.stage_photo(db, principal=pa, filename="tear.jpg", content_type="image/jpeg", data=JPEG)
    db.commit()
    # Bob can neither discard Alice's staged photo nor attach it to his return
    with pytest.raises(NotFound):
        returns.discard_photo(db, principal=pb, photo_id=photo.id)
    order, lines = _delivered(db, _cb_of(db, pb))
    with pytest.raises(NotFound):
        returns.start_return(db, principal=pb, order_id=order.id, quantities={lines[0].id: 1}, reason="damaged",
                             note="", refund_method=RefundMethod.ORIGINAL, photo_ids=[photo.id or 0],
                             expected_amount_cents=5000)
    db.rollback()
    # Alice can discard it; the file goes with it
    returns.discard_photo(db, principal=pa, photo_id=photo.id)
    db.commit()
    assert db.get(ReturnPhoto, photo.id) is None


def _cb_of(db: Session, principal: Any) -> Any:
    from portal.models import Customer

    return db.get(Customer, principal.customer_id)


def test_someone_elses_return_label_is_not_found(db: Session, alice: Any, bob: Any) -> None:
    pa, ca = alice
    pb, _ = bob
    order, lines = _delivered(db, ca)
    ret = returns.start_return(db, principal=pa, order_id=order.id, quantities={lines[0].id: 1}, reason="damaged",
                               note="", refund_method=RefundMethod.ORIGINAL, photo_ids=[],
                               expected_amount_cents=5000)
    db.commit()
    for forged in (ret.id, 999_999, str(ret.id), None):
        with pytest.raises(NotFound):
            returns.return_label(db, principal=pb, return_id=forged)
    doc = db.get(Document, ret.label_document_id)
    assert doc is not None and doc.customer_id == ca.id


def test_staff_and_strangers_are_refused(db: Session, alice: Any) -> None:
    from tests.factories import make_staff

    _pa, ca = alice
    order = make_variant_order(db, ca, [(make_product(db)[0], 1)])
    agent = principal_for(make_staff(db))
    for call in (lambda p: orders.list_orders(db, principal=p),
                 lambda p: order_actions.cancel_order(db, principal=p, order_id=order.id, reason="other")):
        with pytest.raises(DomainError) as err:
            call(agent)
        assert err.value.code == ErrorCode.FORBIDDEN
        with pytest.raises(DomainError):
            call(None)


def test_remaining_refusals_nothing_to_return_no_variants_amount_changed(db: Session, alice: Any) -> None:
    pa, ca = alice
    # Everything returned already: nothing left to return
    order, lines = _delivered(db, ca)
    returns.start_return(db, principal=pa, order_id=order.id, quantities={lines[0].id: 2, lines[1].id: 1},
                         reason="changed_mind", note="", refund_method=RefundMethod.ORIGINAL, photo_ids=[],
                         expected_amount_cents=15000)
    db.commit()
    assert orders.order_detail(db, principal=pa, order_id=order.id).actions["return"] == "nothing_to_return"
    # The amount shown is not the amount now: nothing is submitted
    other, other_lines = _delivered(db, ca)
    with pytest.raises(NotAllowed) as err:
        returns.start_return(db, principal=pa, order_id=other.id, quantities={other_lines[0].id: 1},
                             reason="damaged", note="", refund_method=RefundMethod.STORE_CREDIT, photo_ids=[],
                             expected_amount_cents=5000)
    assert err.value.reason == "amount_changed"
    db.rollback()
    # A product with one variant only: no other size or colour to change to
    single = make_product(db, sizes=("One size",))
    paid = make_variant_order(db, ca, [(single[0], 1)])
    assert orders.order_detail(db, principal=pa, order_id=paid.id).actions["change_variant"] == "no_other_variants"


def test_reorder_follows_the_policy_too(db: Session, alice: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    pa, ca = alice
    policy = order_policy.parse_policy({"allowed_states": {"reorder": ["delivered"]}})
    monkeypatch.setattr(order_actions, "current_policy", lambda: policy)
    cancelled = make_variant_order(db, ca, [(make_product(db)[0], 1)], status=OrderStatus.CANCELLED)
    with pytest.raises(NotAllowed) as err:
        order_actions.reorder_draft(db, principal=pa, order_id=cancelled.id)
    assert err.value.reason == "order_cancelled"


def test_store_credit_bonus_and_return_window_come_from_the_policy(db: Session, alice: Any,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    pa, ca = alice
    generous = order_policy.parse_policy({"store_credit_bonus_percent": 25, "return_window_days": 60,
                                          "allowed_states": {"return": ["delivered"]}})
    monkeypatch.setattr(returns, "current_policy", lambda: generous)
    monkeypatch.setattr(orders, "current_policy", lambda: generous)
    order, lines = _delivered(db, ca, days=45)  # outside 30 days, inside 60
    quote = returns.quote_return(db, principal=pa, order_id=order.id, quantities={lines[0].id: 1},
                                 refund_method=RefundMethod.STORE_CREDIT)
    assert (quote.refund_cents, quote.bonus_cents) == (5000, 1250)


def test_a_return_can_be_called_off_before_its_parcel_is_sent(db: Session, alice: Any, bob: Any) -> None:
    pa, ca = alice
    pb, _ = bob
    order, lines = _delivered(db, ca)
    quantities = {lines[0].id: 2}
    ret = returns.start_return(db, principal=pa, order_id=order.id, quantities=quantities, reason="too_small",
                               note="", refund_method=RefundMethod.ORIGINAL, photo_ids=[],
                               expected_amount_cents=10000)
    db.commit()
    assert orders.order_detail(db, principal=pa, order_id=order.id).returnable[lines[0].id] == 0
    # Bob cannot call off Alice's return: it does not exist for him
    with pytest.raises(NotFound):
        returns.cancel_return(db, principal=pb, return_id=ret.id)
    # Alice can, and the items can be returned again
    returns.cancel_return(db, principal=pa, return_id=ret.id)
    db.commit()
    assert db.get(Return, ret.id).status == ReturnStatus.CANCELLED  # type: ignore[union-attr]
    detail = orders.order_detail(db, principal=pa, order_id=order.id)
    assert detail.returnable[lines[0].id] == 2 and detail.actions["return"] == ""
    _trail(db, order, "return_cancelled", "return.cancel", "return.cancelled")
    # Twice is refused with a reason, as is a return whose parcel is already on its way back
    with pytest.raises(NotAllowed) as twice:
        returns.cancel_return(db, principal=pa, return_id=ret.id)
    assert twice.value.reason == "return_cancelled"
    again = returns.start_return(db, principal=pa, order_id=order.id, quantities={lines[0].id: 1},
                                 reason="too_small", note="", refund_method=RefundMethod.ORIGINAL, photo_ids=[],
                                 expected_amount_cents=5000)
    again.status = ReturnStatus.IN_TRANSIT
    db.add(again)
    db.commit()
    with pytest.raises(NotAllowed) as sent:
        returns.cancel_return(db, principal=pa, return_id=again.id)
    assert sent.value.reason == "return_on_its_way"
    for forged in ("1", None, True, -1, 10**9):
        with pytest.raises(NotFound):
            returns.cancel_return(db, principal=pa, return_id=forged)
