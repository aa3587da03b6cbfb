"""Billing documents as files: invoice, credit note and receipt PDFs, statements, payment CSV.

Every file is generated from the data each time it is asked for; the PDF writer is deterministic,
so the same invoice gives the same bytes on every download (and the same ETag).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from portal import format as fmt
from portal.brand import letterhead
from portal.domain import spreadsheet
from portal.domain.billing import customer_of, day_start, get_invoice, own_payment, payment_history
from portal.domain.errors import Invalid, NotFound
from portal.domain.order_billing import bank_transfer, transfer_lines
from portal.domain.principal import Principal
from portal.format import money
from portal.i18n import N_, in_language, tr
from portal.integrations.pdf import BusinessDocument, Column, render_business_pdf
from portal.models import Customer, Invoice, InvoiceKind, InvoiceStatus, Payment, PaymentStatus


@dataclasses.dataclass(frozen=True, slots=True)
class FileOut:
    filename: str
    content_type: str
    data: bytes

    @property
    def etag(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def _money_for(principal: Principal) -> Callable[[int, str], str]:
    """Money as the person reads it: the portal's one formatter, in their profile's locale."""
    return functools.partial(money, locale=principal.locale or None)


def _day(value: datetime | date | None) -> str:
    return fmt.calendar_day(value)


def _letterhead() -> dict[str, Any]:
    """The brand's part of a business document: name, legal details, logo, footer text."""
    head = letterhead()
    return {"business": head.name, "business_details": head.details, "logo": head.logo, "footer": head.footer}


def _bill_to(customer: Customer) -> tuple[str, ...]:
    lines = [customer.company, customer.name] if customer.company else [customer.name]
    lines.append(customer.email)
    lines.append(tr("Customer number {number}", number=customer.number))
    if customer.vat_number:
        lines.append(tr("VAT {number}", number=customer.vat_number))
    return tuple(lines)


def _line_columns() -> tuple[Column, ...]:
    return (Column(tr("Description"), 243), Column(tr("Qty"), 40, "right"), Column(tr("Unit price"), 75, "right"),
            Column(tr("VAT"), 45, "right"), Column(tr("Amount"), 80, "right"))


# A document is written in the language of the person it is for (their profile's), as their money is.
def invoice_pdf(session: Session, *, principal: Principal, invoice_id: int) -> FileOut:
    with in_language(principal.locale):
        return _invoice_pdf(session, principal=principal, invoice_id=invoice_id)


def _invoice_pdf(session: Session, *, principal: Principal, invoice_id: int) -> FileOut:
    _money = _money_for(principal)
    detail = get_invoice(session, principal=principal, invoice_id=invoice_id)
    customer = customer_of(session, principal=principal)
    inv = detail.invoice
    c = inv.currency
    credit_note = inv.kind == InvoiceKind.CREDIT_NOTE
    meta: list[tuple[str, str]] = [(tr("Credit note number") if credit_note else tr("Invoice number"), inv.number),
                                   (tr("Issued"), _day(inv.issued_at))]
    if credit_note and detail.credits_invoice_number:
        meta.append((tr("Credits invoice"), detail.credits_invoice_number))
    if not credit_note and inv.due_at:
        meta.append((tr("Due"), _day(inv.due_at)))
    meta.append((tr("Status"), {"open": tr("Due"), "paid": tr("Refunded") if credit_note else tr("Paid"),
                                "void": tr("Void")}.get(inv.status, inv.status.capitalize())))
    rows = tuple((ln.description, str(ln.quantity), _money(ln.unit_price_cents, c),
                  f"{ln.tax_rate_bp / 100:g}%", _money(ln.total_cents, c)) for ln in detail.lines)
    totals: list[tuple[str, str]] = [(tr("Subtotal (incl. VAT)"), _money(detail.subtotal_cents, c)),
                                     (tr("Included VAT"), _money(detail.tax_cents, c))]
    if credit_note:
        totals.append((tr("Total credited"), _money(inv.total_cents, c)))
    elif inv.status == InvoiceStatus.OPEN:
        totals += [(tr("Invoice total"), _money(inv.total_cents, c)),
                   (tr("Paid"), _money(detail.amount_paid_cents, c)), (tr("Amount due"), _money(inv.balance_cents, c))]
    elif inv.status == InvoiceStatus.PAID:
        totals += [(tr("Paid"), _money(detail.amount_paid_cents, c)),
                   (tr("Invoice total"), _money(inv.total_cents, c))]
    else:
        totals.append((tr("Invoice total (void)"), _money(inv.total_cents, c)))
    notes = [tr("All prices include VAT.")]
    if inv.status == InvoiceStatus.OPEN and not credit_note:
        notes.append(tr("Please pay by {date} in the customer portal, or by bank transfer quoting {number}.",
                        date=_day(inv.due_at), number=inv.number))
    if credit_note:
        notes.append(tr("This amount was credited to your account as store credit or refunded."))
    row = None if credit_note else session.get(Invoice, invoice_id)  # get_invoice checked it is theirs
    transfer = bank_transfer(row) if row is not None else None
    if transfer:
        notes.append(tr("Bank transfer: {details}", details=" · ".join(transfer_lines(transfer, fmt=_money))))
    title = (tr("Credit note {number}", number=inv.number) if credit_note
             else tr("Invoice {number}", number=inv.number))
    data = render_business_pdf(BusinessDocument(
        **_letterhead(), title=title, meta=tuple(meta),
        bill_to=_bill_to(customer), columns=_line_columns(), rows=rows, totals=tuple(totals), notes=tuple(notes),
        created=inv.issued_at,
    ))
    return FileOut(filename=f"{inv.number}.pdf", content_type="application/pdf", data=data)


def receipt_pdf(session: Session, *, principal: Principal, payment_id: int) -> FileOut:
    with in_language(principal.locale):
        return _receipt_pdf(session, principal=principal, payment_id=payment_id)


def _receipt_pdf(session: Session, *, principal: Principal, payment_id: int) -> FileOut:
    _money = _money_for(principal)
    pay = own_payment(session, principal=principal, payment_id=payment_id)
    if pay.status not in (PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED):
        # Only a completed payment has a receipt; anything else is "not there" to download.
        raise NotFound("receipt")
    customer = customer_of(session, principal=principal)
    inv = session.get(Invoice, pay.invoice_id) if pay.invoice_id else None
    number = f"R-{pay.id:06d}"
    c = pay.currency
    when = pay.completed_at or pay.created_at
    meta = ((tr("Receipt number"), number), (tr("Paid on"), _day(when)), (tr("Method"), pay.method_label or pay.method),
            (tr("Status"), tr("Refunded") if pay.status == PaymentStatus.REFUNDED else tr("Paid")))
    what = tr("Payment for invoice {number}", number=inv.number) if inv else tr("Payment")
    data = render_business_pdf(BusinessDocument(
        **_letterhead(), title=tr("Receipt {number}", number=number), meta=meta,
        bill_to=_bill_to(customer), columns=(Column(tr("Description"), 403), Column(tr("Amount"), 80, "right")),
        rows=((what, _money(pay.amount_cents, c)),), totals=((tr("Amount paid"), _money(pay.amount_cents, c)),),
        notes=(tr("Thank you for your payment."),), created=when,
    ))
    return FileOut(filename=f"receipt-{number}.pdf", content_type="application/pdf", data=data)


def statement_pdf(session: Session, *, principal: Principal, date_from: date, date_to: date) -> FileOut:
    """Every invoice, credit note and payment in the period, with the running balance."""
    with in_language(principal.locale):
        if date_to < date_from:
            raise Invalid(tr("The end date is before the start date."), field="date_to")
        if (date_to - date_from).days > 3660:
            raise Invalid(tr("Choose a period of at most ten years."), field="date_from")
        return _statement_pdf(session, principal=principal, date_from=date_from, date_to=date_to)


def _statement_pdf(session: Session, *, principal: Principal, date_from: date, date_to: date) -> FileOut:
    _money = _money_for(principal)
    customer = customer_of(session, principal=principal)
    start, end = day_start(date_from), day_start(date_to + timedelta(days=1))
    entries: list[tuple[datetime, int, str, str, int]] = []  # when, order, reference, what, signed cents
    invs = session.exec(select(Invoice).where(Invoice.customer_id == customer.id,
                                              col(Invoice.status).in_([InvoiceStatus.OPEN, InvoiceStatus.PAID]),
                                              col(Invoice.issued_at) >= start, col(Invoice.issued_at) < end)).all()
    for inv in invs:
        if inv.kind == InvoiceKind.CREDIT_NOTE:
            entries.append((inv.issued_at, 0, inv.number, tr("Credit note"), -inv.total_cents))
            if inv.status == InvoiceStatus.PAID:
                # A settled credit note was paid out (refund or store credit): it no longer reduces what is owed.
                entries.append((inv.paid_at or inv.issued_at, 2, inv.number,
                                tr("Credit note refunded or moved to store credit"), inv.total_cents))
        else:
            entries.append((inv.issued_at, 0, inv.number, tr("Invoice"), inv.total_cents))
    pays = session.exec(select(Payment).where(Payment.customer_id == customer.id,
                                              Payment.status == PaymentStatus.SUCCEEDED,
                                              col(Payment.created_at) >= start, col(Payment.created_at) < end)).all()
    numbers = {i.id: i.number for i in session.exec(select(Invoice).where(Invoice.customer_id == customer.id)).all()}
    for p in pays:
        ref = f"R-{p.id:06d}"
        method = p.method_label or p.method
        what = (tr("Payment {method} for {number}", method=method, number=numbers[p.invoice_id])
                if p.invoice_id in numbers else tr("Payment {method}", method=method))
        entries.append((p.completed_at or p.created_at, 1, ref, what, -p.amount_cents))
    entries.sort(key=lambda e: (e[0], e[1], e[2]))
    c = customer.currency
    running = 0
    rows: list[tuple[str, ...]] = []
    charged = paid = 0
    for when, _order, ref, what, cents in entries:
        running += cents
        if cents >= 0:
            charged += cents
        else:
            paid += -cents
        rows.append((_day(when), ref, what, _money(cents, c) if cents >= 0 else "",
                     _money(-cents, c) if cents < 0 else "", _money(running, c)))
    if not rows:
        rows.append(("", "", tr("No activity in this period."), "", "", ""))
    data = render_business_pdf(BusinessDocument(
        **_letterhead(), title=tr("Account statement"),
        meta=((tr("Period"), f"{_day(date_from)} - {_day(date_to)}"), (tr("Customer number"), customer.number)),
        bill_to=_bill_to(customer),
        columns=(Column(tr("Date"), 62), Column(tr("Reference"), 68), Column(tr("Description"), 173),
                 Column(tr("Charges"), 60, "right"), Column(tr("Credits"), 60, "right"),
                 Column(tr("Balance"), 60, "right")),
        rows=tuple(rows),
        totals=((tr("Charges in period"), _money(charged, c)), (tr("Payments and credits"), _money(paid, c)),
                (tr("Net change in period"), _money(charged - paid, c))),
        notes=(tr("Amounts include VAT. Open invoices and due dates are listed on the Billing page of the portal."),),
    ))
    return FileOut(filename=f"statement-{date_from.isoformat()}-{date_to.isoformat()}.pdf",
                   content_type="application/pdf", data=data)


# The column names, in the language of the person downloading (the header row is worded for them).
CSV_HEADER = (N_("date"), N_("payment_id"), N_("invoice"), N_("amount"), N_("currency"), N_("method"), N_("status"),
              N_("failure_reason"))


def payment_history_csv(session: Session, *, principal: Principal, date_from: date | None = None,
                        date_to: date | None = None) -> Iterator[str]:
    """The payment history as CSV, one chunk per row (the rows are read now, inside the caller's
    transaction; the text is produced as the response streams)."""
    rows = payment_history(session, principal=principal, date_from=date_from, date_to=date_to)
    with in_language(principal.locale):
        header = [tr(name) for name in CSV_HEADER]

    def chunks() -> Iterator[str]:
        buf = io.StringIO()
        writer = spreadsheet.writer(buf, lineterminator="\r\n")
        writer.writerow(header)
        for p in rows:
            when = p.completed_at or p.created_at
            writer.writerow((when.date().isoformat(), p.id, p.invoice_number, f"{p.amount_cents / 100:.2f}",
                             p.currency, p.method_label, p.status, p.failure_reason))
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
        if not rows:
            yield buf.getvalue()

    return chunks()
