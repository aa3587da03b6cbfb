"""The self-service policy for orders, read from the TOML file named in settings.

The file says which order states allow which action, the return window, the store-credit
bonus and which carriers offer delivery windows; code only applies it.
"""

from __future__ import annotations

import dataclasses
import tomllib
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from portal.live.loop import blocking_point
from portal.settings import get_settings

ACTIONS = ("cancel", "change_address", "change_variant", "delivery_window", "return", "reorder")


@dataclasses.dataclass(frozen=True, slots=True)
class Slot:
    key: str
    label: str
    start: time
    end: time


@dataclasses.dataclass(frozen=True, slots=True)
class WindowOffer:
    key: str  # "YYYY-MM-DD/slot"
    label: str
    start: datetime
    end: datetime


@dataclasses.dataclass(frozen=True)
class OrderPolicy:
    return_window_days: int
    store_credit_bonus_percent: int
    return_photos_max: int
    return_photo_max_bytes: int
    return_photo_types: tuple[str, ...]
    max_line_quantity: int
    shipping_cents: int
    free_shipping_from_cents: int
    vat_percent: int
    returns_address: tuple[str, ...]
    allowed_states: dict[str, frozenset[str]]
    window_timezone: str
    default_carrier: str
    carrier_by_country: dict[str, str]
    window_first_day: int
    window_days: int
    skip_weekends: bool
    carrier_slots: dict[str, tuple[Slot, ...]]

    def allows(self, action: str, status: str) -> bool:
        return status in self.allowed_states.get(action, frozenset())

    def planned_carrier(self, country: str) -> str:
        return self.carrier_by_country.get(country.upper(), self.default_carrier)

    def bonus_cents(self, refund_cents: int) -> int:
        return refund_cents * self.store_credit_bonus_percent // 100

    def shipping_for(self, subtotal_cents: int) -> int:
        return 0 if subtotal_cents >= self.free_shipping_from_cents else self.shipping_cents

    def vat_included(self, gross_cents: int) -> int:
        return round(gross_cents * self.vat_percent / (100 + self.vat_percent))

    def window_offers(self, carrier: str, now: datetime) -> list[WindowOffer]:
        """The windows this carrier offers from `now`, in the policy's time zone."""
        slots = self.carrier_slots.get(carrier, ())
        if not slots:
            return []
        tz = ZoneInfo(self.window_timezone)
        day = now.astimezone(tz).date() + timedelta(days=self.window_first_day)
        out: list[WindowOffer] = []
        days = 0
        while days < self.window_days:
            if not (self.skip_weekends and day.weekday() >= 5):
                days += 1
                for slot in slots:
                    out.append(_offer(day, slot, tz))
            day += timedelta(days=1)
        return out


def _offer(day: date, slot: Slot, tz: ZoneInfo) -> WindowOffer:
    start = datetime.combine(day, slot.start, tzinfo=tz)
    end = datetime.combine(day, slot.end, tzinfo=tz)
    return WindowOffer(key=f"{day.isoformat()}/{slot.key}", label=f"{day:%a %d %b}, {slot.label}",
                       start=start.astimezone(ZoneInfo("UTC")), end=end.astimezone(ZoneInfo("UTC")))


def _slots(raw: list[dict[str, Any]]) -> tuple[Slot, ...]:
    return tuple(Slot(key=str(s["key"]), label=str(s["label"]), start=time.fromisoformat(s["start"]),
                      end=time.fromisoformat(s["end"])) for s in raw)


def parse_policy(data: dict[str, Any]) -> OrderPolicy:
    windows = data.get("delivery_windows", {})
    allowed = {action: frozenset(data.get("allowed_states", {}).get(action, ())) for action in ACTIONS}
    return OrderPolicy(
        return_window_days=int(data.get("return_window_days", 30)),
        store_credit_bonus_percent=int(data.get("store_credit_bonus_percent", 0)),
        return_photos_max=int(data.get("return_photos_max", 4)),
        return_photo_max_bytes=int(data.get("return_photo_max_bytes", 5 * 1024 * 1024)),
        return_photo_types=tuple(data.get("return_photo_types", ("image/jpeg", "image/png"))),
        max_line_quantity=int(data.get("max_line_quantity", 10)),
        shipping_cents=int(data.get("shipping_cents", 0)),
        free_shipping_from_cents=int(data.get("free_shipping_from_cents", 0)),
        vat_percent=int(data.get("vat_percent", 0)),
        returns_address=tuple(str(x) for x in data.get("returns_address", ())),
        allowed_states=allowed,
        window_timezone=str(windows.get("timezone", "UTC")),
        default_carrier=str(windows.get("default_carrier", "")),
        carrier_by_country={k.upper(): str(v) for k, v in windows.get("carrier_by_country", {}).items()},
        window_first_day=int(windows.get("first_day", 1)),
        window_days=int(windows.get("days", 5)),
        skip_weekends=bool(windows.get("skip_weekends", True)),
        carrier_slots={slug: _slots(spec.get("slots", [])) for slug, spec in windows.get("carriers", {}).items()},
    )


_cache: dict[tuple[Path, float], OrderPolicy] = {}


def current_policy() -> OrderPolicy:
    """The policy file as it is now: an edit is picked up without a restart."""
    path = get_settings().orders_policy_file
    key = (path, path.stat().st_mtime)
    policy = _cache.get(key)
    if policy is None:
        blocking_point("policy file")
        with path.open("rb") as fh:
            policy = parse_policy(tomllib.load(fh))
        _cache.clear()
        _cache[key] = policy
    return policy
