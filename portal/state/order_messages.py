"""Wording for order self-service: why an action is not possible, and what to fix in a form."""

from __future__ import annotations

from portal.domain.errors import DomainError
from portal.domain.order_wording import REASONS
from portal.state.messages import message_for

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


def order_message(err: DomainError) -> str:
    if err.code == "not_allowed":
        reason = str(err.data.get("reason", ""))
        text = REASONS.get(reason, REASONS["not_allowed"])
        return f"That is not possible: {text}."
    if err.code == "invalid":
        field = str(err.data.get("field", ""))
        if field == "quantity" and isinstance(err.data.get("max"), int):
            return f"Choose a quantity between 1 and {err.data['max']} for each item (the limit per order line)."
        if field in FIELDS:
            return FIELDS[field]
    return message_for(err.code)
