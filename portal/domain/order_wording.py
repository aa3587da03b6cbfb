"""How order self-service is put into words: why an action is not possible now, and the reasons a
customer can pick. Shared by the order pages and the assistant, so both say the same thing."""

from __future__ import annotations

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
    "return_on_its_way": "the parcel is already on its way back to us, or has arrived",
    "return_cancelled": "it is already cancelled",
}

ACTION_LABELS: dict[str, str] = {
    "cancel": "This order can no longer be cancelled",
    "change_address": "The delivery address can no longer be changed",
    "change_variant": "Sizes and colours can no longer be changed",
    "delivery_window": "A delivery window cannot be chosen",
    "return": "A return cannot be started",
    "reorder": "This order cannot be ordered again",
}

CANCEL_REASON_LABELS = {
    "no_longer_needed": "I no longer need it", "ordered_by_mistake": "I ordered it by mistake",
    "found_better_price": "I found a better price", "delivery_too_slow": "Delivery takes too long",
    "other": "Another reason",
}
RETURN_REASON_LABELS = {
    "too_small": "Too small", "too_large": "Too large", "not_as_described": "Not as described",
    "damaged": "Arrived damaged", "changed_mind": "Changed my mind", "other": "Another reason",
}


def why_not(action: str, reason: str) -> str:
    if not reason:
        return ""
    return f"{ACTION_LABELS.get(action, 'Not possible')}: {REASONS.get(reason, REASONS['not_allowed'])}."
