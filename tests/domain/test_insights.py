"""Insights from the portal's own events, and their CSV export for admins only."""

from __future__ import annotations

from sqlmodel import Session

from portal.domain import insights
from portal.models import AnalyticsEvent, SearchQuery
from portal.models.base import Role
from tests.factories import make_customer, make_staff, make_ticket, principal_for


def _rng() -> insights.Range:
    return insights.parse_range(*insights.default_range())


def test_page_views_repeats_and_abandoned_forms(db: Session) -> None:
    ua, _ = make_customer(db)
    ub, _ = make_customer(db)
    pa, pb = principal_for(ua), principal_for(ub)
    for _ in range(3):
        insights.record(db, principal=pa, kind="page_view", path="/orders/[id]")
    insights.record(db, principal=pb, kind="page_view", path="/dashboard")
    # Ann starts the profile form and leaves at the phone field; Bob finishes his
    insights.record(db, principal=pa, kind="form_start", path="/account/profile", name="full_name")
    insights.record(db, principal=pa, kind="form_field", path="/account/profile", name="phone")
    insights.record(db, principal=pb, kind="form_start", path="/account/profile", name="full_name")
    insights.record(db, principal=pb, kind="form_submit", path="/account/profile")
    db.commit()
    admin = principal_for(make_staff(db, role=Role.ADMIN))
    rep = {n: insights.report(db, principal=admin, name=n, rng=_rng()) for n in insights.REPORTS}
    assert rep["top_pages"][0] == ("/orders/[id]", 3.0)
    assert rep["repeated_pages"] == [("/orders/[id]", 1.0)]
    assert rep["forms_started"] == [("/account/profile", 2.0)]
    assert rep["forms_abandoned"] == [("/account/profile / phone", 1.0)]


def test_password_fields_and_odd_values_are_never_recorded(db: Session) -> None:
    ua, _ = make_customer(db)
    pa = principal_for(ua)
    assert not insights.record(db, principal=pa, kind="form_field", path="/account/security", name="new_password")
    assert not insights.record(db, principal=pa, kind="form_field", path="/x", name="Hello World typed text")
    assert not insights.record(db, principal=pa, kind="page_view", path="https://evil.example/")
    assert not insights.record(db, principal=pa, kind="keystroke", path="/dashboard")
    db.commit()
    assert db.query(AnalyticsEvent).count() == 0


def test_noted_events_are_written_together_by_the_flush_and_odd_ones_dropped(db: Session) -> None:
    """The path every page view takes: noted in memory, written in one statement about once a
    second (portal/jobs/analytics.py)."""
    from portal.jobs import analytics

    ua, _ = make_customer(db)
    ub, _ = make_customer(db)
    pa, pb = principal_for(ua), principal_for(ub)
    for _ in range(3):
        analytics.note(pa, "page_view", "/orders/[id]")
    analytics.note(pb, "page_view", "/dashboard")
    analytics.note(None, "page_view", "/login")
    analytics.note(pa, "form_field", "/account/security", "new_password")  # never recorded
    analytics.note(pa, "page_view", "https://evil.example/")  # not a route
    assert analytics.flush() == 5
    assert analytics.flush() == 0  # nothing noted twice
    rows = db.query(AnalyticsEvent).all()
    assert sorted((r.user_id or 0, r.path) for r in rows) == sorted(
        [(ua.id, "/orders/[id]")] * 3 + [(ub.id, "/dashboard"), (0, "/login")])
    assert all(r.created_at is not None and r.kind == "page_view" for r in rows)
    admin = principal_for(make_staff(db, role=Role.ADMIN))
    assert insights.report(db, principal=admin, name="top_pages", rng=_rng())[0] == ("/orders/[id]", 3.0)


def test_searches_tickets_satisfaction_and_self_service(db: Session) -> None:
    ua, ca = make_customer(db)
    for q, n in (("returns", 3), ("returns", 2), ("lost parcel", 0)):
        db.add(SearchQuery(user_id=ua.id, query=q, normalized=q, result_count=n))
    make_ticket(db, ca, category="delivery", rating=5)
    make_ticket(db, ca, category="delivery", rating=3)
    db.commit()
    admin = principal_for(make_staff(db, role=Role.ADMIN))
    r = lambda n: insights.report(db, principal=admin, name=n, rng=_rng())  # noqa: E731
    assert r("top_searches")[0] == ("returns", 2.0)
    assert r("failed_searches") == [("lost parcel", 1.0)]
    assert r("repeated_questions") == [("returns", 1.0)]
    assert r("tickets_by_topic") == [("delivery", 2.0)]
    assert ("average", 4.0) in r("satisfaction")
    # Ann asked three times and opened tickets right after: nothing was self-served
    assert ("self-service rate %", 0.0) in r("self_service")
    ub, _ = make_customer(db)
    db.add(SearchQuery(user_id=ub.id, query="sizes", normalized="sizes", result_count=4))
    db.commit()
    assert ("self-service rate %", 25.0) in r("self_service")


def test_fixed_row_labels_read_in_the_readers_language_and_data_as_it_is() -> None:
    from portal.i18n import in_language, tr

    with in_language("de"):
        billing = insights.row_label("tickets_by_topic", "billing")
        assert billing == tr("Billing") and billing not in ("billing", "Billing")
        assert insights.row_label("self_service", "questions asked") == tr("questions asked")
        # Data (a search, a page) is shown as it was typed or visited
        assert insights.row_label("top_searches", "billing") == "billing"
        assert insights.row_label("tickets_by_topic", "something else") == "something else"
    with in_language("en"):
        assert insights.row_label("tickets_by_topic", "billing") == "Billing"
