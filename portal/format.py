"""Formatting for display: money and dates as people read them (used by state, the assistant and PDFs).

Times are stored in UTC and shown in the time zone of the person looking: the guard sets it for
each event from their profile (`use_zone`), and `day`/`day_time` convert to it. Money, numbers and
dates are formatted by Babel in the person's locale (`use_locale`, from their profile; English by
default; `portal.i18n.in_language` sets it for another person's email or document): one formatter
for pages, the assistant, notifications and documents. English keeps its own short form
("3 Dec 2026, 14:05"); other languages their usual medium date and short time ("03.12.2026, 14:05",
"3 déc. 2026, 14:05"). Counted words (`plural`, `ago`) come from the message catalogs.
"""

from __future__ import annotations

import contextvars
import functools
from datetime import date, datetime, tzinfo
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time, get_datetime_format
from babel.numbers import format_currency, format_decimal, format_percent

from portal.i18n import tr, tr_n

DEFAULT_LOCALE = "en"
_zone: contextvars.ContextVar[tzinfo | None] = contextvars.ContextVar("portal_display_zone", default=None)
_locale: contextvars.ContextVar[str] = contextvars.ContextVar("portal_display_locale", default=DEFAULT_LOCALE)


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


@functools.lru_cache(maxsize=64)
def _babel_locale(name: str) -> Locale:
    """The Babel locale of a profile's locale ("de", "fr-CH", "pt_BR"); anything unknown is English."""
    try:
        return Locale.parse(name.replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        return Locale.parse(DEFAULT_LOCALE)


def use_locale(name: str | None) -> None:
    """Format money in this locale from now on in this context (None or empty: English)."""
    _locale.set(name or DEFAULT_LOCALE)


def current_locale() -> str:
    return _locale.get()


def money(cents: int, currency: str = "EUR", locale: str | None = None) -> str:
    """An amount of cents in `currency`, as a reader of `locale` (else the current one) writes it:
    "€1,234.50" in English, "1.234,50 €" in German."""
    return _money(cents, currency, locale or _locale.get())


# Pages show the same few amounts again at every visit (a page's rows are rebuilt from kept
# views), and Babel's formatting is a large share of a page load's own time: the text of an
# amount, a currency and a locale never changes.
@functools.lru_cache(maxsize=8192, typed=True)
def _money(cents: int, currency: str, locale: str) -> str:
    return format_currency(Decimal(cents) / 100, currency.upper(), locale=_babel_locale(locale))


def number(value: int | float | Decimal, locale: str | None = None) -> str:
    """A number as a reader of `locale` (else the current one) writes it: "1,234.5" / "1.234,5"."""
    return format_decimal(value, locale=_babel_locale(locale or _locale.get()))


def percent(value: int | float, locale: str | None = None) -> str:
    """Whole percent as a reader of `locale` writes it: "10%" / "10 %"."""
    return format_percent(value / 100, locale=_babel_locale(locale or _locale.get()))


def _english(loc: Locale) -> bool:
    return loc.language == DEFAULT_LOCALE


def day(value: datetime | date | str | None) -> str:
    """A calendar day: "3 Dec 2026" in English, "03.12.2026" in German, "3 déc. 2026" in French."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    return _day(value, _moment_key(value), _zone.get(), _locale.get())


def _moment_key(value: date) -> tuple[tzinfo | None, int]:
    """What, besides equality, tells apart two values the texts of a page's rows are kept for:
    equal aware times in other zones (shown in their own zone when the viewer has none) and the
    fold of a repeated hour."""
    return (value.tzinfo, value.fold) if isinstance(value, datetime) else (None, 0)


# A page's rows are rebuilt from kept views at every visit: the texts of the same moments, for the
# same zone and locale, are kept (they never change).
@functools.lru_cache(maxsize=8192)
def _day(value: date, _key: tuple[tzinfo | None, int], zone: tzinfo | None, locale: str) -> str:
    if isinstance(value, datetime):
        value = local(value, zone).date() if zone is not None else value.date()
    loc = _babel_locale(locale)
    if _english(loc):
        return f"{value.day} {value.strftime('%b %Y')}"
    return format_date(value, format="medium", locale=loc)


def _pattern(value: date, english: str, pattern: str) -> str:
    """`value` with strftime's `english` in English, else Babel's `pattern` in the current locale."""
    loc = _babel_locale(_locale.get())
    if _english(loc):
        return value.strftime(english)
    return format_date(value, format=pattern, locale=loc)


def calendar_day(value: datetime | date | None) -> str:
    """The day a document is dated, as it is stored (no time zone conversion): "3 Dec 2026"."""
    if value is None:
        return ""
    plain = value.date() if isinstance(value, datetime) else value
    return f"{plain.day} {plain.strftime('%b %Y')}" if _english(_babel_locale(_locale.get())) else \
        format_date(plain, format="medium", locale=_babel_locale(_locale.get()))


def long_day(value: datetime | date) -> str:
    """"03 December 2026" / "3. Dezember 2026" / "3 décembre 2026"."""
    return _pattern(value, "%d %B %Y", "long")


def weekday_day(value: datetime | date) -> str:
    """"Friday 04 December" / "Freitag, 4. Dezember" / "vendredi 4 décembre"."""
    return _pattern(value, "%A %d %B", "EEEE d MMMM")


def month_year(value: date) -> str:
    """"Dec 26" / "Dez. 26" / "déc. 26" (a chart's axis)."""
    return _pattern(value, "%b %y", "MMM yy")


def day_time(value: datetime | None, zone: tzinfo | None = None) -> str:
    """A moment in the viewer's zone: "3 Dec 2026, 14:05" in English, "03.12.2026, 14:05" in German."""
    if value is None:
        return ""
    return _day_time(value, _moment_key(value), zone or _zone.get(), _locale.get())


@functools.lru_cache(maxsize=8192)
def _day_time(value: datetime, _key: tuple[tzinfo | None, int], zone: tzinfo | None, locale: str) -> str:
    if zone is not None:
        value = local(value, zone)
    loc = _babel_locale(locale)
    if _english(loc):
        return f"{value.day} {value.strftime('%b %Y, %H:%M')}"
    when = format_time(value.time().replace(tzinfo=None), format="short", locale=loc)
    return str(get_datetime_format("medium", locale=loc)).replace("{1}", format_date(value.date(), format="medium",
                                                                                     locale=loc)).replace("{0}", when)


def humanize(token: str) -> str:
    return token.replace("_", " ").capitalize()


def plural(n: int, singular: str, many: str = "") -> str:
    """'1 open invoice', '3 open invoices': the count with the word that fits it, in the current
    language when the catalogs have "{n} <word>" (the words passed today are marked below)."""
    return tr_n(f"{{n}} {singular}", f"{{n}} {many or singular + 's'}", n)


def _counted_words() -> None:  # pragma: no cover - never called: marks the words callers pass to plural()
    tr_n("{n} day", "{n} days", 0)
    tr_n("{n} hour", "{n} hours", 0)
    tr_n("{n} item", "{n} items", 0)
    tr_n("{n} other session", "{n} other sessions", 0)


def ago(value: datetime, now: datetime) -> str:
    """'just now', '5 minutes ago', '3 hours ago', '2 days ago': how long since a moment."""
    minutes = int((now - value).total_seconds() // 60)
    if minutes < 2:
        return tr("just now")
    if minutes < 60:
        return tr_n("{n} minute ago", "{n} minutes ago", minutes)
    if minutes < 48 * 60:
        return tr_n("{n} hour ago", "{n} hours ago", minutes // 60)
    return tr_n("{n} day ago", "{n} days ago", minutes // 1440)
