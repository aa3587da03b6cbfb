"""A customer's data archive holds their own data only; closing the account ends it."""

from __future__ import annotations

import json
import zipfile

import pytest
from sqlmodel import Session, select

from portal.domain import auth, privacy
from portal.domain.audit import RequestInfo
from portal.domain.errors import Invalid
from portal.models import AuditEvent, Document, OutboundEvent, TicketMessage
from portal.settings import get_settings
from tests.factories import PASSWORD, make_customer, make_order, make_ticket, principal_for
from tests.factories_home import make_address


def test_the_archive_holds_the_customers_own_data_and_files_only(db: Session) -> None:
    ua, ca = make_customer(db)
    ub, cb = make_customer(db)
    mine, theirs = make_order(db, ca), make_order(db, cb)
    make_address(db, ca, line1="1 Mine Street")
    make_address(db, cb, line1="2 Theirs Road")
    ticket = make_ticket(db, ca)
    db.add(TicketMessage(ticket_id=ticket.id or 0, body="Visible reply", author_user_id=None))
    db.add(TicketMessage(ticket_id=ticket.id or 0, body="Staff-only note", internal=True, author_user_id=None))
    key = "documents/test-export.pdf"
    path = get_settings().files_dir / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"%PDF-1.4 contract")
    db.add(Document(customer_id=ca.id or 0, kind="contract", title="Contract", filename="contract.pdf",
                    storage_key=key))
    db.commit()

    archive = privacy.build_export(db, principal=principal_for(ua))
    db.commit()
    with zipfile.ZipFile(archive) as zf:
        names = zf.namelist()
        everything = "".join(zf.read(n).decode("utf-8", "replace") for n in names)
        orders = json.loads(zf.read("orders.json"))
        assert zf.read(next(n for n in names if n.startswith("documents/"))) == b"%PDF-1.4 contract"
    assert [o["number"] for o in orders] == [mine.number]
    assert theirs.number not in everything and "2 Theirs Road" not in everything and cb.email not in everything
    assert "1 Mine Street" in everything and "Visible reply" in everything
    assert "Staff-only note" not in everything and "password_hash" not in everything and "$argon2" not in everything
    assert db.exec(select(AuditEvent).where(AuditEvent.action == "privacy.exported")).one().customer_id == ca.id
    assert ub.id  # Bob exists, and nothing of his is in Ann's archive


def test_closing_needs_the_password_and_ends_every_session(db: Session) -> None:
    ua, ca = make_customer(db)
    new = auth.create_session(db, user=ua, request=RequestInfo(), auth_method="password", mfa_verified=False)
    db.commit()
    pa = principal_for(ua, session_id=new.session_id)
    with pytest.raises(Invalid):
        privacy.close_account(db, principal=pa, password="wrong password here", confirm="CLOSE")
    db.commit()
    with pytest.raises(Invalid):
        privacy.close_account(db, principal=pa, password=PASSWORD, confirm="maybe")
    privacy.close_account(db, principal=pa, password=PASSWORD, confirm="close")
    db.commit()
    db.refresh(ca)
    db.refresh(ua)
    assert ca.closed_at is not None and ua.closed_at is not None
    assert auth.resolve_session(db, raw_token=new.raw_token) is None
    assert db.exec(select(AuditEvent).where(AuditEvent.action == "account.closed")).one().customer_id == ca.id
    assert db.exec(select(OutboundEvent).where(OutboundEvent.kind == "account.closed")).one().customer_id == ca.id
