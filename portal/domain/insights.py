"""What people do in the portal, recorded by the portal itself, and the admin's insights.

Recording keeps page paths (the route, e.g. /orders/[id]), names of actions and names of form
fields, never what anyone typed; fields whose name mentions a password are never recorded.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, insert
from sqlmodel import Session, col, select

from portal.db import utcnow
from portal.domain.errors import Invalid
from portal.domain.principal import Principal, require_admin
from portal.domain.support import CATEGORY_LABELS
from portal.i18n import N_, tr
from portal.models import AnalyticsEvent, CustomerOffer, OfferRule, SearchQuery, Ticket, User

KINDS = ("page_view", "form_start", "form_field", "form_submit")
_PATH = re.compile(r"^/[A-Za-z0-9_\-/\[\]]{0,199}$")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,79}$")
MAX_RANGE_DAYS = 3660


def event_row(principal: Principal | None, kind: str, path: str, name: str = "") -> dict[str, Any] | None:
    """The row of one event, or None for anything that does not look like a route or a field name."""
    if kind not in KINDS or not isinstance(path, str) or not _PATH.match(path):
        return None
    if not isinstance(name, str) or (name and not _NAME.match(name)) or "password" in name or "secret" in name:
        return None
    return {"user_id": principal.user_id if principal else None, "kind": kind, "path": path, "name": name,
            "created_at": utcnow()}


def record(session: Session, *, principal: Principal | None, kind: str, path: str, name: str = "") -> bool:
    """Store one event; anything that does not look like a route or a field name is dropped."""
    row = event_row(principal, kind, path, name)
    if row is None:
        return False
    session.add(AnalyticsEvent(**row))
    return True


def record_many(session: Session, noted: Iterable[tuple[Principal | None, str, str, str]]) -> int:
    """Store many events (principal, kind, path, name) in one statement, without an ORM object
    each (the analytics flush writes a few thousand a second under load); returns how many were
    kept. Dropped the same way as `record`."""
    rows = [row for principal, kind, path, name in noted if (row := event_row(principal, kind, path, name))]
    if rows:
        session.execute(insert(AnalyticsEvent.__table__), rows)  # type: ignore[attr-defined]
    return len(rows)


@dataclasses.dataclass(frozen=True, slots=True)
class Range:
    start: datetime
    end: datetime  # exclusive


def parse_range(start: str, end: str) -> Range:
    """Inclusive calendar days in UTC."""
    try:
        d0, d1 = date.fromisoformat(start), date.fromisoformat(end)
    except (TypeError, ValueError):
        raise Invalid(tr("Enter dates as YYYY-MM-DD."), field="range") from None
    if d1 < d0 or (d1 - d0).days > MAX_RANGE_DAYS:
        raise Invalid(tr("The end must be on or after the start, within ten years."), field="range")
    return Range(datetime.combine(d0, time.min, UTC), datetime.combine(d1 + timedelta(days=1), time.min,
                                                                               UTC))


def default_range(days: int = 30) -> tuple[str, str]:
    today = utcnow().date()
    return (today - timedelta(days=days - 1)).isoformat(), today.isoformat()


Row = tuple[str, float]
REPORTS: dict[str, tuple[str, str, str]] = {  # name -> (title, label column, value column),
    # in English; shown with tr() (CSV headers: `columns`)
    "top_searches": (N_("Top searches"), N_("search"), N_("count")),
    "failed_searches": (N_("Searches that found nothing"), N_("search"), N_("count")),
    "top_pages": (N_("Most visited pages"), N_("page"), N_("views")),
    "repeated_pages": (N_("Pages people open again and again"), N_("page"), N_("people repeating")),
    "repeated_questions": (N_("Questions asked again"), N_("question"), N_("people repeating")),
    "forms_started": (N_("Forms started"), N_("form"), N_("started")),
    "forms_abandoned": (N_("Forms abandoned, by last field"), N_("form / field"), N_("abandoned")),
    "tickets_by_topic": (N_("Tickets opened per topic"), N_("topic"), N_("tickets")),
    "self_service": (N_("Self-service"), N_("measure"), N_("value")),
    "satisfaction": (N_("Satisfaction (ticket ratings)"), N_("rating"), N_("tickets")),
    "offer_takeup": (N_("Offer take-up"), N_("offer"), N_("applied %")),
}


# Rows that are a rate or an average of a report's counts: shown beside its chart, never as a bar on
# the counts' axis (a percentage and a count do not share a scale).
SUMMARY_ROWS = frozenset({"self-service rate %", "average"})


def columns(name: str) -> tuple[str, str]:
    """A report's two column titles (its CSV header) in the current language."""
    _, label_col, value_col = REPORTS[name]
    return tr(label_col), tr(value_col)


# The fixed row labels of the reports that have them (the others' labels are data: search terms,
# pages, topics, offers): `report` gives them in English, `row_label` in the current language.
_ROW_LABELS = {
    "self_service": (N_("questions asked"), N_("answered without a ticket"), N_("tickets opened"),
                     N_("self-service rate %")),
    "satisfaction": (N_("average"),),
}


def row_label(name: str, label: str) -> str:
    """A row's label as the reader reads it: fixed labels translated, data left as it is."""
    if label in _ROW_LABELS.get(name, ()):
        return tr(label)
    if name == "satisfaction" and label.endswith(" stars") and label[:-6].isdigit():
        return tr("{n} stars", n=int(label[:-6]))
    if name == "tickets_by_topic" and label in CATEGORY_LABELS:
        return tr(CATEGORY_LABELS[label])
    return label


def report(session: Session, *, principal: Principal, name: str, rng: Range, limit: int = 20) -> list[Row]:
    require_admin(principal)
    if name not in REPORTS:
        raise Invalid(tr("Unknown report."), field="report")
    limit = max(1, min(limit, 200))
    return _REPORTS[name](session, rng, limit)


def _in(column: Any, rng: Range) -> list[Any]:
    return [col(column) >= rng.start, col(column) < rng.end]


def _searches(session: Session, rng: Range, limit: int, *, failed: bool) -> list[Row]:
    q = select(SearchQuery.normalized, func.count()).where(*_in(SearchQuery.created_at, rng))
    if failed:
        q = q.where(SearchQuery.result_count == 0)
    rows = session.exec(q.group_by(col(SearchQuery.normalized))
                        .order_by(func.count().desc(), col(SearchQuery.normalized)).limit(limit)).all()
    return [(str(t), float(n)) for t, n in rows]


def _top_pages(session: Session, rng: Range, limit: int) -> list[Row]:
    rows = session.exec(select(AnalyticsEvent.path, func.count())
                        .where(AnalyticsEvent.kind == "page_view", *_in(AnalyticsEvent.created_at, rng))
                        .group_by(col(AnalyticsEvent.path)).order_by(func.count().desc(), col(AnalyticsEvent.path))
                        .limit(limit)).all()
    return [(str(p), float(n)) for p, n in rows]


def _repeated(session: Session, rng: Range, limit: int, *, questions: bool) -> list[Row]:
    """How many people did the same thing three times or more in the range."""
    per: Any
    if questions:
        per = select(col(SearchQuery.normalized).label("k"), col(SearchQuery.user_id).label("u"),
                     func.count().label("n")).where(col(SearchQuery.user_id).is_not(None),
                                                    *_in(SearchQuery.created_at, rng))
        per = per.group_by(col(SearchQuery.normalized), col(SearchQuery.user_id))
        threshold = 2
    else:
        per = select(col(AnalyticsEvent.path).label("k"), col(AnalyticsEvent.user_id).label("u"),
                     func.count().label("n")).where(AnalyticsEvent.kind == "page_view",
                                                    col(AnalyticsEvent.user_id).is_not(None),
                                                    *_in(AnalyticsEvent.created_at, rng))
        per = per.group_by(col(AnalyticsEvent.path), col(AnalyticsEvent.user_id))
        threshold = 3
    sub = per.subquery()
    rows = session.exec(select(sub.c.k, func.count()).where(sub.c.n >= threshold).group_by(sub.c.k)
                        .order_by(func.count().desc(), sub.c.k).limit(limit)).all()
    return [(str(k), float(n)) for k, n in rows]


def _form_runs(session: Session, rng: Range) -> tuple[Counter[str], Counter[str]]:
    """Walk each person's form events in order: a start that no submit follows is abandoned
    at the last field they touched."""
    rows = session.exec(select(AnalyticsEvent).where(col(AnalyticsEvent.kind).in_(["form_start", "form_field",
                                                                                  "form_submit"]),
                                                     *_in(AnalyticsEvent.created_at, rng))
                        .order_by(col(AnalyticsEvent.user_id), col(AnalyticsEvent.created_at),
                                  col(AnalyticsEvent.id))).all()
    started: Counter[str] = Counter()
    abandoned: Counter[str] = Counter()
    open_forms: dict[tuple[int | None, str], str] = {}
    for ev in rows:
        key = (ev.user_id, ev.path)
        if ev.kind == "form_start":
            if key in open_forms:
                abandoned[f"{ev.path} / {open_forms[key]}"] += 1
            started[ev.path] += 1
            open_forms[key] = ev.name
        elif ev.kind == "form_field" and key in open_forms:
            open_forms[key] = ev.name
        elif ev.kind == "form_submit":
            open_forms.pop(key, None)
    for (_, path), field in open_forms.items():
        abandoned[f"{path} / {field}"] += 1
    return started, abandoned


def _forms(session: Session, rng: Range, limit: int, *, abandoned: bool) -> list[Row]:
    started, left = _form_runs(session, rng)
    data = left if abandoned else started
    return [(k, float(v)) for k, v in sorted(data.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]]


def _tickets_by_topic(session: Session, rng: Range, limit: int) -> list[Row]:
    rows = session.exec(select(Ticket.category, func.count()).where(*_in(Ticket.created_at, rng))
                        .group_by(col(Ticket.category)).order_by(func.count().desc(), col(Ticket.category))
                        .limit(limit)).all()
    return [(str(c), float(n)) for c, n in rows]


def _self_service(session: Session, rng: Range, _limit: int) -> list[Row]:
    """A question (help-center search or assistant answer) counts as self-served when the
    person's account opened no ticket within a day after asking."""
    asked = session.exec(select(SearchQuery.created_at, User.customer_id)
                         .join(User, col(User.id) == col(SearchQuery.user_id))
                         .where(*_in(SearchQuery.created_at, rng))).all()
    anonymous = int(session.exec(select(func.count()).select_from(SearchQuery)
                                 .where(col(SearchQuery.user_id).is_(None), *_in(SearchQuery.created_at, rng))).one())
    opened: dict[int, list[datetime]] = defaultdict(list)
    for cid, created in session.exec(select(Ticket.customer_id, Ticket.created_at).where(
            col(Ticket.created_at) >= rng.start, col(Ticket.created_at) < rng.end + _FOLLOW_UP)).all():
        opened[cid].append(created)
    self_served = sum(
        1 for when, cid in asked
        if cid is None or not any(when <= t < when + _FOLLOW_UP for t in opened.get(cid, []))
    ) + anonymous
    questions = len(asked) + anonymous
    tickets = int(session.exec(select(func.count()).select_from(Ticket).where(*_in(Ticket.created_at, rng))).one())
    rate = 100.0 * self_served / questions if questions else 0.0
    return [("questions asked", float(questions)), ("answered without a ticket", float(self_served)),
            ("tickets opened", float(tickets)), ("self-service rate %", round(rate, 1))]


_FOLLOW_UP = timedelta(days=1)


def _satisfaction(session: Session, rng: Range, _limit: int) -> list[Row]:
    rows: dict[int, int] = {int(k or 0): int(v) for k, v in session.exec(
        select(Ticket.rating, func.count()).where(col(Ticket.rating).is_not(None), *_in(Ticket.created_at, rng))
        .group_by(col(Ticket.rating))).all()}
    total = sum(rows.values())
    avg = sum(k * v for k, v in rows.items()) / total if total else 0.0
    return [(f"{r} stars", float(rows.get(r, 0))) for r in range(1, 6)] + [("average", round(avg, 2))]


def _offer_takeup(session: Session, rng: Range, limit: int) -> list[Row]:
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    rows = session.exec(select(OfferRule.title, CustomerOffer.status)
                        .join(OfferRule, col(OfferRule.id) == col(CustomerOffer.rule_id))
                        .where(*_in(CustomerOffer.created_at, rng))).all()
    for title, status in rows:
        counts[title][0] += 1
        counts[title][1] += int(status == "applied")
    out = [(t, round(100.0 * a / n, 1)) for t, (n, a) in counts.items()]
    return sorted(out, key=lambda r: (-r[1], r[0]))[:limit]


_REPORTS = {
    "top_searches": lambda s, r, n: _searches(s, r, n, failed=False),
    "failed_searches": lambda s, r, n: _searches(s, r, n, failed=True),
    "top_pages": _top_pages,
    "repeated_pages": lambda s, r, n: _repeated(s, r, n, questions=False),
    "repeated_questions": lambda s, r, n: _repeated(s, r, n, questions=True),
    "forms_started": lambda s, r, n: _forms(s, r, n, abandoned=False),
    "forms_abandoned": lambda s, r, n: _forms(s, r, n, abandoned=True),
    "tickets_by_topic": _tickets_by_topic,
    "self_service": _self_service,
    "satisfaction": _satisfaction,
    "offer_takeup": _offer_takeup,
}

