"""Sentences the portal writes into shared records (a ticket's system lines, a credit entry's reason),
read in the reader's language.

Such a sentence is stored once, in English, and read by people of different languages: the customer in
theirs, each agent in theirs. It is written here from a fixed template (`Wording.write`) and, for a
reader of another language, worded again from the same template with the values it carries
(`Wording.read`), so rows stored before a language existed read translated too. A stored sentence that
matches no template (written by hand, or by an older version) is shown as stored.
"""

from __future__ import annotations

import re
from typing import Any

from portal.i18n import N_, current_language, tr


class Wording:
    """A family of templates: `{name}` fields are filled when writing and matched when reading."""

    def __init__(self, *templates: str, translated_values: dict[str, tuple[str, ...]] | None = None) -> None:
        self.templates = templates
        # Values that are themselves fixed English words (a fallback like "an agent"), translated too.
        self.translated_values = translated_values or {}
        self._patterns = [(re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>.+?)", re.escape(t)) + "$", re.S), t)
                          for t in templates]

    def write(self, template: str, /, **values: Any) -> str:
        """The English sentence to store (the template must be one of this family's)."""
        if template not in self.templates:
            raise ValueError(f"not a template of this wording: {template!r}")
        return template.format(**values)

    def read(self, stored: str) -> str:
        """The stored sentence in the current language."""
        if current_language() == "en" or not stored:
            return stored
        for pattern, template in self._patterns:
            m = pattern.match(stored)
            if m is None:
                continue
            values = {k: (tr(v) if v in self.translated_values.get(k, ()) else v) for k, v in m.groupdict().items()}
            return tr(template, **values)
        return stored


REOPENED = N_("The customer reopened this ticket.")
REOPENED_BY_EMAIL = N_("The customer's email reply reopened this ticket.")
MERGED = N_("Ticket {number} (“{subject}”) was merged into this one.")
SLA_FIRST_RESPONSE = N_("SLA warning: the first response target is about to be missed.")
SLA_RESOLUTION = N_("SLA warning: the resolution target is about to be missed.")
CHAT_NO_AGENT = N_("No agent was available for the live chat.")
CHAT_NOT_TAKEN = N_("No agent took the live chat in time.")
MAIL_HELD = N_("A message from {sender} to this ticket's reply address is held: that address is not this "
               "ticket's contact. Accept or reject it below.")
FOLLOW_UP = N_("Follow-up of {number} (“{subject}”), which was closed when this reply arrived.")
BOUNCED = N_("The email to {address} could not be delivered ({reason}).")
LINKED = N_("Linked to customer {number} ({name}) by {agent}.")
NO_REASON = N_("no reason given")
AN_AGENT = N_("an agent")

TICKET_LINES = Wording(REOPENED, REOPENED_BY_EMAIL, MERGED, SLA_FIRST_RESPONSE, SLA_RESOLUTION, CHAT_NO_AGENT,
                       CHAT_NOT_TAKEN, MAIL_HELD, FOLLOW_UP, BOUNCED, LINKED,
                       translated_values={"reason": (NO_REASON,), "agent": (AN_AGENT,)})

OVERPAYMENT = N_("Overpayment of {number}")
OFFER = N_("Offer: {title}")
RETURN_REFUND = N_("Refund for return {number}")
RETURN_BONUS = N_("Store credit bonus on return {number} ({percent}%)")

CREDIT_REASONS = Wording(OVERPAYMENT, OFFER, RETURN_REFUND, RETURN_BONUS)
