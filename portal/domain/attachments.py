"""Private files attached to tickets: checked by their content, stored under server-chosen names.

A customer uploads a file first (it is "staged": it belongs to the uploader and to no ticket
yet), then sends it with a new ticket or a reply. Only the uploader sees a staged file; once
attached, the ticket's customer and the staff see it. Everyone else gets "not found".
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import secrets
import unicodedata
from datetime import datetime, timedelta
from pathlib import Path, PurePath

from sqlmodel import Session, col, select

from portal.db import utcnow
from portal.domain.errors import Invalid, NotFound
from portal.domain.principal import Principal, require_customer, require_principal
from portal.models import Attachment, Ticket
from portal.settings import get_settings

# Extension -> the one type its content must turn out to be.
_EXTENSIONS = {
    ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
    ".webp": "image/webp", ".pdf": "application/pdf", ".txt": "text/plain", ".log": "text/plain",
    ".csv": "text/plain",
}
ALLOWED_EXTENSIONS = tuple(sorted(_EXTENSIONS))
INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})


@dataclasses.dataclass(frozen=True, slots=True)
class AttachmentInfo:
    id: int
    filename: str
    content_type: str
    size_bytes: int
    created_at: datetime


@dataclasses.dataclass(frozen=True, slots=True)
class StoredFile:
    path: Path
    filename: str
    content_type: str
    size_bytes: int


def sniff(data: bytes) -> str | None:
    """The type the bytes really are, from their first bytes; None when we do not accept it."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    if b"\x00" not in data:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return None
        return "text/plain"
    return None


def clean_filename(name: str) -> str:
    base = PurePath(str(name).replace("\\", "/")).name
    base = "".join(ch for ch in unicodedata.normalize("NFC", base) if unicodedata.category(ch)[0] != "C")
    base = re.sub(r"\s+", " ", base).strip().lstrip(".")
    if len(base) > 120:
        stem, dot, ext = base.rpartition(".")
        base = (stem[: 120 - len(ext) - 1] + dot + ext) if dot and len(ext) <= 10 else base[:120]
    return base or "file"


def to_info(a: Attachment) -> AttachmentInfo:
    assert a.id is not None
    return AttachmentInfo(id=a.id, filename=a.filename, content_type=a.content_type, size_bytes=a.size_bytes,
                          created_at=a.created_at)


def stage_attachment(session: Session, *, principal: Principal, filename: str, data: bytes) -> AttachmentInfo:
    """Check and store one uploaded file for the customer who sent it."""
    customer_id = require_customer(principal)
    row = store_checked(session, customer_id=customer_id, user_id=principal.user_id, filename=filename, data=data)
    return to_info(row)


def check_file(filename: str, data: bytes) -> tuple[str, str]:
    """(clean name, real type) of a file we accept, whoever sends it (portal upload or email);
    Invalid naming the file otherwise."""
    name = clean_filename(filename)
    if not data:
        raise Invalid("empty_file", field="attachment", filename=name)
    if len(data) > get_settings().support_attachment_max_bytes:
        raise Invalid("too_large", field="attachment", filename=name)
    expected = _EXTENSIONS.get(PurePath(name).suffix.lower())
    actual = sniff(data)
    # The name alone proves nothing: the content must be of the type the name claims.
    if expected is None or actual is None or actual != expected:
        raise Invalid("file_type", field="attachment", filename=name)
    return name, actual


def store_checked(session: Session, *, customer_id: int, user_id: int | None, filename: str, data: bytes,
                  ticket_id: int | None = None, message_id: int | None = None) -> Attachment:
    name, actual = check_file(filename, data)
    key = f"attachments/{secrets.token_hex(16)}"
    path = get_settings().files_dir / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    row = Attachment(customer_id=customer_id, uploaded_by_user_id=user_id, filename=name,
                     content_type=actual, size_bytes=len(data), sha256=hashlib.sha256(data).hexdigest(),
                     storage_key=key, ticket_id=ticket_id, message_id=message_id)
    session.add(row)
    session.flush()
    return row


def discard_staged(session: Session, *, principal: Principal, attachment_id: int) -> None:
    row = session.get(Attachment, attachment_id)
    if row is None or row.uploaded_by_user_id != principal.user_id or row.ticket_id is not None:
        raise NotFound("attachment")
    _delete_file(row)
    session.delete(row)


def claim_staged(session: Session, *, principal: Principal, attachment_ids: list[int], ticket_id: int,
                 message_id: int) -> list[Attachment]:
    """Attach the caller's own staged files to a message; any other id is not found."""
    if len(set(attachment_ids)) > get_settings().support_attachments_per_message:
        raise Invalid("too_many_files", field="attachment")
    rows: list[Attachment] = []
    for aid in dict.fromkeys(attachment_ids):
        row = session.get(Attachment, aid)
        if row is None or row.uploaded_by_user_id != principal.user_id or row.ticket_id is not None:
            raise NotFound("attachment")
        row.ticket_id = ticket_id
        row.message_id = message_id
        session.add(row)
        rows.append(row)
    return rows


def open_attachment(session: Session, *, principal: Principal | None, attachment_id: int) -> StoredFile:
    """The file, for someone allowed to read it; NotFound for everyone else."""
    p = require_principal(principal)
    row = session.get(Attachment, attachment_id)
    if row is None:
        raise NotFound("attachment")
    if row.ticket_id is None:
        allowed = row.uploaded_by_user_id == p.user_id
    elif p.is_staff:
        allowed = True
    else:
        ticket = session.get(Ticket, row.ticket_id)
        allowed = p.is_customer and ticket is not None and ticket.customer_id == p.customer_id
    if not allowed:
        raise NotFound("attachment")
    path = get_settings().files_dir / row.storage_key
    if not path.is_file():
        raise NotFound("attachment")
    return StoredFile(path=path, filename=row.filename, content_type=row.content_type, size_bytes=row.size_bytes)


def purge_stale_staged(session: Session, *, older_than: timedelta = timedelta(days=1)) -> int:
    """Staged files nobody sent are removed after a day (called by the support job)."""
    rows = session.exec(select(Attachment).where(col(Attachment.ticket_id).is_(None),
                                                 col(Attachment.conversation_id).is_(None),
                                                 col(Attachment.created_at) < utcnow() - older_than)).all()
    for row in rows:
        _delete_file(row)
        session.delete(row)
    return len(rows)


def _delete_file(row: Attachment) -> None:
    path = get_settings().files_dir / row.storage_key
    path.unlink(missing_ok=True)
