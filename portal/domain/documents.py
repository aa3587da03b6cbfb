"""Customer documents: list, download, upload what the business asks for, sign contracts.

Files live under settings.files_dir with names the server chooses; the customer's filename is
kept only for display and the download's Content-Disposition.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import unicodedata
import uuid
from datetime import datetime
from pathlib import Path

from sqlmodel import Session, col, select

from portal.db import utcnow
from portal.domain import audit, events, outbox
from portal.domain.errors import DomainError, ErrorCode, Invalid, NotFound
from portal.domain.events import DomainEvent, Topic
from portal.domain.principal import Principal, require_customer
from portal.i18n import tr
from portal.models import Customer, Document, DocumentKind, DocumentStatus, User
from portal.settings import get_settings

# What customers may upload: the type is decided by the content, and the name must agree with it.
_SIGNATURES: tuple[tuple[bytes, str, tuple[str, ...]], ...] = (
    (b"%PDF-", "application/pdf", (".pdf",)),
    (b"\x89PNG\r\n\x1a\n", "image/png", (".png",)),
    (b"\xff\xd8\xff", "image/jpeg", (".jpg", ".jpeg")),
)
ACCEPTED_EXTENSIONS = tuple(ext for _sig, _ct, exts in _SIGNATURES for ext in exts)


@dataclasses.dataclass(frozen=True, slots=True)
class DocumentOut:
    id: int
    kind: str
    status: str
    title: str
    description: str
    filename: str
    content_type: str
    size_bytes: int
    has_file: bool
    created_at: datetime
    signed_at: datetime | None
    sha256: str
    signed_name: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class StoredFile:
    path: Path
    filename: str
    content_type: str
    size_bytes: int


def _out(d: Document) -> DocumentOut:
    assert d.id is not None
    return DocumentOut(id=d.id, kind=d.kind, status=d.status, title=d.title, description=d.description,
                       filename=d.filename, content_type=d.content_type, size_bytes=d.size_bytes,
                       has_file=bool(d.storage_key), created_at=d.created_at, signed_at=d.signed_at, sha256=d.sha256,
                       signed_name=d.signed_name)


def _own(session: Session, principal: Principal, document_id: int) -> Document:
    customer_id = require_customer(principal)
    doc = session.get(Document, document_id)
    if doc is None or doc.customer_id != customer_id:
        raise NotFound("document")
    return doc


def _path(storage_key: str) -> Path:
    root = get_settings().files_dir.resolve()
    path = (root / storage_key).resolve()
    # Keys are ours, but a path never leaves the private files directory.
    if root not in path.parents:
        raise NotFound("document")
    return path


def list_documents(session: Session, *, principal: Principal) -> list[DocumentOut]:
    customer_id = require_customer(principal)
    rows = session.exec(select(Document).where(Document.customer_id == customer_id)
                        .order_by(col(Document.created_at).desc(), col(Document.id).desc())).all()
    return [_out(d) for d in rows]


def get_document(session: Session, *, principal: Principal, document_id: int) -> DocumentOut:
    return _out(_own(session, principal, document_id))


def open_document(session: Session, *, principal: Principal, document_id: int) -> StoredFile:
    doc = _own(session, principal, document_id)
    if not doc.storage_key:
        raise NotFound("document file")
    path = _path(doc.storage_key)
    if not path.is_file():
        raise NotFound("document file")
    return StoredFile(path=path, filename=doc.filename or f"document-{doc.id}", content_type=doc.content_type
                      or "application/octet-stream", size_bytes=path.stat().st_size)


def sniff(data: bytes, filename: str) -> str:
    """The content type the bytes really are; Invalid when unknown or when the name disagrees."""
    ext = os.path.splitext(filename.lower())[1]
    for sig, content_type, exts in _SIGNATURES:
        if data.startswith(sig):
            if ext not in exts:
                raise Invalid(tr("The file's content does not match its name."), field="file", reason="mismatch")
            return content_type
    raise Invalid(tr("Upload a PDF, PNG or JPEG file."), field="file", reason="type")


def safe_filename(name: str) -> str:
    base = os.path.basename(name.replace("\\", "/")).strip()
    base = re.sub(r"[^A-Za-z0-9._ -]+", "_", base)[:120].strip(" .")
    return base or "upload"


def upload_requested(session: Session, *, principal: Principal, document_id: int, filename: str, data: bytes,
                     request: audit.RequestInfo = audit.NO_REQUEST) -> DocumentOut:
    """Store the file the business asked for. Type, size and content are checked before anything is written."""
    doc = _own(session, principal, document_id)
    if doc.status != DocumentStatus.REQUESTED:
        raise DomainError(ErrorCode.NOT_ALLOWED, tr("This document is not waiting for an upload."))
    limit = get_settings().upload_max_bytes
    if not data:
        raise Invalid(tr("The file is empty."), field="file", reason="empty")
    if len(data) > limit:
        raise Invalid(tr("The file is larger than {size} MB.", size=limit // (1024 * 1024)), field="file",
                      reason="size")
    clean = safe_filename(filename)
    content_type = sniff(data, clean)
    ext = os.path.splitext(clean.lower())[1]
    key = f"uploads/{uuid.uuid4().hex}{ext}"
    path = _path(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    previous = doc.storage_key
    doc.storage_key = key
    doc.filename = clean
    doc.content_type = content_type
    doc.size_bytes = len(data)
    doc.sha256 = hashlib.sha256(data).hexdigest()
    doc.uploaded_by_user_id = principal.user_id
    doc.status = DocumentStatus.AVAILABLE
    session.add(doc)
    audit.record(session, action="document.uploaded", principal=principal, target_type="document",
                 target_id=doc.id or "", request=request, sha256=doc.sha256, size=len(data),
                 replaced=bool(previous))
    outbox.enqueue(session, kind="document.uploaded", customer_id=doc.customer_id,
                   payload={"document_id": doc.id, "external_id": doc.external_id, "title": doc.title,
                            "filename": clean, "content_type": content_type, "sha256": doc.sha256})
    events.emit(session, DomainEvent(topic=Topic.DOCUMENTS, customer_id=doc.customer_id))
    return _out(doc)


def comparable_name(name: str) -> str:
    """A name as people mean it: "chloe  DUBOIS" is "Chloé Dubois" (accents, case and spacing aside)."""
    decomposed = unicodedata.normalize("NFKD", name)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(bare.casefold().split())


def _account_holder(session: Session, principal: Principal) -> str:
    """The signing person's full name on their account (the customer's name if they gave none)."""
    user = session.get(User, principal.user_id) if principal.user_id else None
    if user is not None and user.full_name.strip():
        return " ".join(user.full_name.split())
    customer = session.get(Customer, require_customer(principal))
    return " ".join(customer.name.split()) if customer else ""


def sign_document(session: Session, *, principal: Principal, document_id: int, full_name: str, accepted: bool,
                  viewed_sha256: str, request: audit.RequestInfo = audit.NO_REQUEST) -> DocumentOut:
    """Accept a contract: who (user and typed name), when, from where, and the SHA-256 of exactly the
    bytes on file, which must be the bytes the person was shown."""
    doc = _own(session, principal, document_id)
    if doc.kind != DocumentKind.CONTRACT or doc.status != DocumentStatus.AWAITING_SIGNATURE or not doc.storage_key:
        raise DomainError(ErrorCode.NOT_ALLOWED, tr("This document is not waiting for your signature."))
    name = " ".join(full_name.split())
    if not 3 <= len(name) <= 200:
        raise Invalid(tr("Type your full name to sign."), field="full_name")
    holder = _account_holder(session, principal)
    # A signature binds the account holder: the typed name must be theirs (case, accents and spacing
    # aside), so nobody signs in someone else's name from this account.
    if holder and comparable_name(name) != comparable_name(holder):
        raise Invalid(tr("Full name: type your name as it is on your account ({holder}) to sign.", holder=holder),
                      field="full_name", expected=holder)
    if accepted is not True:
        raise Invalid(tr("Tick the box to confirm you accept the agreement."), field="accepted")
    data = _path(doc.storage_key).read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != viewed_sha256:
        raise DomainError(ErrorCode.CONFLICT, tr("The document changed since you opened it."))
    now = utcnow()
    doc.status = DocumentStatus.SIGNED
    doc.signed_at = now
    doc.signed_by_user_id = principal.user_id
    doc.signed_ip = request.ip_address[:64]
    doc.signed_sha256 = digest
    doc.signed_name = name
    session.add(doc)
    audit.record(session, action="document.signed", principal=principal, target_type="document",
                 target_id=doc.id or "", request=request, sha256=digest, typed_name=name)
    outbox.enqueue(session, kind="document.signed", customer_id=doc.customer_id,
                   payload={"document_id": doc.id, "external_id": doc.external_id, "title": doc.title,
                            "signed_at": now.isoformat(), "signed_by_user_id": principal.user_id,
                            "signed_name": name, "signed_ip": doc.signed_ip, "sha256": digest})
    events.emit(session, DomainEvent(topic=Topic.DOCUMENTS, customer_id=doc.customer_id))
    return _out(doc)
