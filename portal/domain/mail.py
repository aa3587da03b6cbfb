"""Mail is queued in the database with the change that causes it, and sent by a job
(portal.jobs.mail) over SMTP, so a rolled-back change never sends a message."""

from __future__ import annotations

from sqlmodel import Session

from portal.models import MailMessage


def queue_mail(session: Session, *, to: str, subject: str, body: str, kind: str = "",
               user_id: int | None = None, headers: dict[str, str] | None = None,
               ticket_message_id: int | None = None) -> MailMessage:
    headers = dict(headers or {})
    msg = MailMessage(to_address=to, subject=subject[:300], body_text=body, kind=kind, user_id=user_id,
                      headers=headers, message_id=headers.get("Message-ID", "").strip("<>") or None,
                      ticket_message_id=ticket_message_id)
    session.add(msg)
    return msg
