"""Send queued mail; failed messages are retried on later ticks, up to a limit.

A message's subject and body were written in the recipient's language when it was queued; what is
added as it is sent (the brand's signature) is in the recipient's language too (their profile's)."""

from __future__ import annotations

import asyncio

from sqlmodel import col, select

from portal import metrics
from portal.db import session_scope, utcnow
from portal.i18n import in_language
from portal.integrations import mail
from portal.jobs.scheduler import job
from portal.models import MailMessage, User

MAX_ATTEMPTS = 8
BATCH = 50


def send_pending() -> int:
    with session_scope() as db:
        pending = db.exec(
            select(MailMessage).where(col(MailMessage.sent_at).is_(None), MailMessage.attempts < MAX_ATTEMPTS)
            .order_by(col(MailMessage.id)).limit(BATCH)
        ).all()
        sent = 0
        user_ids = {m.user_id for m in pending if m.user_id is not None}
        locales: dict[int | None, str] = {}
        if user_ids:
            locales = {u.id: u.locale for u in db.exec(select(User).where(col(User.id).in_(user_ids))).all()}
        for msg in pending:
            msg.attempts += 1
            try:
                with in_language(locales.get(msg.user_id)):
                    mail.send(mail.Outgoing(to=msg.to_address, subject=msg.subject, body=msg.body_text,
                                            headers=dict(msg.headers or {})))
            except Exception as exc:  # noqa: BLE001 - any failure is retried later
                msg.last_error = repr(exc)[:500]
                metrics.EMAILS.labels(outcome="failed").inc()
            else:
                metrics.EMAILS.labels(outcome="sent").inc()
                msg.sent_at = utcnow()
                msg.last_error = ""
                sent += 1
            db.add(msg)
        return sent


@job("send-mail", seconds=5)
async def send_mail() -> int:
    return await asyncio.to_thread(send_pending)
