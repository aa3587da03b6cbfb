"""The words around a "Get help with this" situation: the ticket's subject and the facts in its
body, and the one line a live chat shows as its context. The facts come from the domain
(portal.domain.help_context), which checked that the thing is the customer's."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from portal.domain.help_context import Money, Situation
from portal.format import day_time, humanize, money, plural
from portal.models import ORDER_STATUS_LABELS, TAG_LABELS
from portal.state.shipment_advice import advice

_SUBJECTS = {
    "shipment.late": "Parcel {ref} is {days} late",
    "shipment.delayed": "Parcel {ref} is delayed by {days}",
    "shipment.attempt_failed": "Parcel {ref} could not be delivered",
    "shipment.customs": "Parcel {ref} is held at customs",
    "shipment.problem": "Problem with parcel {ref}: {problem}",
    "shipment.delivered": "Question about delivered parcel {ref}",
    "shipment.on_its_way": "Question about parcel {ref}",
    "order.not_shipped": "Order {ref} has not shipped yet",
    "order.on_its_way": "Question about order {ref}, on its way",
    "order.delivered": "Question about delivered order {ref}",
    "order.cancelled": "Question about cancelled order {ref}",
    "order.returned": "Question about returned order {ref}",
    "invoice.overdue": "Invoice {ref} is overdue",
    "invoice.open": "Question about invoice {ref}",
    "invoice.paid": "Question about paid invoice {ref}",
    "invoice.void": "Question about cancelled invoice {ref}",
    "return.refund_pending": "Refund for return {ref} not received yet",
    "return.in_progress": "Question about return {ref}",
    "return.refunded": "Question about the refund for return {ref}",
    "return.rejected": "Question about return {ref}, not accepted",
}
_FACTS = {
    "tracking": "Tracking", "order": "Order", "tag": "Status", "carrier_says": "Carrier says",
    "expected": "Expected delivery", "originally_expected": "Originally expected", "delivered": "Delivered",
    "last_scan": "Last scan", "last_scan_at": "Last scan at", "placed": "Placed", "order_status": "Status",
    "total": "Total", "items": "Items", "invoice": "Invoice", "issued": "Issued", "due": "Due",
    "invoice_status": "Status", "balance": "Still to pay", "return": "Return", "requested": "Requested",
    "return_status": "Status", "reason": "Reason", "received": "Received by us", "refund": "Refund",
    "refund_method": "Refund to", "refunded": "Refunded",
}


def subject(s: Situation) -> str:
    problem = advice("Exception", s.subtag, "").title.lower() if s.code == "shipment.problem" else ""
    return _SUBJECTS.get(s.code, "Question about {ref}").format(ref=s.reference, days=plural(s.days, "day"),
                                                                problem=problem)


def _value(code: str, value: Any) -> str:
    if isinstance(value, datetime):
        return day_time(value)
    if isinstance(value, Money):
        return money(value.cents, value.currency)
    if code == "tag":
        return TAG_LABELS.get(value, humanize(str(value)))  # type: ignore[call-overload, no-any-return]
    if code == "order_status":
        return ORDER_STATUS_LABELS.get(value, humanize(str(value)))  # type: ignore[call-overload, no-any-return]
    if code in ("invoice_status", "return_status", "refund_method"):
        return humanize(str(value))
    return str(value)


def facts(s: Situation) -> str:
    return "\n".join(f"{_FACTS.get(code, humanize(code))}: {_value(code, v)}" for code, v in s.facts)


def body(s: Situation) -> str:
    """The ticket's first message: what is going on, then the facts, then room for their words."""
    return f"{subject(s)}.\n\n{facts(s)}\n\n"


def help_href(about: str) -> str:
    return f"/support/new?about={about}"
