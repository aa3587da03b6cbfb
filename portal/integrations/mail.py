"""SMTP adapter. Without an SMTP host (development, demo) messages go to .eml files.

Every message carries the brand: the business name as the sender's display name (unless MAIL_FROM
gives one) and, under the text, a signature with the name, the footer text and the support contact."""

from __future__ import annotations

import dataclasses
import smtplib
import ssl
import uuid
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from portal.brand import current_brand
from portal.settings import get_settings


@dataclasses.dataclass(frozen=True, slots=True)
class Outgoing:
    to: str
    subject: str
    body: str
    # Message-ID, In-Reply-To, References, Reply-To, Auto-Submitted: set for mail that belongs to a
    # ticket thread. A Message-ID given here is kept (it was stored with the ticket).
    headers: dict[str, str] = dataclasses.field(default_factory=dict)


def new_message_id() -> str:
    s = get_settings()
    return make_msgid(domain=s.mail_from.rsplit("@", 1)[-1].rstrip(">") or None)


def build_message(msg: Outgoing) -> EmailMessage:
    brand = current_brand()
    em = EmailMessage()
    em["From"] = brand.mail_from
    em["To"] = msg.to
    em["Subject"] = msg.subject
    em["Message-ID"] = msg.headers.get("Message-ID") or new_message_id()
    for name in ("In-Reply-To", "References", "Reply-To", "Auto-Submitted"):
        if msg.headers.get(name):
            em[name] = msg.headers[name]
    em.set_content(msg.body.rstrip("\n") + "\n\n" + brand.mail_signature)
    return em


def send(msg: Outgoing, *, timeout: float = 15.0) -> None:
    """Deliver one message; raises on failure so the caller can retry later."""
    s = get_settings()
    em = build_message(msg)
    if not s.smtp_host:
        folder = Path(s.portal_data_dir) / "mail"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{uuid.uuid4().hex}.eml").write_bytes(bytes(em))
        return
    with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=timeout) as smtp:
        if s.smtp_starttls and s.smtp_port != 25:
            smtp.starttls(context=ssl.create_default_context())
        if s.smtp_username:
            smtp.login(s.smtp_username, s.smtp_password)
        smtp.send_message(em)
