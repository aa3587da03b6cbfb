"""Formatting for display: money and dates as people read them (used by state and by the assistant).

Times are stored in UTC and shown in the time zone of the person looking: the guard sets it for
each event from their profile (`use_zone`), and `day`/`day_time` convert to it.
"""

from __future__ import annotations

import contextvars
from datetime import date, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_SYMBOLS = {"EUR": "€", "GBP": "£", "USD": "$"}
_zone: contextvars.ContextVar[tzinfo | None] = contextvars.ContextVar("portal_display_zone", default=None)


def use_zone(name: str | None) -> None:
    """Show times in this IANA zone from now on in this context (None or unknown: UTC)."""
    zone: tzinfo | None = None
    if name:
        try:
            zone = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            zone = None
    _zone.set(zone)


def local(value: datetime, zone: tzinfo | None = None) -> datetime:
    """An aware time in the given zone, else the viewer's; naive times are left as they are."""
    target = zone or _zone.get()
    return value.astimezone(target) if target is not None and value.tzinfo is not None else value


def money(cents: int, currency: str = "EUR") -> str:
    sign = "-" if cents < 0 else ""
    value = abs(cents) / 100
    symbol = _SYMBOLS.get(currency.upper())
    return f"{sign}{symbol}{value:,.2f}" if symbol else f"{sign}{value:,.2f} {currency.upper()}"


def day(value: datetime | date | str | None) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    if isinstance(value, datetime):
        value = local(value)
    return f"{value.day} {value.strftime('%b %Y')}"


def day_time(value: datetime | None, zone: tzinfo | None = None) -> str:
    if value is None:
        return ""
    value = local(value, zone)
    return f"{value.day} {value.strftime('%b %Y, %H:%M')}"


def humanize(token: str) -> str:
    return token.replace("_", " ").capitalize()
