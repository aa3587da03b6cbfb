"""Read the support mailbox: every message becomes a ticket, a reply, a bounce record, or a failure
with its reason. Handled messages move to the processed folder; failures to the failure folder.

Each message is committed before it is moved: if the move fails, the next run finds the same
Message-ID already recorded and only moves it. A message that cannot be read, is too large or
breaks anything goes to the failure folder with the reason recorded for admins, and the run goes
on with the next one. Without SUPPORT_IMAP_HOST the job is not scheduled at all.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import logging

from sqlalchemy.exc import IntegrityError

from portal.db import session_scope
from portal.domain import support_mail
from portal.domain.support_mail import MailRejected
from portal.integrations import imap
from portal.settings import get_settings

log = logging.getLogger(__name__)
BATCH = 50


@dataclasses.dataclass
class FetchReport:
    lines: list[str] = dataclasses.field(default_factory=list)
    counts: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)

    def add(self, uid: str, status: str, text: str) -> None:
        self.counts[status] += 1
        self.lines.append(f"{uid}: {status} {text}".rstrip())

    def summary(self) -> str:
        return " ".join(f"{k}={v}" for k, v in sorted(self.counts.items())) or "nothing to fetch"


def _fail(box: imap.Mailbox, uid: str, data: bytes, size: int, reason: str, report: FetchReport) -> None:
    with session_scope() as db:
        support_mail.record_failure(db, raw_or_headers=data, size=size, reason=reason)
    box.move(uid, get_settings().support_imap_failed_folder)
    report.add(uid, "failed", reason)


def _one(box: imap.Mailbox, uid: str, report: FetchReport) -> None:
    s = get_settings()
    size = box.size(uid)
    if size > s.support_email_max_bytes:
        _fail(box, uid, box.headers(uid), size, f"too large: {size} bytes (limit {s.support_email_max_bytes})",
              report)
        return
    raw = box.fetch(uid)
    try:
        with session_scope() as db:
            outcome = support_mail.ingest(db, raw=raw)
    except IntegrityError:
        # Another run recorded the same message between our check and our insert.
        outcome = support_mail.Outcome(status="duplicate")
    except MailRejected as exc:
        _fail(box, uid, raw, size, str(exc), report)
        return
    except Exception as exc:  # one bad message must not stop the others
        log.exception("support mail %s failed", uid)
        _fail(box, uid, raw, size, f"error: {exc!r}", report)
        return
    box.move(uid, s.support_imap_processed_folder)
    report.add(uid, outcome.status, " ".join(x for x in (outcome.ticket_number, outcome.detail) if x))


def fetch_once(limit: int = BATCH) -> FetchReport:
    """One pass over the mailbox; ImapError when it cannot be reached (nothing is lost then)."""
    report = FetchReport()
    with imap.open_mailbox() as box:
        for uid in box.uids(limit):
            try:
                _one(box, uid, report)
            except imap.ImapError as exc:
                # The message stays where it is and is tried again on the next run.
                report.add(uid, "left", f"in the mailbox: {exc}")
    return report


async def mail_fetch() -> str:
    report = await asyncio.to_thread(fetch_once)
    return report.summary()


def register_job() -> None:
    s = get_settings()
    if not s.imap_enabled:
        return
    from portal.jobs.scheduler import job

    job("mail-fetch", seconds=s.support_imap_fetch_seconds)(mail_fetch)
