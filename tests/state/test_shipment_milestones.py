"""The milestones a customer sees on the shipment timeline."""

from __future__ import annotations

from datetime import timedelta

from portal.db import utcnow
from portal.models import TrackingEventPublic
from portal.state.shipments import milestones, window_text


def ev(i: int, subtag: str) -> TrackingEventPublic:
    return TrackingEventPublic(id=i, occurred_at=utcnow() - timedelta(hours=20 - i), tag=subtag.split("_")[0],
                               subtag=subtag, message="", location="")


def states(rows: list) -> list[tuple[str, str]]:
    return [(r.label, r.state) for r in rows]


def test_a_parcel_in_transit() -> None:
    rows = milestones("InTransit", [ev(2, "InTransit_003"), ev(1, "InTransit_002"), ev(0, "InfoReceived_001")])
    assert states(rows) == [("Info received", "done"), ("Picked up", "done"), ("In transit", "current"),
                            ("Out for delivery", "todo"), ("Delivered", "todo")]
    assert rows[0].when and not rows[3].when


def test_a_failed_attempt_then_delivery() -> None:
    rows = milestones("Delivered", [ev(i, s) for i, s in enumerate(
        ["InfoReceived_001", "InTransit_002", "InTransit_003", "OutForDelivery_001", "AttemptFail_002",
         "OutForDelivery_001", "Delivered_001"])])
    # In the order it happened: the attempt failed after going out, before the delivery
    assert states(rows) == [("Info received", "done"), ("Picked up", "done"), ("In transit", "done"),
                            ("Out for delivery", "done"), ("Failed attempt", "problem"), ("Delivered", "done")]


def test_ready_for_pickup_and_returned() -> None:
    pickup = milestones("AvailableForPickup", [ev(0, "InfoReceived_001"), ev(1, "AvailableForPickup_001")])
    assert states(pickup)[-1] == ("Ready for pickup", "current")
    returned = milestones("Exception", [ev(0, "InfoReceived_001"), ev(1, "Exception_007"), ev(2, "Exception_011")])
    assert states(returned) == [("Info received", "current"), ("Exception", "problem"), ("Returned", "problem")]
    # Not returned (yet): the way to the door is still ahead, after the problem
    held = milestones("Exception", [ev(0, "InfoReceived_001"), ev(1, "InTransit_002"), ev(2, "Exception_007")])
    assert states(held) == [("Info received", "done"), ("Picked up", "current"), ("Exception", "problem"),
                            ("In transit", "todo"), ("Out for delivery", "todo"), ("Delivered", "todo")]


def test_delivery_windows_read_naturally() -> None:
    start = utcnow().replace(hour=8, minute=0)
    assert window_text(start, start + timedelta(hours=10)).endswith("08:00–18:00")
    assert " – " in window_text(start, start + timedelta(days=2))
    assert window_text(None, None) == ""
