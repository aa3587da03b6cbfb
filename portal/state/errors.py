"""What a person sees when an event handler fails unexpectedly: a short message with the
reference that finds the one log line (with its stack) written for it."""

# No `from __future__ import annotations`: Reflex reads this handler's annotations as objects.

import reflex as rx
from reflex.event import EventSpec

from portal import logs
from portal.i18n import tr


def unexpected(exception: Exception) -> EventSpec:
    logs.recall_event()
    handler = logs.current().get("handler") or "an event handler"
    ref = logs.report(exception, str(handler))
    return rx.toast.error(
        tr("Something went wrong on our side. Please try again; if it keeps happening, contact us and quote "
           "reference {ref}.", ref=ref), id="backend_error", position="top-center", duration=15000)
