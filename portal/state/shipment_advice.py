"""What a shipment's status means to the person waiting for it, and what they can do next.

The carrier's words (tag, subtag, checkpoint message) are facts; this is the portal's wording
around them (the UI owns wording). A problem comes with an explanation and a next step.
"""

from __future__ import annotations

import dataclasses

from portal.i18n import N_, tr, tr_n
from portal.models import TrackingTag

_TAG_LINES: dict[str, str] = {
    TrackingTag.PENDING: N_("The carrier has not received the parcel yet."),
    TrackingTag.INFO_RECEIVED: N_("The carrier knows about the parcel and will collect it soon."),
    TrackingTag.IN_TRANSIT: N_("The parcel is on its way."),
    TrackingTag.OUT_FOR_DELIVERY: N_("The parcel is out for delivery today."),
    TrackingTag.ATTEMPT_FAIL: N_("The carrier could not deliver the parcel."),
    TrackingTag.DELIVERED: N_("The parcel was delivered."),
    TrackingTag.AVAILABLE_FOR_PICKUP: N_("The parcel is waiting for you at the pickup point."),
    TrackingTag.EXCEPTION: N_("The carrier reported a problem with this delivery."),
    TrackingTag.EXPIRED: N_("The carrier has stopped updating this tracking number."),
}


@dataclasses.dataclass
class Advice:
    """Shown above the progress when something needs the person's attention."""

    tone: str = ""  # "problem" (red) or "attention" (amber); "" shows nothing
    title: str = ""
    explanation: str = ""
    next_step: str = ""


_PROBLEMS: dict[str, tuple[str, str, str]] = {
    # subtag: (title, explanation, next step)
    "Exception_004": (N_("Held at customs"), N_("Customs are checking the parcel before it can be delivered."),
                      N_("Nothing to do for now: we tell you if customs need a document or a payment. If it has not "
                      "moved in two working days, ask us for help.")),
    "Exception_005": (N_("Delayed"), N_("Something outside the carrier's control (such as weather or a strike) is "
                                        "holding the parcel up."),
                      N_("It will move on by itself. If it has not moved in two working days, ask us for help.")),
    "Exception_006": (N_("Held for a payment"), N_("The carrier holds the parcel until a fee is paid."),
                      N_("Ask us before you pay anything: we check the fee with the carrier and settle it if it is "
                      "ours to pay.")),
    "Exception_007": (N_("The address could not be found"), N_("The carrier could not find the delivery address and is "
                                                        "holding the parcel at its sorting centre."),
                      N_("Check the address on your order and send us the right one soon: we pass it to the carrier "
                      "before the parcel is sent back to us.")),
    "Exception_010": (N_("On its way back to us"),
                      N_("The carrier could not deliver the parcel and is returning it to us."),
                      N_("When it arrives we refund you or send it again, as you prefer: tell us which.")),
    "Exception_011": (N_("Returned to us"), N_("The parcel came back to us undelivered."),
                      N_("We refund you or send it again, as you prefer: tell us which.")),
    "Exception_013": (N_("Lost by the carrier"), N_("The carrier cannot find the parcel."),
                      N_("We send you a replacement or refund you: ask us for help and we sort it out.")),
}
_GENERIC_PROBLEM = (N_("A problem with this delivery"), _TAG_LINES[TrackingTag.EXCEPTION],
                    N_("Ask us for help: we find out from the carrier what happened and what comes next."))


def consistent(tag: str, subtag: str) -> bool:
    """The carrier's subtag belongs to its tag (a status set without its detail keeps an old one)."""
    return bool(subtag) and subtag.split("_", 1)[0] == tag


def status_line(tag: str, subtag: str, message: str) -> str:
    """One line under the shipment's title: the carrier's detail when it describes the current
    status, otherwise what the status itself means."""
    if message and consistent(tag, subtag):
        return message
    line = _TAG_LINES.get(tag)
    return tr(line) if line else message


def advice(tag: str, subtag: str, message: str) -> Advice:
    if tag == TrackingTag.EXCEPTION:
        title, explanation, step = _PROBLEMS.get(subtag, _GENERIC_PROBLEM) if consistent(tag, subtag) \
            else _GENERIC_PROBLEM
        title, explanation, step = tr(title), tr(explanation), tr(step)
        if message and consistent(tag, subtag) and message not in explanation:
            explanation = tr("{explanation} The carrier says: “{message}”", explanation=explanation, message=message)
        return Advice(tone="problem", title=title, explanation=explanation, next_step=step)
    if tag == TrackingTag.ATTEMPT_FAIL:
        return Advice(tone="attention", title=tr("Delivery attempt failed"),
                      explanation=message if consistent(tag, subtag) and message else tr(_TAG_LINES[tag]),
                      next_step=tr("The carrier tries again on the next working day. Make sure someone can take "
                                   "the parcel in, or ask us to send it to another address."))
    if tag == TrackingTag.AVAILABLE_FOR_PICKUP:
        return Advice(tone="attention", title=tr("Ready for pickup"), explanation=tr(_TAG_LINES[tag]),
                      next_step=tr("Bring photo ID and the tracking number; the pickup point keeps it for a limited "
                                   "time."))
    return Advice()


def late_advice(code: str, days: int) -> Advice:
    """A parcel past its promised day (or promised later than first said): help offered before asked."""
    if code == "shipment.late":
        return Advice(tone="attention", title=tr_n("Running {n} day late", "Running {n} days late", days),
                      explanation=tr("The parcel has not arrived by the day the carrier first promised."),
                      next_step=tr("Most late parcels arrive within a few working days. If you need it sooner, or "
                                   "it has not moved for a while, ask us: we chase the carrier for you."))
    if code == "shipment.delayed":
        return Advice(tone="attention", title=tr_n("Delayed by {n} day", "Delayed by {n} days", days),
                      explanation=tr("The carrier now expects to deliver later than it first said."),
                      next_step=tr("Nothing to do unless the new date does not suit you: then ask us for help."))
    return Advice()

