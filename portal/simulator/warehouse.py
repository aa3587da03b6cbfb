"""The demo's warehouse (development only, never in production): keeps a few parcels on their way.

The demo's open shipments are all delivered a few minutes after `make run`. So that a person
who looks later still sees parcels move (and the failed-attempt, out-for-delivery and pickup
states), every tick of the carrier simulator tops up the shipments in motion:

1. an order waiting to ship (paid, packed, or placed) is handed to its carrier: a shipment with
   the carrier's first checkpoint, the order marked shipped, as the real warehouse system would
   report it;
2. when no order waits, a demo customer orders again one of their delivered orders, through the
   portal's own reorder (so it is a real order with its trail), and it ships on a later tick.

The simulator then carries each new shipment on, one checkpoint every
CARRIER_SIMULATOR_STEP_SECONDS, by signed webhooks through the real route.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import datetime, timedelta

from sqlmodel import Session, col, func, select

from portal.db import utcnow
from portal.domain import events
from portal.domain.errors import DomainError
from portal.domain.events import DomainEvent, Topic
from portal.domain.principal import Principal
from portal.models import Address, Order, OrderEvent, OrderStatus, Shipment, TrackingEvent, User
from portal.seed.demo import CARRIER_NAMES, DEFAULT_CARRIER, DEMO_LOGINS, ROUTES
from portal.settings import get_settings

log = logging.getLogger(__name__)

# How many demo parcels are kept on their way at any time.
IN_MOTION = 3
_DONE_TAGS = ("Delivered", "Expired", "Exception")
_WAITING = (OrderStatus.PLACED, OrderStatus.PAID, OrderStatus.PACKED)


def in_motion(db: Session) -> int:
    return int(db.exec(select(func.count()).select_from(Shipment)
                       .where(col(Shipment.tag).not_in(_DONE_TAGS))).one())


def _demo_customer_ids(db: Session) -> list[int]:
    emails = [email for email, who in DEMO_LOGINS if who.startswith("customer")]
    users = db.exec(select(User).where(col(User.email).in_(emails), col(User.customer_id).is_not(None))).all()
    return sorted(u.customer_id for u in users if u.customer_id is not None and u.closed_at is None)


def _tracking_number(db: Session, carrier: str) -> str:
    digits = lambda n: "".join(str(secrets.randbelow(10)) for _ in range(n))  # noqa: E731
    makers = {"royal-mail": lambda: f"TT{digits(9)}GB", "dpd": lambda: f"155{digits(11)}",
              "dhl": lambda: f"00340434{digits(12)}", "postnl": lambda: f"3SFHOL{digits(7)}"}
    make = makers.get(carrier, lambda: f"DEMO{digits(12)}")
    while True:
        number = make()
        if db.exec(select(Shipment.id).where(Shipment.tracking_number == number)).first() is None:
            return number


def ship(db: Session, order: Order, *, now: datetime) -> Shipment:
    """Hand an order to its carrier: the shipment with the carrier's first checkpoint."""
    country = str((order.shipping_address or {}).get("country") or "NL")
    carrier = DEFAULT_CARRIER.get(country, "dhl")
    route = ROUTES.get((carrier, country))
    origin = route.origin if route else "Venlo, NL"
    name = route.name if route else CARRIER_NAMES.get(carrier, carrier.upper())
    due = (now + timedelta(days=1 if country == "GB" else 2)).replace(hour=8, minute=0, second=0, microsecond=0)
    shipment = Shipment(order_id=order.id or 0, customer_id=order.customer_id, carrier=carrier, carrier_name=name,
                        tracking_number=_tracking_number(db, carrier), tag="InfoReceived", subtag="InfoReceived_001",
                        subtag_message="Info received", expected_delivery_start=due,
                        expected_delivery_end=due + timedelta(hours=10),
                        original_expected_delivery=due + timedelta(hours=10),
                        provider_updated_at=now, next_poll_at=now + timedelta(hours=2), created_at=now, updated_at=now)
    db.add(shipment)
    db.flush()
    message = f"Shipment information received from {get_settings().portal_business_name}"
    db.add(TrackingEvent(shipment_id=shipment.id or 0,
                         checkpoint_key=hashlib.sha256(f"{now.isoformat()}|{shipment.tracking_number}".encode())
                         .hexdigest()[:40],
                         occurred_at=now, tag="InfoReceived", subtag="InfoReceived_001", message=message,
                         location=origin, raw={"slug": carrier, "checkpoint_time": now.isoformat(),
                                               "tag": "InfoReceived", "subtag": "InfoReceived_001",
                                               "message": message, "location": origin},
                         created_at=now))
    order.status = OrderStatus.SHIPPED
    order.updated_at = now
    db.add(order)
    db.add(OrderEvent(order_id=order.id or 0, kind="shipped", actor_kind="system", created_at=now,
                      message=f"Handed to {name}, tracking number {shipment.tracking_number}",
                      data={"carrier": carrier, "tracking_number": shipment.tracking_number}))
    events.emit(db, DomainEvent(topic=Topic.ORDERS, customer_id=order.customer_id, data={"order_id": order.id}))
    events.emit(db, DomainEvent(topic=Topic.SHIPMENTS, customer_id=order.customer_id,
                                data={"shipment_id": shipment.id, "order_id": order.id}))
    return shipment


def _reorder(db: Session, customer_id: int) -> Order | None:
    """The customer orders again their latest delivered order that can still be ordered."""
    from portal.domain import order_actions

    user = db.exec(select(User).where(User.customer_id == customer_id, User.role == "customer")).first()
    address = db.exec(select(Address).where(Address.customer_id == customer_id)
                      .order_by(col(Address.is_default_shipping).desc())).first()
    if user is None or user.id is None or address is None:
        return None
    who = Principal(user_id=user.id, role=user.role, email=user.email, name=user.full_name, customer_id=customer_id)
    delivered = db.exec(select(Order).where(Order.customer_id == customer_id, Order.status == OrderStatus.DELIVERED)
                        .order_by(col(Order.placed_at).desc()).limit(5)).all()
    for past in delivered:
        try:
            draft = order_actions.reorder_draft(db, principal=who, order_id=past.id)
            if not draft.lines:
                continue
            review = order_actions.review_order(db, principal=who, lines=draft.lines, address_id=address.id)
            return order_actions.place_order(db, principal=who, lines=draft.lines, address_id=address.id,
                                             expected_total_cents=review.total_cents, reordered_from=past.id)
        except DomainError:
            continue
    return None


def keep_moving(db: Session, *, now: datetime | None = None, target: int = IN_MOTION) -> int:
    """Start shipments until `target` are on their way. Returns how many were started."""
    now = now or utcnow()
    customers = _demo_customer_ids(db)
    if not customers:
        return 0  # not the demo company: nothing of ours to move
    started = 0
    for _ in range(max(0, target - in_motion(db))):
        waiting = db.exec(select(Order).where(col(Order.customer_id).in_(customers), col(Order.status).in_(_WAITING))
                          .where(~col(Order.id).in_(select(Shipment.order_id)))
                          .order_by(col(Order.placed_at))).first()
        if waiting is None:
            # The customer with the fewest parcels on their way orders again (shipped next tick).
            moving = dict(db.exec(select(Shipment.customer_id, func.count()).where(col(Shipment.tag).not_in(_DONE_TAGS))
                                  .group_by(col(Shipment.customer_id))).all())
            for cid in sorted(customers, key=lambda c: (moving.get(c, 0), c)):
                if _reorder(db, cid) is not None:
                    break
            break
        ship(db, waiting, now=now)
        started += 1
    return started
