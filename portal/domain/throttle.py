"""Throttling of failed sign-in and code attempts (ASVS 2.2.1), and rate limits on what a
signed-in customer can send (assistant and chat messages, ticket replies, new tickets).

Per account (keyed by the normalised email, so unknown addresses behave exactly like known
ones) a few free failures, then a short block that doubles with each further failure and is
capped at 15 minutes: an attacker cannot lock the real customer out for long. Per address a
larger allowance protects against spraying many accounts from one place.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col

from portal.db import utcnow
from portal.domain.errors import DomainError, ErrorCode
from portal.models import LoginThrottle


@dataclasses.dataclass(frozen=True)
class Rule:
    free_failures: int
    window: timedelta
    first_block: timedelta
    max_block: timedelta


ACCOUNT = Rule(free_failures=5, window=timedelta(minutes=15), first_block=timedelta(seconds=30),
               max_block=timedelta(minutes=15))
ADDRESS = Rule(free_failures=30, window=timedelta(minutes=15), first_block=timedelta(minutes=1),
               max_block=timedelta(minutes=15))
CODE = Rule(free_failures=5, window=timedelta(minutes=15), first_block=timedelta(minutes=1),
            max_block=timedelta(minutes=15))


def blocked_until(session: Session, key: str) -> datetime | None:
    row = session.get(LoginThrottle, key)
    now = utcnow()
    if row is None or row.blocked_until is None or row.blocked_until <= now:
        return None
    return row.blocked_until


def is_blocked(session: Session, *keys: str) -> bool:
    return any(blocked_until(session, k) is not None for k in keys if k)


def record_failure(session: Session, key: str, rule: Rule) -> None:
    if not key:
        return
    now = utcnow()
    row = session.get(LoginThrottle, key)
    if row is None:
        row = LoginThrottle(key=key[:128], failures=0, window_started_at=now)
    if row.window_started_at + rule.window < now and (row.blocked_until is None or row.blocked_until < now):
        row.failures = 0
        row.window_started_at = now
    row.failures += 1
    over = row.failures - rule.free_failures + 1  # the Nth failure of N free ones starts a block
    if over > 0:
        block = min(rule.first_block * (2 ** (over - 1)), rule.max_block)
        row.blocked_until = now + block
    session.add(row)


def failed_check(*, throttles: tuple[tuple[str, Rule], ...], action: str, request: object = None,
                 **audit_fields: object) -> None:
    """A failed check of a secret (password, TOTP code, recovery code), recorded in a
    transaction of its own and committed at once: the error the caller raises next rolls back
    the caller's transaction, and must not take the throttle count or the audit row with it."""
    from portal import metrics
    from portal.db import session_scope
    from portal.domain import audit

    metrics.SECRET_FAILURES.labels(action=action).inc()
    with session_scope() as own:
        for key, rule in throttles:
            record_failure(own, key, rule)
        audit.record(own, action=action, outcome="failed",
                     request=request if request is not None else audit.NO_REQUEST,  # type: ignore[arg-type]
                     **audit_fields)  # type: ignore[arg-type]


def clear(session: Session, key: str) -> None:
    row = session.get(LoginThrottle, key)
    if row is not None:
        session.delete(row)


def account_key(email: str) -> str:
    return f"acct:{email.strip().lower()[:120]}"


def address_key(ip: str) -> str:
    return f"ip:{ip[:64]}" if ip else ""


def code_key(user_id: int) -> str:
    return f"code:{user_id}"


# ----- rate limits on what customers send -------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Rate:
    limit: int  # actions allowed per window
    window: timedelta


ASSISTANT_MESSAGES = Rate(limit=30, window=timedelta(minutes=1))
MESSAGES = Rate(limit=30, window=timedelta(minutes=1))  # live chat and ticket replies together
NEW_TICKETS = Rate(limit=10, window=timedelta(hours=1))
# Private downloads per session (PDFs, CSVs, documents, attachments, labels, the data export):
# each builds a file and several write audit rows, outbox events and webhook deliveries.
DOWNLOADS = Rate(limit=120, window=timedelta(minutes=1))  # two a second: a person catching up on bookkeeping
# Help-center searches per person, or per address for strangers: each is stored for insights.
HELP_SEARCHES = Rate(limit=20, window=timedelta(minutes=1))


def take(session: Session, key: str, rate: Rate) -> bool:
    """Count one more action under `key`; False, and nothing counted, once the window's allowance
    is used up. Each step is a single statement, so concurrent tabs or workers cannot both take
    the last one or collide creating the counter."""
    now = utcnow()
    table = LoginThrottle.__table__  # type: ignore[attr-defined]
    dialect = sqlite if session.get_bind().dialect.name == "sqlite" else postgresql
    session.execute(dialect.insert(table).values(key=key[:128], failures=0, window_started_at=now)
                    .on_conflict_do_nothing(index_elements=["key"]))
    session.execute(update(LoginThrottle).where(col(LoginThrottle.key) == key[:128],
                                                col(LoginThrottle.window_started_at) <= now - rate.window)
                    .values(failures=0, window_started_at=now))
    taken = session.execute(update(LoginThrottle).where(col(LoginThrottle.key) == key[:128],
                                                        col(LoginThrottle.failures) < rate.limit)
                            .values(failures=LoginThrottle.failures + 1))
    return bool(getattr(taken, "rowcount", 0))


def longest_window() -> timedelta:
    """The longest window of any rule or rate in this module: a counter older than that counts nothing."""
    return max(v.window for v in globals().values() if isinstance(v, Rule | Rate))


def purge(session: Session) -> int:
    """Delete the counters whose window has passed and that block nothing (what record_failure and
    take would reset anyway); returns how many went."""
    now = utcnow()
    res = session.execute(delete(LoginThrottle).where(
        col(LoginThrottle.window_started_at) < now - longest_window(),
        or_(col(LoginThrottle.blocked_until).is_(None), col(LoginThrottle.blocked_until) < now)))
    return int(getattr(res, "rowcount", 0) or 0)


def require(session: Session, key: str, rate: Rate) -> None:
    """As take(), raising THROTTLED (worded "too many … wait a moment") when the allowance is used up."""
    if not take(session, key, rate):
        raise DomainError(ErrorCode.THROTTLED, "rate", window_seconds=int(rate.window.total_seconds()))
