"""Wording for order self-service: why an action is not possible, and what to fix in a form."""

from __future__ import annotations

from portal.domain.errors import DomainError
from portal.domain.order_wording import REASONS
from portal.i18n import N_, tr
from portal.state.messages import message_for

FIELDS: dict[str, str] = {
    "name": N_("Enter the name of the person receiving the parcel."),
    "line1": N_("Enter the street and house number."),
    "city": N_("Enter the town or city."),
    "postal_code": N_("Enter the postcode."),
    "country": N_("Enter the two-letter country code, for example NL or GB."),
    "address": N_("Choose a different address from the one the order goes to now."),
    "reason": N_("Choose a reason."),
    "note": N_("Tell us briefly why (up to 500 characters)."),
    "lines": N_("Choose at least one item, and no more than can be returned."),
    "quantity": N_("Choose a quantity between 1 and what is in stock."),
    "refund_method": N_("Choose how you want to be refunded."),
    "photos": N_("Photos must be JPEG, PNG or WebP images of at most 5 MB, up to 4 per return."),
    "window": N_("Choose one of the windows offered."),
    "query": N_("Search for at most 100 characters."),
    "status": N_("Choose a status from the list."),
    "date_to": N_("The end date must be on or after the start date."),
}


def order_message(err: DomainError) -> str:
    if err.code == "not_allowed":
        reason = str(err.data.get("reason", ""))
        text = REASONS.get(reason, REASONS["not_allowed"])
        return tr("That is not possible: {reason}.", reason=tr(text))
    if err.code == "invalid":
        field = str(err.data.get("field", ""))
        if field == "quantity" and isinstance(err.data.get("max"), int):
            return tr("Choose a quantity between 1 and {max} for each item (the limit per order line).",
                      max=err.data["max"])
        if field in FIELDS:
            return tr(FIELDS[field])
    return message_for(err.code)
