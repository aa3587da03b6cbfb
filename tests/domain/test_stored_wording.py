"""Sentences the portal stores in shared records (ticket system lines, credit reasons) are read in the
reader's language: written once in English, worded again for each reader from the same template."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session

from portal.db import utcnow
from portal.domain import billing, support
from portal.domain import stored_wording as sw
from portal.i18n import in_language, tr
from portal.models import CreditEntry, TicketMessage, TicketStatus
from tests.factories import make_customer, make_staff, make_ticket, principal_for

# Values a template must carry through: parentheses, quotes, a subject that itself reads like a template.
TRICKY = {"number": "T-1042", "subject": "Boots (size 42) “too small”. Was merged into this one.",
          "sender": "eve@example.net", "address": "bob@example.com", "reason": "550 5.1.1 User unknown",
          "name": "Bob (Ltd.)", "agent": "Dana", "title": "10% off", "percent": 10}


@pytest.mark.parametrize("wording", [sw.TICKET_LINES, sw.CREDIT_REASONS], ids=["ticket lines", "credit reasons"])
@pytest.mark.parametrize("lang", ["de", "fr"])
def test_every_template_reads_back_in_the_readers_language_with_its_values(wording: sw.Wording, lang: str) -> None:
    for template in wording.templates:
        stored = wording.write(template, **TRICKY)
        with in_language("en"):
            assert wording.read(stored) == stored
        with in_language(lang):
            read = wording.read(stored)
            assert read == tr(template, **TRICKY)
        assert read != stored, f"{template!r} is not translated into {lang}"
        for key in TRICKY:
            if "{" + key + "}" in template:
                assert str(TRICKY[key]) in read


def test_fixed_words_inside_a_line_are_translated_and_unknown_lines_are_shown_as_stored() -> None:
    stored = sw.TICKET_LINES.write(sw.BOUNCED, address="bob@example.com", reason=sw.NO_REASON)
    with in_language("de"):
        assert sw.TICKET_LINES.read(stored) == tr(sw.BOUNCED, address="bob@example.com", reason=tr(sw.NO_REASON))
        assert tr(sw.NO_REASON) in sw.TICKET_LINES.read(stored) and tr(sw.NO_REASON) != sw.NO_REASON
        # Written by hand, or by an older version: shown as it is, never half-translated
        assert sw.TICKET_LINES.read("Called the customer back.") == "Called the customer back."
    with pytest.raises(ValueError):
        sw.TICKET_LINES.write("Something else {x}.", x=1)


def test_a_german_customer_and_an_english_agent_each_read_the_reopen_and_merge_lines_in_their_own(
        db: Session) -> None:
    user, customer = make_customer(db)
    customer_p = principal_for(user)
    agent = principal_for(make_staff(db))
    ticket = make_ticket(db, customer, status=TicketStatus.RESOLVED, resolved_at=utcnow() - timedelta(days=1))
    duplicate = make_ticket(db, customer, subject="Parcel (again)")
    support.reopen_ticket(db, principal=customer_p, ticket_id=ticket.id or 0)
    support.merge_tickets(db, principal=agent, source_id=duplicate.id or 0, target_id=ticket.id or 0)
    db.commit()

    def system_lines(lang: str, principal: object) -> list[str]:
        with in_language(lang):
            view = support.get_ticket(db, principal=principal, ticket_id=ticket.id or 0)  # type: ignore[arg-type]
        return [m.body for m in view.messages if m.author_kind == "system"]

    english = system_lines("en", agent)
    assert english == ["The customer reopened this ticket.",
                       f"Ticket {duplicate.number} (“Parcel (again)”) was merged into this one."]
    german = system_lines("de", customer_p)
    assert german == ["Der Kunde hat dieses Ticket wieder geöffnet.",
                      f"Ticket {duplicate.number} („Parcel (again)“) wurde mit diesem zusammengeführt."]
    # Stored once, in English
    stored = [m.body for m in db.query(TicketMessage).filter(TicketMessage.author_kind == "system").all()]
    assert stored == english


def test_a_credit_reason_reads_in_the_customers_language(db: Session) -> None:
    user, customer = make_customer(db)
    db.add(CreditEntry(customer_id=customer.id or 0, amount_cents=500, currency="EUR",
                       reason=sw.CREDIT_REASONS.write(sw.OVERPAYMENT, number="INV-30001")))
    db.add(CreditEntry(customer_id=customer.id or 0, amount_cents=100, currency="EUR", reason="Goodwill"))
    db.commit()
    with in_language("fr"):
        reasons = sorted(c.reason for c in billing.credits(db, principal=principal_for(user)))
    assert reasons == ["Goodwill", "Trop-perçu sur INV-30001"]
    with in_language("en"):
        reasons = sorted(c.reason for c in billing.credits(db, principal=principal_for(user)))
    assert reasons == ["Goodwill", "Overpayment of INV-30001"]
