"""How order self-service is put into words: why an action is not possible now, and the reasons a
customer can pick. Shared by the order pages and the assistant, so both say the same thing.

The tables are English, marked for the catalogs (N_); they are translated where shown, with
`tr(REASONS[code])` on the server or `t(label)` in a page (values stay English str: code compares
and parses them)."""

from __future__ import annotations

from portal.i18n import N_, tr

REASONS: dict[str, str] = {
    "already_dispatched": N_("it has already been handed to the carrier"),
    "already_packed": N_("it has already been packed"),
    "order_cancelled": N_("the order is cancelled"),
    "not_delivered": N_("returns open once the order has been delivered"),
    "return_window_closed": N_("the return window for this order has closed"),
    "nothing_to_return": N_("everything in it has already been returned or is on its way back"),
    "carrier_has_no_windows": N_("the carrier for this order does not offer delivery windows"),
    "no_other_variants": N_("no other size or colour of these items is in stock at the same price"),
    "variant_unavailable": N_("that size or colour is no longer available"),
    "prices_changed": N_("prices or stock changed since you reviewed it; please check the review again"),
    "out_of_stock": N_("there is not enough in stock"),
    "amount_changed": N_("the refund amount changed; please check it again"),
    "not_allowed": N_("the order is not in a state that allows it"),
    "return_on_its_way": N_("the parcel is already on its way back to us, or has arrived"),
    "return_cancelled": N_("it is already cancelled"),
}

ACTION_LABELS: dict[str, str] = {
    "cancel": N_("This order can no longer be cancelled"),
    "change_address": N_("The delivery address can no longer be changed"),
    "change_variant": N_("Sizes and colours can no longer be changed"),
    "delivery_window": N_("A delivery window cannot be chosen"),
    "return": N_("A return cannot be started"),
    "reorder": N_("This order cannot be ordered again"),
}

CANCEL_REASON_LABELS = {
    "no_longer_needed": N_("I no longer need it"), "ordered_by_mistake": N_("I ordered it by mistake"),
    "found_better_price": N_("I found a better price"), "delivery_too_slow": N_("Delivery takes too long"),
    "other": N_("Another reason"),
}
RETURN_REASON_LABELS = {
    "too_small": N_("Too small"), "too_large": N_("Too large"), "not_as_described": N_("Not as described"),
    "damaged": N_("Arrived damaged"), "changed_mind": N_("Changed my mind"), "other": N_("Another reason"),
}
NOT_POSSIBLE = N_("Not possible")


def why_not(action: str, reason: str) -> str:
    if not reason:
        return ""
    return tr("{action}: {reason}.", action=tr(ACTION_LABELS.get(action, NOT_POSSIBLE)),
              reason=tr(REASONS.get(reason, REASONS["not_allowed"])))


def event_text(kind: str, data: dict | None, stored: str) -> str:
    """An order history entry in the reader's language.

    The entry's sentence is stored as it was written (by the customer's action in their language, by
    a job or an integration in English). English readers see it as stored; a reader of another
    language sees the entry worded again from its kind and data where the data carries what the
    sentence said, else the stored sentence."""
    from portal import format as fmt
    from portal.i18n import current_language

    if current_language() == "en":
        return stored
    d = data or {}
    if kind == "placed":
        return tr("Order placed")
    if kind == "paid" and isinstance(d.get("amount_cents"), int):
        method = str(d.get("method_label") or "")
        amount = fmt.money(d["amount_cents"])
        return (tr("Payment of {amount} received ({method})", amount=amount, method=method) if method
                else tr("Payment of {amount} received", amount=amount))
    if kind == "packed" and d.get("warehouse"):
        return tr("Packed at our {warehouse} warehouse", warehouse=str(d["warehouse"]))
    if kind == "shipped" and d.get("tracking_number"):
        return tr("Handed to the carrier, tracking number {number}", number=str(d["tracking_number"]))
    if kind == "out_for_delivery":
        return tr("Out for delivery")
    if kind == "delivery_attempt_failed":
        return tr("Delivery attempted, nobody was home; the carrier will try again on the next working day")
    if kind == "delivered":
        return tr("Delivered")
    if kind == "cancelled":
        return tr("Order cancelled")
    if kind == "delivery_delayed" and d.get("expected_delivery_end"):
        from datetime import datetime

        try:
            when = datetime.fromisoformat(str(d["expected_delivery_end"]))
        except ValueError:
            return stored
        return tr("The carrier now expects to deliver on {date}", date=fmt.weekday_day(when))
    return stored
