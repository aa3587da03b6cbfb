"""Wording for order self-service: why an action is not possible, and what to fix in a form."""

from __future__ import annotations

from portal.domain.errors import DomainError
from portal.state.messages import message_for

REASONS: dict[str, str] = {
    "already_dispatched": "it has already been handed to the carrier",
    "already_packed": "it has already been packed",
    "order_cancelled": "the order is cancelled",
    "not_delivered": "returns open once the order has been delivered",
    "return_window_closed": "the return window for this order has closed",
    "nothing_to_return": "everything in it has already been returned or is on its way back",
    "carrier_has_no_windows": "the carrier for this order does not offer delivery windows",
    "no_other_variants": "no other size or colour of these items is in stock at the same price",
    "variant_unavailable": "that size or colour is no longer available",
    "prices_changed": "prices or stock changed since you reviewed it; please check the review again",
    "out_of_stock": "there is not enough in stock",
    "amount_changed": "the refund amount changed; please check it again",
    "not_allowed": "the order is not in a state that allows it",
}

ACTION_LABELS: dict[str, str] = {
    "cancel": "This order can no longer be cancelled",
    "change_address": "The delivery address can no longer be changed",
    "change_variant": "Sizes and colours can no longer be changed",
    "delivery_window": "A delivery window cannot be chosen",
    "return": "A return cannot be started",
    "reorder": "This order cannot be ordered again",
}

FIELDS: dict[str, str] = {
    "name": "Enter the name of the person receiving the parcel.",
    "line1": "Enter the street and house number.",
    "city": "Enter the town or city.",
    "postal_code": "Enter the postcode.",
    "country": "Enter the two-letter country code, for example NL or GB.",
    "address": "Choose a different address from the one the order goes to now.",
    "reason": "Choose a reason.",
    "note": "Tell us briefly why (up to 500 characters).",
    "lines": "Choose at least one item, and no more than can be returned.",
    "quantity": "Choose a quantity between 1 and what is in stock.",
    "refund_method": "Choose how you want to be refunded.",
    "photos": "Photos must be JPEG, PNG or WebP images of at most 5 MB, up to 4 per return.",
    "window": "Choose one of the windows offered.",
    "query": "Search for at most 100 characters.",
    "status": "Choose a status from the list.",
    "date_to": "The end date must be on or after the start date.",
}


def why_not(action: str, reason: str) -> str:
    if not reason:
        return ""
    return f"{ACTION_LABELS.get(action, 'Not possible')}: {REASONS.get(reason, REASONS['not_allowed'])}."


def order_message(err: DomainError) -> str:
    if err.code == "not_allowed":
        reason = str(err.data.get("reason", ""))
        text = REASONS.get(reason, REASONS["not_allowed"])
        return f"That is not possible: {text}."
    if err.code == "invalid":
        field = str(err.data.get("field", ""))
        if field in FIELDS:
            return FIELDS[field]
    return message_for(err.code)
