"""Recording what people do (page views, form progress) and the admin's insights page."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import reflex as rx
from reflex_base.event import EventSpec

from portal.db import session_scope
from portal.domain import content_gaps, insights
from portal.domain.errors import DomainError
from portal.format import day_time
from portal.i18n import tr
from portal.jobs import analytics
from portal.state import tab
from portal.state.base import FAILED, PortalState
from portal.state.guard import Access, access, current_principal, mfa_setup_exempt
from portal.state.messages import message_for_error
from portal.state.session import backend_url

MAX_EVENTS_PER_MINUTE = 120


def counted(state: Any) -> bool:
    """Count one analytics event of this tab (its `_window` and `_in_window`): a tab that sends
    far more than a person could is not counted (and fills no table)."""
    now = time.monotonic()
    if now - state._window > 60:
        state._window, state._in_window = now, 0
    state._in_window += 1
    return bool(state._in_window <= MAX_EVENTS_PER_MINUTE)


# In the header of every page, also the MFA setup page a redirect must not loop on.
@mfa_setup_exempt
@access(Access.SIGNED_IN)
class TrackState(PortalState, rx.State):
    """Fired by the shell on every page and by tracked forms; stores names, never values."""

    @rx.event
    def page_view(self) -> None:
        # The route pattern (/orders/[id]) comes from the router, not from an argument.
        path = tab.route_id(self) or "/"
        self._record("page_view", path, "")

    @rx.event
    def form_field(self, form: str, field: str) -> None:
        # First focus in a form counts as starting it; later focuses move the "last field".
        if not isinstance(form, str) or not isinstance(field, str):
            return
        key = f"{form}"
        started = key in self._started
        self._record("form_field" if started else "form_start", tab.route_id(self) or "/", field[:80])
        self._started = [*self._started[-20:], key] if not started else self._started

    @rx.event
    def form_submit(self, form: str) -> None:
        if not isinstance(form, str):
            return
        self._record("form_submit", tab.route_id(self) or "/", "")
        self._started = [k for k in self._started if k != form]

    _started: list[str] = []
    _window: float = 0.0
    _in_window: int = 0

    def _record(self, kind: str, path: str, name: str) -> None:
        p = current_principal()
        if p is None:
            return
        if counted(self):
            analytics.note(p, kind, path[:200], name)


@dataclasses.dataclass
class ReportView:
    name: str
    title: str
    label_col: str
    value_col: str
    points: list[dict[str, Any]]  # {"label": ..., "value": ...}: the chart's data rows (one unit)
    csv_url: str
    summary: list[dict[str, Any]] = dataclasses.field(default_factory=list)  # a rate or average, as a figure


@dataclasses.dataclass
class GapView:
    """One row of "questions without a good answer"."""

    key: str  # content_gaps.GapRow.key: what write_article is asked for
    question: str
    count: int
    people: int
    no_result: int
    ticket_after: int
    unhelpful: int
    phrasings: list[str]  # the most asked (content_gaps.EXAMPLES)
    phrasing_count: int  # all the row's phrasings
    comments: list[str]
    last: str
    is_article: bool


@access(Access.ADMIN)
class InsightsState(PortalState, rx.State):
    loaded: bool = False
    start: str = ""
    end: str = ""
    error: str = ""
    reports: list[ReportView] = []
    gaps: list[GapView] = []
    gaps_note: str = ""  # said when only the newest searches of the range were read
    gap_error: str = ""
    # What each shown gap row hands to the editor (title, questions, article): kept on the server,
    # so that the browser only ever names a row.
    _gap_briefs: dict[str, tuple[str, list[str], int | None]] = {}

    @rx.event
    def load(self) -> None:
        if not self.start:
            self.start, self.end = insights.default_range()
        self._load()

    @rx.event
    def set_range(self, form: dict[str, str]) -> None:
        start, end = (form.get("start", ""), form.get("end", "")) if isinstance(form, dict) else ("", "")
        if not isinstance(start, str) or not isinstance(end, str) or len(start) > 10 or len(end) > 10:
            self.error = tr("Enter dates as YYYY-MM-DD.")
            return
        self.start, self.end = start, end
        self._load()

    def _load(self) -> None:
        p = self._me()
        try:
            rng = insights.parse_range(self.start, self.end)
            with session_scope() as db:
                data = {name: insights.report(db, principal=p, name=name, rng=rng)
                        for name in insights.REPORTS}
                gap_report = content_gaps.content_gaps(db, principal=p, rng=rng)
        except DomainError as err:
            self.error = message_for_error(err)
            return
        self.error = ""
        self.reports = [
            ReportView(name=name, title=tr(title), label_col=tr(lc), value_col=tr(vc),
                       points=[{"label": insights.row_label(name, label), "value": value} for label, value in data[name]
                               if label not in insights.SUMMARY_ROWS],
                       summary=[{"label": tr(label), "value": value} for label, value in data[name]
                                if label in insights.SUMMARY_ROWS],
                       csv_url=backend_url(self, f"/api/admin/insights/{name}.csv?start={self.start}&end={self.end}"))
            for name, (title, lc, vc) in insights.REPORTS.items()
        ]
        self._show_gaps(gap_report)
        self.loaded = True

    def _show_gaps(self, report: content_gaps.GapReport) -> None:
        self.gaps = [GapView(key=r.key, question=r.question, count=r.count, people=r.people, no_result=r.no_result,
                             ticket_after=r.ticket_after, unhelpful=r.unhelpful,
                             phrasings=r.phrasings[:content_gaps.EXAMPLES], phrasing_count=len(r.phrasings),
                             comments=r.comments,
                             last=day_time(r.last), is_article=r.article_id is not None)
                     for r in report.rows]
        most = content_gaps.MAX_BRIEF_QUESTIONS
        self._gap_briefs = {r.key: (r.question, (r.phrasings if r.article_id is None else r.comments)[:most],
                                    r.article_id) for r in report.rows}
        self.gaps_note = (tr("Only the newest {n} searches of this period were read.", n=content_gaps.MAX_SEARCHES)
                          if report.capped else "")
        self.gap_error = ""

    @rx.event
    def write_article(self, key: str) -> EventSpec | None:
        """Open the editor on a new article (or the unhelpful one) with this row's questions attached."""
        row = self._gap_briefs.get(key) if isinstance(key, str) else None
        if row is None:
            self.gap_error = tr("That row is no longer shown: load the report again.")
            return None
        title, questions, article_id = row
        made = self._call(content_gaps.create_brief, into="gap_error", title=title, questions=questions,
                          article_id=article_id)
        if made is FAILED:
            return None
        target = f"/agent/articles/{article_id}" if article_id is not None else "/agent/articles/new"
        return rx.redirect(f"{target}?gap={made}")
