"""Returns started by customers: quote, photos, submission, label, and following it.

Photos and labels are private files under settings.files_dir with server-chosen names;
they are served only by the authorised api/ route, to their owner.
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from portal.brand import letterhead
from portal.db import utcnow
from portal.domain.errors import Invalid, NotFound
from portal.domain.order_actions import NotAllowed, record
from portal.domain.order_policy import current_policy
from portal.domain.orders import own_order, returnable_quantities
from portal.domain.principal import Principal, require_customer
from portal.i18n import tr, tr_n
from portal.integrations.pdf import render_text_pdf
from portal.models import (
    Document,
    DocumentKind,
    NotificationKind,
    OrderLine,
    RefundMethod,
    Return,
    ReturnLine,
    ReturnPhoto,
    ReturnStatus,
)
from portal.settings import get_settings

RETURN_REASONS = ("too_small", "too_large", "not_as_described", "damaged", "changed_mind", "other")
MAX_NOTE = 500
_MAGIC = {
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/webp": (b"RIFF",),
}
_EXT = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}


@dataclasses.dataclass(frozen=True, slots=True)
class ReturnQuote:
    refund_cents: int  # the value of the returned items
    bonus_cents: int  # extra store credit
    amount_cents: int  # what the customer gets
    currency: str
    refund_method: str


@dataclasses.dataclass(frozen=True, slots=True)
class FileOut:
    path: Path
    filename: str
    content_type: str
    size_bytes: int


def _sniff_ok(content_type: str, data: bytes) -> bool:
    if content_type == "image/webp":
        return data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    return any(data.startswith(m) for m in _MAGIC.get(content_type, ()))


def stage_photo(session: Session, *, principal: Principal, filename: str, content_type: str,
                data: bytes) -> ReturnPhoto:
    """Keep a photo for a return the customer is about to submit. The type is checked on the
    bytes, not only on what the browser claims."""
    customer_id = require_customer(principal)
    policy = current_policy()
    content_type = (content_type or "").split(";")[0].strip().lower()
    if content_type not in policy.return_photo_types or not _sniff_ok(content_type, data):
        raise Invalid("photo type", field="photos")
    if not data or len(data) > policy.return_photo_max_bytes:
        raise Invalid("photo size", field="photos", max_bytes=policy.return_photo_max_bytes)
    staged = session.exec(select(ReturnPhoto.id).where(ReturnPhoto.customer_id == customer_id,
                                                       col(ReturnPhoto.return_id).is_(None))).all()
    if len(staged) >= policy.return_photos_max:
        raise Invalid("too many photos", field="photos", max=policy.return_photos_max)
    key = f"return-photos/{uuid.uuid4().hex}.{_EXT[content_type]}"
    path = get_settings().files_dir / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    clean_name = "".join(c for c in Path(filename or "photo").name if c.isprintable())[:200] or "photo"
    photo = ReturnPhoto(customer_id=customer_id, filename=clean_name, content_type=content_type,
                        size_bytes=len(data), sha256=hashlib.sha256(data).hexdigest(), storage_key=key,
                        uploaded_by_user_id=principal.user_id)
    session.add(photo)
    session.flush()
    return photo


def discard_photo(session: Session, *, principal: Principal, photo_id: Any) -> None:
    customer_id = require_customer(principal)
    photo = session.get(ReturnPhoto, photo_id) if isinstance(photo_id, int) else None
    if photo is None or photo.customer_id != customer_id or photo.return_id is not None:
        raise NotFound("photo")
    (get_settings().files_dir / photo.storage_key).unlink(missing_ok=True)
    session.delete(photo)


def _checked_quantities(session: Session, order_id: int, quantities: Any) -> tuple[list[OrderLine], dict[int, int]]:
    if not isinstance(quantities, dict) or not quantities:
        raise Invalid("choose items", field="lines")
    lines = list(session.exec(select(OrderLine).where(OrderLine.order_id == order_id)))
    by_id = {ln.id: ln for ln in lines}
    returnable = returnable_quantities(session, lines)
    chosen: dict[int, int] = {}
    for line_id, qty in quantities.items():
        if not isinstance(line_id, int) or line_id not in by_id:
            raise NotFound("line")  # another order's line, or someone else's
        if not isinstance(qty, int) or isinstance(qty, bool) or qty < 0:
            raise Invalid("quantity", field="lines")
        if qty == 0:
            continue
        if qty > returnable.get(line_id, 0):
            raise Invalid("more than can be returned", field="lines", line_id=line_id)
        chosen[line_id] = qty
    if not chosen:
        raise Invalid("choose items", field="lines")
    return lines, chosen


def quote_return(session: Session, *, principal: Principal, order_id: Any, quantities: Any,
                 refund_method: str) -> ReturnQuote:
    """The amount the customer will get, shown before they submit."""
    customer_id = require_customer(principal)
    order = own_order(session, customer_id=customer_id, order_id=order_id)
    policy = current_policy()
    from portal.domain.orders import order_detail

    reason = order_detail(session, principal=principal, order_id=order.id).actions["return"]
    if reason:
        raise NotAllowed(reason)
    if refund_method not in (RefundMethod.ORIGINAL, RefundMethod.STORE_CREDIT):
        raise Invalid("refund method", field="refund_method")
    lines, chosen = _checked_quantities(session, order.id or 0, quantities)
    by_id = {ln.id: ln for ln in lines}
    refund = sum(by_id[lid].unit_price_cents * q for lid, q in chosen.items())
    bonus = policy.bonus_cents(refund) if refund_method == RefundMethod.STORE_CREDIT else 0
    return ReturnQuote(refund_cents=refund, bonus_cents=bonus, amount_cents=refund + bonus, currency=order.currency,
                       refund_method=refund_method)


def _new_return_number(session: Session) -> str:
    for _ in range(20):
        number = f"R-{secrets.randbelow(900_000) + 100_000}"
        if session.exec(select(Return.id).where(Return.number == number)).first() is None:
            return number
    raise Invalid("return number")


def start_return(session: Session, *, principal: Principal, order_id: Any, quantities: Any, reason: str, note: str,
                 refund_method: str, photo_ids: list[int], expected_amount_cents: int) -> Return:
    customer_id = require_customer(principal)
    if reason not in RETURN_REASONS:
        raise Invalid("choose a reason", field="reason")
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        raise Invalid("note too long", field="note")
    if reason == "other" and not note:
        raise Invalid("tell us why", field="note")
    order = own_order(session, customer_id=customer_id, order_id=order_id, for_update=True)
    quote = quote_return(session, principal=principal, order_id=order.id, quantities=quantities,
                         refund_method=refund_method)
    if quote.amount_cents != expected_amount_cents:
        raise NotAllowed("amount_changed")
    photos: list[ReturnPhoto] = []
    for pid in dict.fromkeys(photo_ids):
        photo = session.get(ReturnPhoto, pid) if isinstance(pid, int) else None
        if photo is None or photo.customer_id != customer_id or photo.return_id is not None:
            raise NotFound("photo")
        photos.append(photo)
    _lines, chosen = _checked_quantities(session, order.id or 0, quantities)
    by_id = {ln.id: ln for ln in _lines}
    now = utcnow()
    ret = Return(number=_new_return_number(session), order_id=order.id or 0, customer_id=customer_id,
                 status=ReturnStatus.LABEL_ISSUED, reason=(note or reason.replace("_", " "))[:500],
                 refund_method=refund_method, refund_cents=quote.amount_cents, currency=quote.currency,
                 created_at=now, updated_at=now)
    session.add(ret)
    session.flush()
    for lid, qty in chosen.items():
        session.add(ReturnLine(return_id=ret.id or 0, order_line_id=lid, quantity=qty, reason=reason))
    for photo in photos:
        photo.return_id = ret.id
        session.add(photo)
    label = _label_document(ret, order_number=order.number, items=[(by_id[lid].name, by_id[lid].variant_label, q)
                                                                   for lid, q in chosen.items()],
                            sender=order.shipping_address)
    session.add(label)
    session.flush()
    ret.label_document_id = label.id
    session.add(ret)
    count = sum(chosen.values())
    message = (tr_n("Return {number} started: {n} item, refund to store credit",
                    "Return {number} started: {n} items, refund to store credit", count, number=ret.number)
               if refund_method == RefundMethod.STORE_CREDIT else
               tr_n("Return {number} started: {n} item, refund to your original payment method",
                    "Return {number} started: {n} items, refund to your original payment method", count,
                    number=ret.number))
    record(session, principal=principal, order=order, kind="return_requested", message=message,
           audit_action="return.request", outbox_kind="return.requested",
           payload={"return_id": ret.id, "return_number": ret.number, "reason": reason, "note": note,
                    "refund_method": refund_method, "refund_cents": quote.refund_cents,
                    "bonus_cents": quote.bonus_cents, "amount_cents": quote.amount_cents,
                    "photos": len(photos), "lines": [{"line_id": k, "quantity": v} for k, v in chosen.items()]},
           notify=(lambda: tr("Return {number}: your label is ready", number=ret.number),
                   lambda: tr("Print the return label from your order page and attach it to the parcel.")),
           notify_kind=NotificationKind.SHIPPING)
    return ret


def _label_document(ret: Return, *, order_number: str, items: list[tuple[str, str, int]],
                    sender: dict[str, Any]) -> Document:
    policy = current_policy()
    from_lines = [str(sender.get(k, "")) for k in ("name", "company", "line1", "line2") if sender.get(k)]
    from_lines.append(" ".join(str(sender.get(k, "")) for k in ("postal_code", "city") if sender.get(k)))
    from_lines.append(str(sender.get("country", "")))
    # In the language of the customer starting the return (served now), like the document's title.
    lines = [tr("Return number: {number}", number=ret.number), tr("Order: {number}", number=order_number), "",
             tr("SHIP TO"), *policy.returns_address,
             "", tr("FROM"), *[x for x in from_lines if x.strip()], "", tr("CONTENTS"),
             *[f"{q} x {name}" + (f" ({label})" if label else "") for name, label, q in items], "",
             tr("Attach this label to the outside of the parcel and hand it to any drop-off point."),
             tr("Keep your drop-off receipt until your refund arrives.")]
    title = tr("Return label {number}", number=ret.number)
    # The return number as a Code 128 barcode and a QR code, as carriers print them, for the drop-off scanner.
    data = render_text_pdf(title, lines, business=letterhead(), barcode=ret.number)
    key = f"return-labels/{uuid.uuid4().hex}.pdf"
    path = get_settings().files_dir / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return Document(customer_id=ret.customer_id, order_id=ret.order_id, kind=DocumentKind.RETURN_LABEL,
                    title=title, filename=f"return-label-{ret.number}.pdf",
                    content_type="application/pdf", size_bytes=len(data), sha256=hashlib.sha256(data).hexdigest(),
                    storage_key=key)


# A return can be called off until its parcel is on its way back to the business.
CANCELLABLE_RETURN_STATUSES = (ReturnStatus.REQUESTED, ReturnStatus.APPROVED, ReturnStatus.LABEL_ISSUED)


def cancel_return(session: Session, *, principal: Principal, return_id: Any) -> Return:
    """Call off the caller's own return before its parcel is sent: the items can be returned
    again while the return window is open, and the label is no longer offered."""
    customer_id = require_customer(principal)
    if not isinstance(return_id, int) or isinstance(return_id, bool):
        raise NotFound("return")
    ret = session.get(Return, return_id, with_for_update=True)
    if ret is None or ret.customer_id != customer_id:
        raise NotFound("return")
    if ret.status not in CANCELLABLE_RETURN_STATUSES:
        raise NotAllowed("return_on_its_way" if ret.status != ReturnStatus.CANCELLED else "return_cancelled")
    order = own_order(session, customer_id=customer_id, order_id=ret.order_id, for_update=True)
    ret.status = ReturnStatus.CANCELLED
    ret.updated_at = utcnow()
    session.add(ret)
    record(session, principal=principal, order=order, kind="return_cancelled",
           message=tr("Return {number} cancelled", number=ret.number), audit_action="return.cancel",
           outbox_kind="return.cancelled", payload={"return_id": ret.id, "return_number": ret.number},
           notify=(lambda: tr("Return {number} is cancelled", number=ret.number),
                   lambda: tr("Don't send the parcel. You can start a new return while the return window is open.")))
    return ret


def return_label(session: Session, *, principal: Principal, return_id: Any) -> FileOut:
    """The label file of the caller's own return; anything else is "not found"."""
    customer_id = require_customer(principal)
    ret = session.get(Return, return_id) if isinstance(return_id, int) and not isinstance(return_id, bool) else None
    if ret is None or ret.customer_id != customer_id or ret.label_document_id is None:
        raise NotFound("return")
    doc = session.get(Document, ret.label_document_id)
    if doc is None or doc.customer_id != customer_id or not doc.storage_key:
        raise NotFound("return")
    path = get_settings().files_dir / doc.storage_key
    if not path.is_file():
        raise NotFound("return")
    return FileOut(path=path, filename=doc.filename or "return-label.pdf", content_type=doc.content_type,
                   size_bytes=path.stat().st_size)


def purge_staged_photos(session: Session, *, older_than: timedelta) -> int:
    """System housekeeping: photos staged for a return that was never submitted are removed
    (row and file) after a while, so abandoned uploads do not pile up."""
    cutoff = utcnow() - older_than
    stale = session.exec(select(ReturnPhoto).where(col(ReturnPhoto.return_id).is_(None),
                                                   col(ReturnPhoto.created_at) < cutoff).limit(500)).all()
    for photo in stale:
        (get_settings().files_dir / photo.storage_key).unlink(missing_ok=True)
        session.delete(photo)
    return len(stale)
