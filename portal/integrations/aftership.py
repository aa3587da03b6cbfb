"""AfterShip Tracking API, version 2026-07, over one configured httpx client.

Written against AfterShip's public documentation:
- base URL https://api.aftership.com/tracking/2026-07, `as-api-key` header auth;
- every response is an envelope {"meta": {"code", "type", "message"}, "data": ...};
- POST /trackings creates, GET /trackings/{id} reads one, GET /trackings lists with cursor
  pagination ({"pagination": {"total", "next_cursor", "has_next_page"}, "trackings": [...]});
- the tracking object carries `tag`/`subtag`/`subtag_message` (nine tags, subtags such as
  InTransit_007), `checkpoints` (with `hash` since 2026-07), the carrier's
  `courier_estimated_delivery_date`, and `first_estimated_delivery` / `latest_estimated_delivery`;
- rate limits are announced with x-ratelimit-limit/-remaining/-reset (unix time) headers; a 429
  also carries retry-after;
- webhooks are signed with `aftership-hmac-sha256`: base64(HMAC-SHA256(raw body, webhook secret)).

Results are typed (frozen dataclasses). Rate limits, 5xx answers and timeouts surface as
`Retryable` errors that say how long to wait; nothing here knows about the portal's database.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import hmac
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime
from datetime import time as dtime
from types import TracebackType
from typing import Any

import httpx

from portal.i18n import N_
from portal.integrations.http_input import BadJson, parse_json

API_VERSION = "2026-07"
PUBLIC_BASE_URL = f"https://api.aftership.com/tracking/{API_VERSION}"
SIGNATURE_HEADER = "aftership-hmac-sha256"

TAGS = ("Pending", "InfoReceived", "InTransit", "OutForDelivery", "AttemptFail", "Delivered",
        "AvailableForPickup", "Exception", "Expired")

# AfterShip's normalised sub-statuses (the ones the portal shows or the simulator produces), in English as
# AfterShip sends them and as stored; a page shows one in the reader's language with tr(SUBTAGS[subtag]).
SUBTAGS: dict[str, str] = {
    "Pending_001": N_("No information yet"),
    "Pending_002": N_("Awaiting carrier acceptance"),
    "InfoReceived_001": N_("Info received"),
    "InTransit_001": N_("In transit"),
    "InTransit_002": N_("Acceptance scan"),
    "InTransit_003": N_("Arrival scan"),
    "InTransit_004": N_("Arrived at the destination delivery facility"),
    "InTransit_005": N_("Customs clearance completed"),
    "InTransit_006": N_("Customs clearance started"),
    "InTransit_007": N_("Departure scan"),
    "InTransit_008": N_("Problem resolved and shipment in transit"),
    "InTransit_009": N_("Forwarded to a different delivery address"),
    "OutForDelivery_001": N_("Out for delivery"),
    "OutForDelivery_003": N_("Customer contacted"),
    "OutForDelivery_004": N_("Delivery appointment scheduled"),
    "AttemptFail_001": N_("Failed delivery attempt"),
    "AttemptFail_002": N_("Addressee not available"),
    "AttemptFail_003": N_("Business closed"),
    "Delivered_001": N_("Delivered"),
    "Delivered_002": N_("Picked up by the customer"),
    "Delivered_003": N_("Signed by customer"),
    "Delivered_004": N_("Delivered and received cash on delivery"),
    "Delivered_005": N_("Delivered to neighbor"),
    "AvailableForPickup_001": N_("Available for pickup"),
    "Exception_001": N_("Exception"),
    "Exception_004": N_("Delayed (customs clearance)"),
    "Exception_005": N_("Delayed (external factors)"),
    "Exception_006": N_("Held for payment"),
    "Exception_007": N_("Incorrect address"),
    "Exception_010": N_("Returning to sender"),
    "Exception_011": N_("Returned to sender"),
    "Exception_013": N_("Lost"),
    "Expired_001": N_("Expired"),
}


def tag_of(subtag: str) -> str:
    """'InTransit_007' -> 'InTransit'."""
    return subtag.split("_", 1)[0]


# --------------------------------------------------------------------------------------------------
# Typed results
# --------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Checkpoint:
    checkpoint_time: datetime
    tag: str
    subtag: str
    subtag_message: str
    message: str
    location: str
    city: str = ""
    state: str = ""
    country_region: str = ""
    postal_code: str = ""
    slug: str = ""
    hash: str = ""
    raw: dict[str, Any] = dataclasses.field(default_factory=dict, compare=False, hash=False)

    @property
    def key(self) -> str:
        """Stable identity for de-duplication: the carrier's hash when given, else our own."""
        if self.hash and len(self.hash) <= 64:
            return self.hash
        src = f"{self.checkpoint_time.isoformat()}|{self.subtag}|{self.location}|{self.message}|{self.hash}"
        return hashlib.sha256(src.encode()).hexdigest()[:40]


@dataclasses.dataclass(frozen=True, slots=True)
class DeliveryEstimate:
    """A promised delivery moment or window; `start` is None for a single point in time."""

    start: datetime | None
    end: datetime | None
    source: str = ""
    revise_reason: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class Tracking:
    id: str
    tracking_number: str
    slug: str
    tag: str
    subtag: str
    subtag_message: str
    created_at: datetime | None
    updated_at: datetime | None
    checkpoints: tuple[Checkpoint, ...] = ()
    expected: DeliveryEstimate | None = None
    first_expected: DeliveryEstimate | None = None
    delivered_at: datetime | None = None
    title: str = ""
    order_id: str = ""
    active: bool = True


@dataclasses.dataclass(frozen=True, slots=True)
class TrackingPage:
    trackings: tuple[Tracking, ...]
    total: int
    next_cursor: str | None
    has_next_page: bool


@dataclasses.dataclass(frozen=True, slots=True)
class RateLimit:
    limit: int | None
    remaining: int | None
    reset_at: float | None  # unix time


@dataclasses.dataclass(frozen=True, slots=True)
class WebhookEvent:
    event_id: str
    event: str
    ts: int
    tracking: Tracking
    is_tracking_first_tag: bool = False


# --------------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------------


class AfterShipError(Exception):
    def __init__(self, message: str, *, status: int = 0, code: int = 0, type_: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.type = type_


class Retryable(AfterShipError):
    """Try again later; `retry_after` (seconds) is the carrier's wish when it said one."""

    def __init__(self, message: str, *, retry_after: float = 0.0, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class RateLimited(Retryable):
    pass


class ServerError(Retryable):
    pass


class CarrierTimeout(Retryable):
    pass


class Unauthorized(AfterShipError):
    pass


class TrackingNotFound(AfterShipError):
    pass


class TrackingExists(AfterShipError):
    pass


class BadRequest(AfterShipError):
    pass


class MalformedPayload(AfterShipError):
    pass


# --------------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------------


def parse_time(value: Any, *, end_of_day: bool = False) -> datetime | None:
    """AfterShip sends `YYYY-MM-DD`, `YYYY-MM-DDTHH:mm:ss` or with an offset; naive means UTC here."""
    if not value or not isinstance(value, str):
        return None
    text = value.strip().replace("Z", "+00:00")
    try:
        if len(text) == 10:
            d = date.fromisoformat(text)
            return datetime.combine(d, dtime(23, 59, 59) if end_of_day else dtime(0, 0), tzinfo=UTC)
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _s(value: Any, limit: int = 500) -> str:
    return str(value)[:limit] if value is not None else ""


def _location(cp: dict[str, Any]) -> str:
    if cp.get("location"):
        return _s(cp["location"], 200)
    parts = [cp.get("city"), cp.get("state"), cp.get("country_region_name") or cp.get("country_region")]
    return ", ".join(_s(p, 80) for p in parts if p)[:200]


def parse_checkpoint(cp: dict[str, Any]) -> Checkpoint | None:
    at = parse_time(cp.get("checkpoint_time"))
    if at is None:
        return None
    subtag = _s(cp.get("subtag"), 32)
    tag = _s(cp.get("tag"), 24) or tag_of(subtag)
    return Checkpoint(
        checkpoint_time=at, tag=tag, subtag=subtag,
        subtag_message=_s(cp.get("subtag_message"), 200) or SUBTAGS.get(subtag, ""),
        message=_s(cp.get("message")), location=_location(cp), city=_s(cp.get("city"), 80),
        state=_s(cp.get("state"), 80), country_region=_s(cp.get("country_region"), 3),
        postal_code=_s(cp.get("postal_code"), 20), slug=_s(cp.get("slug"), 40), hash=_s(cp.get("hash"), 200),
        raw=cp,
    )


def _estimate(obj: Any) -> DeliveryEstimate | None:
    """first_/latest_estimated_delivery: {type, source, datetime, datetime_min, datetime_max, revise_reason}."""
    if not isinstance(obj, dict):
        return None
    point = parse_time(obj.get("datetime"), end_of_day=True)
    lo = parse_time(obj.get("datetime_min"))
    hi = parse_time(obj.get("datetime_max"), end_of_day=True)
    if lo is None and hi is None and point is None:
        return None
    return DeliveryEstimate(start=lo, end=hi or point, source=_s(obj.get("source"), 40),
                            revise_reason=_s(obj.get("revise_reason"), 200))


def _courier_estimate(obj: Any) -> DeliveryEstimate | None:
    """courier_estimated_delivery_date: {estimated_delivery_date, _min, _max}."""
    if not isinstance(obj, dict):
        return None
    point = parse_time(obj.get("estimated_delivery_date"), end_of_day=True)
    lo = parse_time(obj.get("estimated_delivery_date_min"))
    hi = parse_time(obj.get("estimated_delivery_date_max"), end_of_day=True)
    if lo is None and hi is None and point is None:
        return None
    return DeliveryEstimate(start=lo, end=hi or point, source="Carrier EDD")


def parse_tracking(obj: Any) -> Tracking:
    if not isinstance(obj, dict) or not obj.get("tracking_number") or not obj.get("slug"):
        raise MalformedPayload("a tracking needs tracking_number and slug")
    raw_cps = obj.get("checkpoints") or []
    if not isinstance(raw_cps, list):
        raise MalformedPayload("checkpoints must be a list")
    cps = tuple(sorted((c for c in (parse_checkpoint(x) for x in raw_cps if isinstance(x, dict)) if c),
                       key=lambda c: c.checkpoint_time))
    subtag = _s(obj.get("subtag"), 32)
    tag = _s(obj.get("tag"), 24) or tag_of(subtag) or "Pending"
    if tag not in TAGS:
        raise MalformedPayload(f"unknown tag {tag!r}")
    expected = _estimate(obj.get("latest_estimated_delivery")) or _courier_estimate(
        obj.get("courier_estimated_delivery_date"))
    delivered = parse_time(obj.get("shipment_delivery_date"))
    if delivered is None and tag == "Delivered":
        delivered = next((c.checkpoint_time for c in reversed(cps) if c.tag == "Delivered"), None)
    return Tracking(
        id=_s(obj.get("id"), 64), tracking_number=_s(obj.get("tracking_number"), 64), slug=_s(obj.get("slug"), 40),
        tag=tag, subtag=subtag, subtag_message=_s(obj.get("subtag_message"), 200) or SUBTAGS.get(subtag, ""),
        created_at=parse_time(obj.get("created_at")), updated_at=parse_time(obj.get("updated_at")),
        checkpoints=cps, expected=expected, first_expected=_estimate(obj.get("first_estimated_delivery")),
        delivered_at=delivered, title=_s(obj.get("title"), 200), order_id=_s(obj.get("order_id"), 100),
        active=bool(obj.get("active", True)),
    )


def sign(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def verify_signature(body: bytes, signature: str | None, secret: str) -> bool:
    """Constant-time check of the `aftership-hmac-sha256` header against the raw body."""
    if not signature or not secret:
        return False
    return hmac.compare_digest(sign(body, secret), signature.strip())


def parse_webhook(body: bytes) -> WebhookEvent:
    """Raises MalformedPayload for anything that is not a tracking webhook."""
    try:
        doc = parse_json(body)
    except BadJson as exc:
        raise MalformedPayload("body is not JSON") from exc
    if not isinstance(doc, dict):
        raise MalformedPayload("body is not an object")
    event_id = doc.get("event_id")
    if not isinstance(event_id, str) or not 1 <= len(event_id) <= 100:
        raise MalformedPayload("event_id missing")
    ts = doc.get("ts", 0)
    return WebhookEvent(event_id=event_id, event=_s(doc.get("event"), 40), ts=int(ts) if isinstance(ts, int) else 0,
                        tracking=parse_tracking(doc.get("msg")),
                        is_tracking_first_tag=bool(doc.get("is_tracking_first_tag", False)))


# --------------------------------------------------------------------------------------------------
# The client
# --------------------------------------------------------------------------------------------------


class AfterShipClient:
    """One httpx.AsyncClient with timeouts; use as `async with AfterShipClient(...) as c`."""

    def __init__(self, *, base_url: str = PUBLIC_BASE_URL, api_key: str, timeout: float = 10.0,
                 transport: httpx.AsyncBaseTransport | None = None, max_wait: float = 2.0) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), transport=transport,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            headers={"as-api-key": api_key, "content-type": "application/json",
                     "user-agent": "customer-portal/1 (+aftership 2026-07)"},
        )
        # Waits up to this long on its own to honour a rate limit; longer waits are the caller's.
        self.max_wait = max_wait
        self.rate_limit = RateLimit(None, None, None)

    async def __aenter__(self) -> AfterShipClient:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def create_tracking(self, *, tracking_number: str, slug: str, title: str = "", order_id: str = "",
                              order_number: str = "") -> Tracking:
        body: dict[str, Any] = {"tracking_number": tracking_number, "slug": slug}
        if title:
            body["title"] = title
        if order_id:
            body["order_id"] = order_id
        if order_number:
            body["order_number"] = order_number
        data = await self._request("POST", "/trackings", json_body=body)
        return parse_tracking(data)

    async def get_tracking(self, tracking_id: str) -> Tracking:
        if not tracking_id or "/" in tracking_id:
            raise BadRequest("invalid tracking id")
        return parse_tracking(await self._request("GET", f"/trackings/{tracking_id}"))

    async def list_trackings(self, *, cursor: str | None = None, limit: int = 100,
                             tracking_numbers: Sequence[str] = (), slug: str | None = None,
                             tag: str | None = None) -> TrackingPage:
        params: dict[str, str] = {"limit": str(max(1, min(limit, 200)))}
        if cursor:
            params["cursor"] = cursor
        if tracking_numbers:
            params["tracking_numbers"] = ",".join(tracking_numbers[:50])
        if slug:
            params["slug"] = slug
        if tag:
            params["tag"] = tag
        data = await self._request("GET", "/trackings", params=params)
        if not isinstance(data, dict):
            raise MalformedPayload("list answer has no data")
        page = data.get("pagination") or {}
        return TrackingPage(
            trackings=tuple(parse_tracking(t) for t in data.get("trackings") or []),
            total=int(page.get("total") or 0), next_cursor=page.get("next_cursor") or None,
            has_next_page=bool(page.get("has_next_page")),
        )

    # -- transport ---------------------------------------------------------------------------------

    async def _request(self, method: str, path: str, *, params: dict[str, str] | None = None,
                       json_body: dict[str, Any] | None = None) -> Any:
        for _attempt in range(3):
            await self._honour_limit()
            try:
                resp = await self._http.request(method, path, params=params, json=json_body)
            except httpx.TimeoutException as exc:
                raise CarrierTimeout(f"{method} {path} timed out", retry_after=0) from exc
            except httpx.TransportError as exc:
                raise ServerError(f"{method} {path} failed: {exc.__class__.__name__}") from exc
            self._remember_limit(resp)
            if resp.status_code == 429:
                wait = self._retry_after(resp)
                if wait <= self.max_wait:
                    await asyncio.sleep(wait)
                    continue
                raise RateLimited("rate limited", retry_after=wait, status=429, code=42900, type_="TooManyRequests")
            return self._unwrap(resp)
        raise RateLimited("still rate limited after waiting", retry_after=1.0, status=429)

    def _unwrap(self, resp: httpx.Response) -> Any:
        try:
            doc = resp.json()
        except ValueError:
            doc = {}
        meta = doc.get("meta", {}) if isinstance(doc, dict) else {}
        msg = str(meta.get("message") or resp.reason_phrase)
        kw: dict[str, Any] = {"status": resp.status_code, "code": int(meta.get("code") or 0),
                              "type_": str(meta.get("type") or "")}
        if resp.status_code >= 500:
            raise ServerError(msg, retry_after=self._retry_after(resp, default=0.0), **kw)
        if resp.status_code == 401:
            raise Unauthorized(msg, **kw)
        if resp.status_code == 404:
            raise TrackingNotFound(msg, **kw)
        if resp.status_code == 409 or kw["code"] == 4003:
            raise TrackingExists(msg, **kw)
        if resp.status_code >= 400:
            raise BadRequest(msg, **kw)
        if not isinstance(doc, dict) or "data" not in doc:
            raise MalformedPayload("answer has no data envelope", status=resp.status_code)
        return doc["data"]

    def _remember_limit(self, resp: httpx.Response) -> None:
        def num(name: str) -> float | None:
            try:
                return float(resp.headers[name])
            except (KeyError, ValueError):
                return None

        limit, remaining, reset = num("x-ratelimit-limit"), num("x-ratelimit-remaining"), num("x-ratelimit-reset")
        if limit is not None or remaining is not None or reset is not None:
            self.rate_limit = RateLimit(int(limit) if limit is not None else None,
                                        int(remaining) if remaining is not None else None, reset)

    def _retry_after(self, resp: httpx.Response, default: float = 1.0) -> float:
        ra = resp.headers.get("retry-after")
        if ra:
            try:
                return max(0.0, float(ra))
            except ValueError:
                pass
        reset = resp.headers.get("x-ratelimit-reset")
        if reset:
            try:
                return max(0.0, float(reset) - time.time())
            except ValueError:
                pass
        return default

    async def _honour_limit(self) -> None:
        # The last answer said the window is used up: wait for its reset rather than earn a 429.
        rl = self.rate_limit
        if rl.remaining == 0 and rl.reset_at is not None:
            wait = rl.reset_at - time.time()
            if 0 < wait <= self.max_wait:
                await asyncio.sleep(wait)
            self.rate_limit = RateLimit(rl.limit, None, None)
