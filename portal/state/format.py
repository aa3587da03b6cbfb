"""Formatting for display; state turns domain shapes into rows of ready-to-show text."""

from __future__ import annotations

from datetime import date, datetime

_SYMBOLS = {"EUR": "€", "GBP": "£", "USD": "$"}


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
    return f"{value.day} {value.strftime('%b %Y')}"


def day_time(value: datetime | None) -> str:
    if value is None:
        return ""
    return f"{value.day} {value.strftime('%b %Y, %H:%M')}"


def humanize(token: str) -> str:
    return token.replace("_", " ").capitalize()
