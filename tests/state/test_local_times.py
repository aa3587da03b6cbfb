"""Times are stored in UTC and shown in the zone of the person looking (their profile's)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session

from portal import format as fmt
from portal.domain import auth
from portal.domain.audit import NO_REQUEST
from tests.factories import make_customer

LATE = datetime(2026, 11, 24, 23, 30, tzinfo=UTC)


def test_times_are_shown_in_the_viewers_zone() -> None:
    try:
        fmt.use_zone("Europe/Paris")
        assert fmt.day_time(LATE) == "25 Nov 2026, 00:30" and fmt.day(LATE) == "25 Nov 2026"
        # An explicit zone wins (delivery windows are shown in the carrier's zone, as offered)
        assert fmt.day_time(LATE, ZoneInfo("America/New_York")) == "24 Nov 2026, 18:30"
        # Unknown names and signed-out visitors see UTC
        fmt.use_zone("Mars/Olympus_Mons")
        assert fmt.day_time(LATE) == "24 Nov 2026, 23:30"
        fmt.use_zone(None)
        assert fmt.day(LATE) == "24 Nov 2026"
    finally:
        fmt.use_zone(None)


def test_kept_texts_tell_apart_what_equality_does_not() -> None:
    # day() and day_time() keep their texts (portal/format.py); equal moments in other zones, and
    # a date beside a datetime, must not be served each other's text.
    paris = LATE.astimezone(ZoneInfo("Europe/Paris"))
    try:
        fmt.use_zone(None)  # no viewer zone: each moment is shown in its own
        assert fmt.day(LATE) == "24 Nov 2026" and fmt.day(paris) == "25 Nov 2026"
        assert fmt.day_time(LATE) == "24 Nov 2026, 23:30" and fmt.day_time(paris) == "25 Nov 2026, 00:30"
        fmt.use_zone("Asia/Tokyo")
        assert fmt.day(LATE) == fmt.day(paris) == "25 Nov 2026"
        assert fmt.day_time(paris) == "25 Nov 2026, 08:30"
        fmt.use_locale("de")
        assert fmt.day(LATE) == "25.11.2026"
    finally:
        fmt.use_zone(None)
        fmt.use_locale(None)
    assert fmt.day(LATE.date()) == "24 Nov 2026" and fmt.day("2026-11-24") == "24 Nov 2026"


def test_the_session_carries_the_profiles_zone(db: Session) -> None:
    user, _ = make_customer(db)
    user.timezone = "Asia/Tokyo"
    db.add(user)
    db.commit()
    new = auth.create_session(db, user=user, request=NO_REQUEST, auth_method="password", mfa_verified=False)
    db.commit()
    principal = auth.resolve_session(db, raw_token=new.raw_token)
    assert principal is not None and principal.timezone == "Asia/Tokyo"
