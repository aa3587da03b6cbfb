"""A shipment's timeline as its owner sees it, refreshed live while the page is open."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

import reflex as rx

from portal.db import session_scope, utcnow
from portal.domain import help_context, tracking
from portal.domain.errors import DomainError
from portal.domain.events import DomainEvent, Topic
from portal.domain.principal import Principal
from portal.format import day, day_time
from portal.i18n import N_, tr
from portal.live.push import listens
from portal.models import TAG_LABELS, TrackingEventPublic, TrackingTag
from portal.state import tab
from portal.state.base import PortalState, loop_first
from portal.state.guard import Access, access, current_principal
from portal.state.messages import message_for_error
from portal.state.shipment_advice import advice, late_advice, status_line

NOT_A_SHIPMENT = N_("That is not a shipment we know.")

# Badge colours by carrier status (reuses the order status palette of components.common).
TAG_STATUS = {
    TrackingTag.PENDING: "placed", TrackingTag.INFO_RECEIVED: "packed", TrackingTag.IN_TRANSIT: "shipped",
    TrackingTag.OUT_FOR_DELIVERY: "out_for_delivery", TrackingTag.ATTEMPT_FAIL: "returned",
    TrackingTag.DELIVERED: "delivered", TrackingTag.AVAILABLE_FOR_PICKUP: "out_for_delivery",
    TrackingTag.EXCEPTION: "cancelled", TrackingTag.EXPIRED: "placed",
}
RETURNED = ("Exception_010", "Exception_011")


@dataclasses.dataclass
class ShipmentView:
    carrier: str = ""
    tracking_number: str = ""
    order_number: str = ""
    order_href: str = ""
    status: str = ""
    status_label: str = ""
    detail: str = ""
    expected: str = ""
    expected_label: str = "Expected delivery"
    slipped: bool = False
    original: str = ""
    delivered: str = ""
    # What a problem (or a failed attempt, a pickup) means and what to do: empty when all is well.
    advice_tone: str = ""
    advice_title: str = ""
    advice_text: str = ""
    advice_next: str = ""


@dataclasses.dataclass
class MilestoneRow:
    label: str
    state: str  # done, current, todo, problem
    when: str


@dataclasses.dataclass
class CheckpointRow:
    when: str
    label: str
    message: str
    location: str
    status: str


@dataclasses.dataclass
class ShipmentRow:
    id: int
    order_number: str
    carrier: str
    tracking_number: str
    status: str
    status_label: str
    detail: str
    expected: str


def _rank(ev: TrackingEventPublic) -> int | None:
    """Position on the happy path: info received, picked up, in transit, out for delivery, arrived."""
    if ev.tag == TrackingTag.INFO_RECEIVED:
        return 0
    if ev.tag == TrackingTag.IN_TRANSIT:
        return 1 if ev.subtag == "InTransit_002" else 2
    if ev.tag == TrackingTag.OUT_FOR_DELIVERY:
        return 3
    if ev.tag in (TrackingTag.DELIVERED, TrackingTag.AVAILABLE_FOR_PICKUP):
        return 4
    return None


def milestones(tag: str, events: list[TrackingEventPublic]) -> list[MilestoneRow]:
    """The timeline's milestones from the checkpoints (given newest first), in the order they
    happened: a failed attempt or a problem sits where it occurred, not after "Delivered"."""
    reached: dict[int, datetime] = {}
    top = -1
    pickup_ready = False
    problems: dict[str, datetime] = {}
    for ev in sorted(events, key=lambda e: e.occurred_at):
        r = _rank(ev)
        if r is not None:
            reached.setdefault(r, ev.occurred_at)
            top = max(top, r)
        if ev.tag == TrackingTag.AVAILABLE_FOR_PICKUP:
            pickup_ready = True
        if ev.tag == TrackingTag.ATTEMPT_FAIL:
            problems.setdefault(N_("Failed attempt"), ev.occurred_at)
        elif ev.tag == TrackingTag.EXCEPTION:
            problems.setdefault(N_("Returned") if ev.subtag in RETURNED else N_("Exception"), ev.occurred_at)
    delivered = tag == TrackingTag.DELIVERED
    # The labels stay English while the rows are worked out (compared below), translated in the rows.
    last = N_("Ready for pickup") if pickup_ready and not delivered else N_("Delivered")
    labels = [N_("Info received"), N_("Picked up"), N_("In transit"), N_("Out for delivery"), last]
    if pickup_ready and delivered:
        labels[3] = N_("Ready for pickup")
    # Sent back: the rest of the way to the door will not happen.
    returned = tag == TrackingTag.EXCEPTION and "Returned" in problems
    rows: list[tuple[MilestoneRow, datetime | None]] = []
    for i, label in enumerate(labels):
        when = reached.get(i)
        if i < top or (i == top and delivered):
            state = "done"
        elif i == top:
            state = "current"
        else:
            if returned:
                continue
            state = "todo"
        rows.append((MilestoneRow(label=tr(label), state=state, when=day_time(when) if when else ""), when))
    for label, when in sorted(problems.items(), key=lambda kv: kv[1]):
        # After every milestone reached by then; before the first reached later (or not yet).
        at = max((n + 1 for n, (_, t) in enumerate(rows) if t is not None and t <= when), default=0)
        rows.insert(at, (MilestoneRow(label=tr(label), state="problem", when=day_time(when)), when))
    return [row for row, _ in rows]


def window_text(start: datetime | None, end: datetime | None) -> str:
    if end is None:
        return ""
    if start is None:
        return tr("by {when}", when=day_time(end))
    if start.date() == end.date():
        return f"{day(end)}, {start:%H:%M}–{end:%H:%M}"
    return f"{day(start)} – {day(end)}"


@access(Access.CUSTOMER)
@listens(Topic.SHIPMENTS)
class ShipmentState(PortalState, rx.State):
    loaded: bool = False
    error: str = ""
    view: ShipmentView = ShipmentView()
    milestones: list[MilestoneRow] = []
    checkpoints: list[CheckpointRow] = []
    # What a screen reader says when the carrier's next scan arrives on the open page (a polite live
    # region, portal.pages.shipments): only pushed checkpoints, never the page's first load.
    announce: str = ""
    _shipment_id: int = 0

    @rx.event
    @loop_first
    def load(self) -> None:
        principal = self._me()
        # The id comes from the URL, so it is never trusted: the domain checks ownership.
        raw = tab.last_segment(self)
        # A fresh page (as after reset()), of which only what changed since the last visit is sent.
        if not raw.isdigit() or len(raw) > 12:
            self._reset_to(error=tr(NOT_A_SHIPMENT))
            return
        self._reset_to(_shipment_id=int(raw), **self._shown(principal, int(raw)))

    def _live(self, batch: list[DomainEvent]) -> None:
        if all(ev.data.get("shipment_id") not in (None, self._shipment_id) for ev in batch):
            return
        principal = current_principal()
        if principal is not None and principal.is_customer:
            before = len(self.checkpoints)
            self._set(**self._shown(principal, self._shipment_id))
            if self.loaded and len(self.checkpoints) > before:
                newest = self.checkpoints[0]
                self.announce = tr("New tracking update: {label}. {message}", label=newest.label,
                                   message=newest.message)

    def _shown(self, principal: Principal, shipment_id: int) -> dict[str, Any]:
        """The fields the page shows for this shipment (or the error instead)."""
        try:
            detail = self._view("shipment", shipment_id, (Topic.SHIPMENTS,), tracking.get_shipment,
                                shipment_id=shipment_id)
        except DomainError as err:
            return {"loaded": False, "error": message_for_error(err), "view": ShipmentView(), "milestones": [],
                    "checkpoints": []}
        s = detail.shipment
        end = s.expected_delivery_end
        tip = advice(s.tag, s.subtag, s.subtag_message)
        if not tip.tone:
            tip = late_advice(*help_context.shipment_code(s, utcnow()))
        slipped = (s.delivered_at is None and end is not None and s.original_expected_delivery is not None
                   and end.date() > s.original_expected_delivery.date())
        view = ShipmentView(
            carrier=s.carrier_name or s.carrier.upper(), tracking_number=s.tracking_number,
            order_number=detail.order_number, order_href=f"/orders/{s.order_id}",
            status=TAG_STATUS.get(s.tag, "placed"), status_label=tr(TAG_LABELS.get(s.tag, s.tag)),  # type: ignore[call-overload]
            detail=status_line(s.tag, s.subtag, s.subtag_message),
            advice_tone=tip.tone, advice_title=tip.title, advice_text=tip.explanation, advice_next=tip.next_step,
            expected=window_text(s.expected_delivery_start, end) if s.delivered_at is None else "",
            expected_label=tr("Expected delivery"),
            slipped=slipped, original=day(s.original_expected_delivery) if slipped else "",
            delivered=day_time(s.delivered_at) if s.delivered_at else "",
        )
        checkpoints = [
            CheckpointRow(when=day_time(c.occurred_at), label=tr(TAG_LABELS.get(c.tag, c.tag)),  # type: ignore[call-overload]
                          message=tr(c.message), location=c.location, status=TAG_STATUS.get(c.tag, "placed"))  # type: ignore[call-overload]
            for c in detail.checkpoints
        ]
        return {"view": view, "milestones": milestones(s.tag, detail.checkpoints), "checkpoints": checkpoints,
                "error": "", "loaded": True}


@access(Access.CUSTOMER)
@listens(Topic.SHIPMENTS)
class ShipmentsState(PortalState, rx.State):
    loaded: bool = False
    rows: list[ShipmentRow] = []

    @rx.event
    def load(self) -> None:
        self._reload()

    def _reload(self) -> None:
        with session_scope() as db:
            items = tracking.list_shipments(db, principal=self._me(), limit=50)
        self.rows = [
            ShipmentRow(id=i.id, order_number=i.order_number, carrier=i.carrier_name, tracking_number=i.tracking_number,
                        status=TAG_STATUS.get(i.tag, "placed"), status_label=tr(TAG_LABELS.get(i.tag, i.tag)),  # type: ignore[call-overload]
                        detail=status_line(i.tag, i.subtag, i.subtag_message),
                        expected=(tr("Delivered {day}", day=day(i.delivered_at)) if i.delivered_at else
                                  tr("Expected {day}", day=day(i.expected_delivery_end)) if i.expected_delivery_end
                                  else ""))
            for i in items
        ]
        self.loaded = True
