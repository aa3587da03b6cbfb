"""Documents through the domain: uploads checked by size and content, signing records the evidence."""

from __future__ import annotations

import hashlib

import pytest
from sqlmodel import Session, select

from portal.domain import documents
from portal.domain.audit import RequestInfo
from portal.domain.errors import DomainError, NotFound
from portal.models import AuditEvent, DocumentKind, DocumentStatus, OutboundEvent
from portal.settings import get_settings
from tests.factories import make_customer, principal_for
from tests.factories_billing import make_document

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def requested(db: Session):  # type: ignore[no-untyped-def]
    ua, ca = make_customer(db)
    doc = make_document(db, ca, kind=DocumentKind.UPLOAD, status=DocumentStatus.REQUESTED, title="Tax certificate",
                        with_file=False)
    return ua, ca, doc


def test_upload_of_a_requested_document_is_stored_privately(db: Session) -> None:
    ua, _, doc = requested(db)
    out = documents.upload_requested(db, principal=principal_for(ua), document_id=doc.id or 0,
                                     filename="../../etc/scan.png", data=PNG)
    db.commit()
    db.refresh(doc)
    assert out.status == DocumentStatus.AVAILABLE and doc.content_type == "image/png"
    assert doc.filename == "scan.png" and doc.storage_key and doc.storage_key.startswith("uploads/")
    stored = get_settings().files_dir / doc.storage_key
    assert stored.read_bytes() == PNG and "scan" not in stored.name
    assert doc.sha256 == hashlib.sha256(PNG).hexdigest()
    assert db.exec(select(OutboundEvent).where(OutboundEvent.kind == "document.uploaded")).one()


@pytest.mark.parametrize(("filename", "data", "reason"), [
    ("empty.pdf", b"", "empty"),
    ("fake.pdf", b"MZ\x90\x00 not a pdf", "type"),
    ("photo.pdf", PNG, "mismatch"),
    ("big.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * (11 * 1024 * 1024), "size"),
])
def test_bad_uploads_are_refused_and_nothing_is_stored(db: Session, filename: str, data: bytes, reason: str) -> None:
    ua, _, doc = requested(db)
    with pytest.raises(DomainError) as err:
        documents.upload_requested(db, principal=principal_for(ua), document_id=doc.id or 0, filename=filename,
                                   data=data)
    assert err.value.code == "invalid" and err.value.data["reason"] == reason
    db.rollback()
    db.refresh(doc)
    assert doc.status == DocumentStatus.REQUESTED and doc.storage_key is None


def test_signing_records_who_when_where_and_the_hash(db: Session) -> None:
    ua, ca = make_customer(db, name="Chloé Martin")
    doc = make_document(db, ca)
    p = principal_for(ua)
    shown = documents.get_document(db, principal=p, document_id=doc.id or 0)
    with pytest.raises(DomainError):
        documents.sign_document(db, principal=p, document_id=doc.id or 0, full_name="Chloe Martin", accepted=False,
                                viewed_sha256=shown.sha256)
    documents.sign_document(db, principal=p, document_id=doc.id or 0, full_name="  Chloe   Martin ", accepted=True,
                            viewed_sha256=shown.sha256, request=RequestInfo(ip_address="203.0.113.9"))
    db.commit()
    db.refresh(doc)
    data = (get_settings().files_dir / (doc.storage_key or "")).read_bytes()
    assert doc.status == DocumentStatus.SIGNED and doc.signed_by_user_id == ua.id and doc.signed_at is not None
    assert doc.signed_ip == "203.0.113.9" and doc.signed_sha256 == hashlib.sha256(data).hexdigest()
    event = db.exec(select(AuditEvent).where(AuditEvent.action == "document.signed")).one()
    assert event.data["typed_name"] == "Chloe Martin" and doc.signed_name == "Chloe Martin"
    out = db.exec(select(OutboundEvent).where(OutboundEvent.kind == "document.signed")).one()
    assert out.payload["sha256"] == doc.signed_sha256
    # Signing twice is refused
    with pytest.raises(DomainError):
        documents.sign_document(db, principal=p, document_id=doc.id or 0, full_name="Chloe Martin", accepted=True,
                                viewed_sha256=shown.sha256)


def test_signing_refuses_a_document_that_changed_since_it_was_shown(db: Session) -> None:
    ua, ca = make_customer(db, name="Chloe Martin")
    doc = make_document(db, ca)
    with pytest.raises(DomainError) as err:
        documents.sign_document(db, principal=principal_for(ua), document_id=doc.id or 0, full_name="Chloe Martin",
                                accepted=True, viewed_sha256="0" * 64)
    assert err.value.code == "conflict"


def test_customer_b_cannot_see_download_upload_or_sign_a_documents(db: Session) -> None:
    _, ca = make_customer(db)
    ub, _ = make_customer(db)
    contract = make_document(db, ca)
    ask = make_document(db, ca, kind=DocumentKind.UPLOAD, status=DocumentStatus.REQUESTED, with_file=False)
    pb = principal_for(ub)
    assert documents.list_documents(db, principal=pb) == []
    for call in (lambda: documents.open_document(db, principal=pb, document_id=contract.id or 0),
                 lambda: documents.get_document(db, principal=pb, document_id=contract.id or 0),
                 lambda: documents.sign_document(db, principal=pb, document_id=contract.id or 0,
                                                 full_name="Bob Bobson", accepted=True, viewed_sha256=contract.sha256),
                 lambda: documents.upload_requested(db, principal=pb, document_id=ask.id or 0, filename="a.png",
                                                    data=PNG)):
        with pytest.raises(NotFound):
            call()


def test_only_the_account_holders_name_signs(db: Session) -> None:
    # Given Chloé's contract waiting for her signature
    ua, ca = make_customer(db, name="Chloé  Martin")
    doc = make_document(db, ca)
    p = principal_for(ua)
    shown = documents.get_document(db, principal=p, document_id=doc.id or 0)
    # When someone signs it in another name from her account, it is refused, naming the field
    with pytest.raises(DomainError) as refused:
        documents.sign_document(db, principal=p, document_id=doc.id or 0, full_name="Someone Else", accepted=True,
                                viewed_sha256=shown.sha256)
    assert refused.value.data["field"] == "full_name" and "Full name" in refused.value.detail
    db.refresh(doc)
    assert doc.status != DocumentStatus.SIGNED
    # Then her own name signs, whatever the case, accents and spacing
    documents.sign_document(db, principal=p, document_id=doc.id or 0, full_name=" CHLOE martin ", accepted=True,
                            viewed_sha256=shown.sha256)
    db.commit()
    db.refresh(doc)
    assert doc.status == DocumentStatus.SIGNED and doc.signed_name == "CHLOE martin"
