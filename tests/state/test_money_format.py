"""Money is formatted by one formatter (Babel) in the locale of the person looking: English by
default and as before, German and French as their readers write it, on pages and in PDFs."""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta

from sqlmodel import Session

from portal import format as fmt
from portal.db import utcnow
from portal.domain import auth, billing_files
from portal.domain.audit import NO_REQUEST
from tests.factories import make_customer, principal_for
from tests.factories_billing import make_billed_invoice
from tests.pdf_tools import pdf_text


def test_money_in_english_by_default_and_in_the_viewers_locale() -> None:
    try:
        # English, as every page showed it before
        assert fmt.money(123450) == "€1,234.50" and fmt.money(-999, "EUR") == "-€9.99"
        assert fmt.money(5, "GBP") == "£0.05" and fmt.money(12900, "usd") == "$129.00"
        fmt.use_locale("de")
        assert fmt.money(123450) == "1.234,50\xa0€"
        fmt.use_locale("fr")
        assert fmt.money(123450) == "1\u202f234,50\xa0€"
        # An explicit locale wins; unknown ones and signed-out visitors get English
        assert fmt.money(123450, locale="nl") == "€\xa01.234,50"
        fmt.use_locale("xx-Nowhere")
        assert fmt.money(123450) == "€1,234.50"
        fmt.use_locale(None)
        assert fmt.money(123450) == "€1,234.50"
    finally:
        fmt.use_locale(None)


def test_the_session_carries_the_profiles_locale(db: Session) -> None:
    user, _ = make_customer(db)
    user.locale = "de"
    db.add(user)
    db.commit()
    new = auth.create_session(db, user=user, request=NO_REQUEST, auth_method="password", mfa_verified=False)
    db.commit()
    principal = auth.resolve_session(db, raw_token=new.raw_token)
    assert principal is not None and principal.locale == "de"


def test_invoice_and_statement_pdfs_format_money_for_the_customer(db: Session) -> None:
    ua, ca = make_customer(db, name="Jürgen Weiß")
    inv = make_billed_invoice(db, ca, lines=(("Wanderjacke", 10, 12900),))
    today = utcnow().date()
    english = pdf_text(billing_files.invoice_pdf(db, principal=principal_for(ua), invoice_id=inv.id or 0).data)
    assert "€1,290.00" in english
    german = dataclasses.replace(principal_for(ua), locale="de")  # as the session carries it (above)
    invoice = pdf_text(billing_files.invoice_pdf(db, principal=german, invoice_id=inv.id or 0).data)
    statement = pdf_text(billing_files.statement_pdf(db, principal=german, date_from=today - timedelta(days=30),
                                                     date_to=today).data)
    for text in (invoice, statement):
        assert re.search(r"1\.290,00\s€", text) and "€1,290.00" not in text and "Jürgen Weiß" in text
