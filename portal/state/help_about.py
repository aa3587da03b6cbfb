"""The words around a "Get help with this" situation: the ticket's subject and the facts in its
body, and the one line a live chat shows as its context. The facts come from the domain
(portal.domain.help_context), which checked that the thing is the customer's."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from portal.domain.help_context import Money, Situation
from portal.format import day_time, humanize, money
from portal.i18n import N_, tr, tr_n
from portal.models import ORDER_STATUS_LABELS, TAG_LABELS
from portal.state.shipment_advice import advice

_SUBJECTS = {
    "shipment.late": N_("Parcel {ref} is {days} late"),
    "shipment.delayed": N_("Parcel {ref} is delayed by {days}"),
    "shipment.attempt_failed": N_("Parcel {ref} could not be delivered"),
    "shipment.customs": N_("Parcel {ref} is held at customs"),
    "shipment.problem": N_("Problem with parcel {ref}: {problem}"),
    "shipment.delivered": N_("Question about delivered parcel {ref}"),
    "shipment.on_its_way": N_("Question about parcel {ref}"),
    "order.not_shipped": N_("Order {ref} has not shipped yet"),
    "order.on_its_way": N_("Question about order {ref}, on its way"),
    "order.delivered": N_("Question about delivered order {ref}"),
    "order.cancelled": N_("Question about cancelled order {ref}"),
    "order.returned": N_("Question about returned order {ref}"),
    "invoice.overdue": N_("Invoice {ref} is overdue"),
    "invoice.open": N_("Question about invoice {ref}"),
    "invoice.paid": N_("Question about paid invoice {ref}"),
    "invoice.void": N_("Question about cancelled invoice {ref}"),
    "return.refund_pending": N_("Refund for return {ref} not received yet"),
    "return.in_progress": N_("Question about return {ref}"),
    "return.refunded": N_("Question about the refund for return {ref}"),
    "return.rejected": N_("Question about return {ref}, not accepted"),
}
_GENERAL = N_("Question about {ref}")
_FACTS = {
    "tracking": N_("Tracking"),
    "order": N_("Order"),
    "tag": N_("Status"),
    "carrier_says": N_("Carrier says"),
    "expected": N_("Expected delivery"),
    "originally_expected": N_("Originally expected"),
    "delivered": N_("Delivered"),
    "last_scan": N_("Last scan"),
    "last_scan_at": N_("Last scan at"),
    "placed": N_("Placed"),
    "order_status": N_("Status"),
    "total": N_("Total"),
    "items": N_("Items"),
    "invoice": N_("Invoice"),
    "issued": N_("Issued"),
    "due": N_("Due"),
    "invoice_status": N_("Status"),
    "balance": N_("Still to pay"),
    "return": N_("Return"),
    "requested": N_("Requested"),
    "return_status": N_("Status"),
    "reason": N_("Reason"),
    "received": N_("Received by us"),
    "refund": N_("Refund"),
    "refund_method": N_("Refund to"),
    "refunded": N_("Refunded"),
}


def subject(s: Situation) -> str:
    problem = advice("Exception", s.subtag, "").title.lower() if s.code == "shipment.problem" else ""
    days = tr_n("{n} day", "{n} days", s.days)
    return tr(_SUBJECTS.get(s.code, _GENERAL), ref=s.reference, days=days, problem=problem)


def _value(code: str, value: Any) -> str:
    if isinstance(value, datetime):
        return day_time(value)
    if isinstance(value, Money):
        return money(value.cents, value.currency)
    if code == "tag":
        return tr(TAG_LABELS[value]) if value in TAG_LABELS else humanize(str(value))
    if code == "order_status":
        return tr(ORDER_STATUS_LABELS[value]) if value in ORDER_STATUS_LABELS else humanize(str(value))
    if code in ("invoice_status", "return_status", "refund_method"):
        return humanize(str(value))
    return str(value)


def facts(s: Situation) -> str:
    return "\n".join(f"{tr(_FACTS[code]) if code in _FACTS else humanize(code)}: {_value(code, v)}"
                     for code, v in s.facts)


def body(s: Situation) -> str:
    """The ticket's first message: what is going on, then the facts, then room for their words."""
    return f"{subject(s)}.\n\n{facts(s)}\n\n"


def help_href(about: str) -> str:
    return f"/support/new?about={about}"
