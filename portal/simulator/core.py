"""A carrier simulator that speaks the AfterShip Tracking API 2026-07 and sends its webhooks.

Same paths (/tracking/2026-07/trackings...), same `as-api-key` auth, same JSON envelopes and
tracking objects, same rate-limit headers and 429 answers, and the same signed webhooks
(`aftership-hmac-sha256`, an `event_id` per delivery, retried on failure). Shipments follow
scenario timelines on a virtual clock that tests move with `advance()`; the demo moves it
with real time. Faults can be injected: the next N requests answer 500 or stall.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import logging
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from portal.integrations.aftership import API_VERSION, SIGNATURE_HEADER, SUBTAGS, sign, tag_of
from portal.integrations.http_input import BadJson, BodyTooLarge, parse_json, read_body

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Step:
    """One checkpoint of a timeline, `after` the previous one; `where` names a stop of the route."""

    after: timedelta
    subtag: str
    message: str
    where: str  # origin, hub, depot, city
    edd_shift: timedelta = timedelta(0)  # the carrier moves its estimate by this much
    revise_reason: str = ""


H = timedelta(hours=1)
# The largest request body the simulated API reads.
MAX_BODY = 64 * 1024
_PICKUP = [
    Step(timedelta(0), "InfoReceived_001", "Shipment information received from the sender", "origin"),
    Step(3 * H, "InTransit_002", "Parcel collected from the sender's warehouse", "origin"),
    Step(5 * H, "InTransit_003", "Arrived at sorting centre", "hub"),
]
_TO_DEPOT = [
    Step(3 * H, "InTransit_007", "Departed sorting centre", "hub"),
    Step(8 * H, "InTransit_004", "Arrived at local delivery depot", "depot"),
]
_OFD = Step(7 * H, "OutForDelivery_001", "Out for delivery with the driver", "depot")
_DELIVERED = Step(4 * H, "Delivered_001", "Delivered to the front door", "city")

SCENARIOS: dict[str, list[Step]] = {
    "standard": [*_PICKUP, *_TO_DEPOT, _OFD, _DELIVERED],
    "failed_attempt": [
        *_PICKUP, *_TO_DEPOT, _OFD,
        Step(4 * H, "AttemptFail_002", "Delivery attempted – recipient not at home; we will try again "
                                       "on the next working day", "city", edd_shift=24 * H,
             revise_reason="Failed delivery attempt"),
        Step(16 * H, "OutForDelivery_001", "Out for delivery with the driver (second attempt)", "depot"),
        Step(4 * H, "Delivered_001", "Delivered – signed for by the recipient", "city"),
    ],
    "exception": [
        *_PICKUP,
        Step(6 * H, "Exception_007", "Address could not be found; the parcel is held at the sorting centre",
             "hub"),
        Step(24 * H, "Exception_010", "Returning to sender", "hub"),
        Step(30 * H, "Exception_011", "Returned to sender", "origin"),
    ],
    "delay": [
        *_PICKUP,
        Step(4 * H, "InTransit_001", "Delayed at sorting centre due to high parcel volumes; a new delivery "
                                     "date has been set", "hub", edd_shift=48 * H, revise_reason="Carrier delay"),
        Step(40 * H, "InTransit_007", "Departed sorting centre", "hub"),
        Step(8 * H, "InTransit_004", "Arrived at local delivery depot", "depot"),
        _OFD, _DELIVERED,
    ],
    "pickup": [
        *_PICKUP, *_TO_DEPOT,
        Step(6 * H, "AvailableForPickup_001", "Ready for collection at your local parcel shop", "depot"),
        Step(20 * H, "Delivered_002", "Collected by the recipient", "depot"),
    ],
}


@dataclasses.dataclass
class Route_:
    origin: str = "Venlo, NL"
    hub: str = "Sorting centre, Nieuwegein, NL"
    depot: str = "Delivery depot, Amsterdam, NL"
    city: str = "Amsterdam, NL"

    def place(self, where: str) -> str:
        return str(getattr(self, where, where))


class VirtualClock:
    """Time as the simulator sees it. Tests move it; the demo keeps it at real time."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = (start or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> datetime:
        self._now += timedelta(seconds=seconds)
        return self._now

    def set(self, when: datetime) -> None:
        self._now = max(self._now, when.astimezone(UTC))


@dataclasses.dataclass
class SimTracking:
    id: str
    slug: str
    tracking_number: str
    steps: list[Step]
    route: Route_
    created_at: datetime
    updated_at: datetime
    next_due: datetime | None
    title: str = ""
    order_id: str = ""
    checkpoints: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    tag: str = "Pending"
    subtag: str = "Pending_001"
    first_edd: tuple[datetime, datetime] | None = None
    latest_edd: tuple[datetime, datetime] | None = None
    revise_reason: str = ""
    delivered_at: datetime | None = None
    # Real-time gap between steps for the demo; None: the scenario's own (virtual) durations.
    cadence: timedelta | None = None


def _iso(dt: datetime | None) -> str | None:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z") if dt else None


def _edd(window: tuple[datetime, datetime] | None, source: str, reason: str = "") -> dict[str, Any] | None:
    if window is None:
        return None
    out: dict[str, Any] = {"type": "date_range", "source": source, "datetime": None,
                           "datetime_min": _iso(window[0]), "datetime_max": _iso(window[1])}
    if reason:
        out["revise_reason"] = reason
    return out


@dataclasses.dataclass
class Delivery:
    event_id: str
    tracking_id: str
    attempts: int = 0
    status: int = 0  # last HTTP status, 0 for a transport error
    delivered: bool = False


class Simulator:
    def __init__(self, *, api_key: str, webhook_secret: str, webhook_url: str = "",
                 webhook_transport: httpx.AsyncBaseTransport | None = None, clock: VirtualClock | None = None,
                 rate_limits: dict[str, int] | None = None, retry_delays: Iterable[float] = (1.0, 5.0, 25.0),
                 webhook_timeout: float = 5.0) -> None:
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        self.webhook_url = webhook_url
        self.webhook_transport = webhook_transport
        self.webhook_timeout = webhook_timeout
        self.clock = clock or VirtualClock()
        # Per-endpoint requests per second, as AfterShip publishes them for the tracking API
        # (per-endpoint limits since version 2024-07).
        self.rate_limits = {"POST /trackings": 20, "GET /trackings": 6, "GET /trackings/{id}": 5,
                            **(rate_limits or {})}
        self.retry_delays = tuple(retry_delays)
        self.trackings: dict[str, SimTracking] = {}
        self._by_number: dict[tuple[str, str], str] = {}
        self._windows: dict[str, tuple[int, int]] = {}
        self._faults: list[tuple[str, float]] = []
        self.deliveries: list[Delivery] = []
        self.requests = 0
        self._lock = asyncio.Lock()

    # -- shipments -------------------------------------------------------------------------------

    def add_tracking(self, *, slug: str, tracking_number: str, scenario: str | list[Step] = "standard",
                     title: str = "", order_id: str = "", route: Route_ | None = None,
                     history: Iterable[dict[str, Any]] = (), tag: str = "", subtag: str = "",
                     first_edd: tuple[datetime, datetime] | None = None,
                     latest_edd: tuple[datetime, datetime] | None = None, updated_at: datetime | None = None,
                     cadence: timedelta | None = None, start_in: timedelta = timedelta(0),
                     tracking_id: str = "") -> SimTracking:
        """Register a shipment. With `history`, it continues from those checkpoints with `scenario`."""
        key = (slug, tracking_number)
        if key in self._by_number:
            raise ValueError("tracking already exists")
        steps = list(SCENARIOS[scenario]) if isinstance(scenario, str) else list(scenario)
        now = self.clock.now()
        hist = list(history)
        if hist and steps:
            # The steps already taken are the history; `scenario` is what happens next.
            first_after = steps[0].after
            steps = [steps[0]] * len(hist) + steps
        else:
            first_after = timedelta(0)
        t = SimTracking(
            id=tracking_id or uuid.uuid4().hex, slug=slug, tracking_number=tracking_number, steps=steps,
            route=route or Route_(), created_at=now, updated_at=updated_at or now, title=title or tracking_number,
            order_id=order_id, checkpoints=hist, cadence=cadence,
            next_due=now + start_in + (cadence if cadence is not None and hist else first_after),
        )
        if hist:
            last = hist[-1]
            t.tag, t.subtag = tag or str(last.get("tag") or "Pending"), subtag or str(last.get("subtag") or "")
        if first_edd is None:
            total = sum((s.after for s in steps[len(hist):]), timedelta(0))
            due = now + start_in + total
            first_edd = (due - 4 * H, due + 4 * H)
        t.first_edd = first_edd
        t.latest_edd = latest_edd or first_edd
        self.trackings[t.id] = t
        self._by_number[key] = t.id
        return t

    def forget(self, tracking_id: str) -> None:
        t = self.trackings.pop(tracking_id, None)
        if t is not None:
            self._by_number.pop((t.slug, t.tracking_number), None)

    def find(self, slug: str, tracking_number: str) -> SimTracking | None:
        tid = self._by_number.get((slug, tracking_number))
        return self.trackings.get(tid) if tid else None

    def snapshot(self, t: SimTracking) -> dict[str, Any]:
        """The tracking object as AfterShip 2026-07 returns it (the fields the portal reads and more)."""
        delivered = t.tag == "Delivered"
        return {
            "id": t.id, "legacy_id": t.id[:24], "tracking_number": t.tracking_number, "slug": t.slug,
            "active": not delivered and t.tag not in ("Expired",),
            "created_at": _iso(t.created_at), "updated_at": _iso(t.updated_at),
            "title": t.title, "order_id": t.order_id or None, "tag": t.tag, "subtag": t.subtag,
            "subtag_message": SUBTAGS.get(t.subtag, ""), "source": "api",
            "checkpoints": list(t.checkpoints),
            "courier_estimated_delivery_date": None if t.latest_edd is None else {
                "estimated_delivery_date": None,
                "estimated_delivery_date_min": _iso(t.latest_edd[0]),
                "estimated_delivery_date_max": _iso(t.latest_edd[1]),
            },
            "first_estimated_delivery": _edd(t.first_edd, "Carrier EDD"),
            "latest_estimated_delivery": _edd(t.latest_edd, "Carrier EDD", t.revise_reason),
            "shipment_delivery_date": _iso(t.delivered_at),
            "return_to_sender": t.subtag in ("Exception_010", "Exception_011"),
            "failed_delivery_attempts": sum(1 for c in t.checkpoints if c.get("tag") == "AttemptFail"),
        }

    def _reveal(self, t: SimTracking, at: datetime) -> dict[str, Any] | None:
        """Append the next step's checkpoint at `at`; returns the webhook body or None when done."""
        index = len(t.checkpoints)
        if index >= len(t.steps):
            t.next_due = None
            return None
        step = t.steps[index]
        place = t.route.place(step.where)
        city, _, country = place.rpartition(", ")
        cp = {
            "slug": t.slug, "checkpoint_time": _iso(at), "created_at": _iso(at), "location": place,
            "city": city or place, "country_region": country if len(country) <= 3 else "",
            "message": step.message, "tag": tag_of(step.subtag), "subtag": step.subtag,
            "subtag_message": SUBTAGS.get(step.subtag, ""), "raw_tag": step.subtag.upper(), "source": "carrier",
            "hash": hashlib.sha256(f"{t.id}|{index}|{step.subtag}".encode()).hexdigest()[:32],
        }
        first_of_tag = all(c.get("tag") != cp["tag"] for c in t.checkpoints)
        t.checkpoints.append(cp)
        t.tag, t.subtag = tag_of(step.subtag), step.subtag
        t.updated_at = at
        if step.edd_shift and t.latest_edd:
            t.latest_edd = (t.latest_edd[0] + step.edd_shift, t.latest_edd[1] + step.edd_shift)
            t.revise_reason = step.revise_reason
        if t.tag == "Delivered":
            t.delivered_at = at
        nxt = index + 1
        if nxt < len(t.steps):
            t.next_due = at + (t.cadence if t.cadence is not None else t.steps[nxt].after)
        else:
            t.next_due = None
        return {"event_id": str(uuid.uuid4()), "event": "tracking_update", "is_tracking_first_tag": first_of_tag,
                "msg": self.snapshot(t), "ts": int(at.timestamp())}

    async def advance(self, seconds: float = 0.0) -> list[Delivery]:
        """Move the clock; every checkpoint that falls due is revealed and announced by webhook."""
        now = self.clock.advance(seconds)
        return await self._release(now)

    async def advance_to(self, when: datetime) -> list[Delivery]:
        self.clock.set(when)
        return await self._release(self.clock.now())

    async def _release(self, now: datetime) -> list[Delivery]:
        bodies: list[tuple[str, dict[str, Any]]] = []
        for t in list(self.trackings.values()):
            while t.next_due is not None and t.next_due <= now:
                body = self._reveal(t, t.next_due if t.cadence is None else max(t.next_due, now))
                if body is None:
                    break
                bodies.append((t.id, body))
        bodies.sort(key=lambda b: b[1]["ts"])
        return [await self.deliver(tid, body) for tid, body in bodies]

    async def step(self, tracking_id: str) -> Delivery | None:
        """Reveal the next checkpoint of one shipment now (the demo and tests use this)."""
        t = self.trackings[tracking_id]
        body = self._reveal(t, self.clock.now())
        return None if body is None else await self.deliver(t.id, body)

    # -- webhooks --------------------------------------------------------------------------------

    async def deliver(self, tracking_id: str, body: dict[str, Any]) -> Delivery:
        """POST the signed webhook; retry with the same event_id until it is accepted or we give up."""
        raw = json.dumps(body, separators=(",", ":")).encode()
        d = Delivery(event_id=body["event_id"], tracking_id=tracking_id)
        self.deliveries.append(d)
        if not self.webhook_url:
            return d
        headers = {"content-type": "application/json", SIGNATURE_HEADER: sign(raw, self.webhook_secret),
                   "as-webhook-version": API_VERSION, "user-agent": "aftership-simulator/2026-07"}
        async with httpx.AsyncClient(transport=self.webhook_transport, timeout=self.webhook_timeout) as http:
            for delay in (0.0, *self.retry_delays):
                if delay:
                    await asyncio.sleep(delay)
                d.attempts += 1
                try:
                    resp = await http.post(self.webhook_url, content=raw, headers=headers)
                    d.status = resp.status_code
                except httpx.HTTPError:
                    d.status = 0
                    continue
                if 200 <= resp.status_code < 300:
                    d.delivered = True
                    break
        if not d.delivered:
            log.warning("webhook %s not accepted after %d attempts", d.event_id, d.attempts)
        return d

    # -- faults ----------------------------------------------------------------------------------

    def fail_next(self, count: int = 1, *, status: int = 500) -> None:
        self._faults.extend([("status", float(status))] * count)

    def stall_next(self, count: int = 1, *, seconds: float = 5.0) -> None:
        self._faults.extend([("stall", seconds)] * count)

    # -- the HTTP API ----------------------------------------------------------------------------

    def _limit(self, key: str) -> tuple[dict[str, str], bool]:
        limit = self.rate_limits.get(key, 10)
        sec = int(time.time())
        start, count = self._windows.get(key, (sec, 0))
        if start != sec:
            start, count = sec, 0
        count += 1
        self._windows[key] = (start, count)
        headers = {"x-ratelimit-limit": str(limit), "x-ratelimit-remaining": str(max(0, limit - count)),
                   "x-ratelimit-reset": str(sec + 1)}
        return headers, count > limit

    async def _guard(self, request: Request, key: str) -> tuple[dict[str, str], Response | None]:
        self.requests += 1
        if request.headers.get("as-api-key") != self.api_key:
            return {}, _error(401, 401, "Unauthorized", "Invalid API key.")
        headers, over = self._limit(key)
        if over:
            return headers, _error(429, 42900, "TooManyRequests", "You have exceeded the API call rate limit.",
                                   {**headers, "retry-after": "1"})
        if self._faults:
            kind, value = self._faults.pop(0)
            if kind == "stall":
                await asyncio.sleep(value)
            else:
                return headers, _error(int(value), 50000, "InternalError", "Something went wrong on AfterShip's end.",
                                       headers)
        return headers, None

    async def _create(self, request: Request) -> Response:
        headers, err = await self._guard(request, "POST /trackings")
        if err is not None:
            return err
        try:
            body = parse_json(await read_body(request, MAX_BODY))
        except BodyTooLarge as exc:
            return _error(413, 41300, "PayloadTooLarge", str(exc), headers)
        except BadJson as exc:
            return _error(400, 40000, "BadRequest", str(exc), headers)
        if not isinstance(body, dict) or not body.get("tracking_number") or not body.get("slug"):
            return _error(400, 40001, "MissingParameter", "tracking_number and slug are required.", headers)
        existing = self.find(str(body["slug"]), str(body["tracking_number"]))
        if existing is not None:
            return _error(409, 4003, "Conflict", "Tracking already exists.", headers, data={"id": existing.id})
        async with self._lock:
            t = self.add_tracking(slug=str(body["slug"])[:40], tracking_number=str(body["tracking_number"])[:64],
                                  title=str(body.get("title") or ""), order_id=str(body.get("order_id") or ""))
            await self._release(self.clock.now())
        return _ok(self.snapshot(t), headers, status=201)

    async def _get(self, request: Request) -> Response:
        headers, err = await self._guard(request, "GET /trackings/{id}")
        if err is not None:
            return err
        t = self.trackings.get(request.path_params["id"])
        if t is None:
            return _error(404, 4004, "NotFound", "Tracking does not exist.", headers)
        return _ok(self.snapshot(t), headers)

    async def _list(self, request: Request) -> Response:
        headers, err = await self._guard(request, "GET /trackings")
        if err is not None:
            return err
        q = request.query_params
        try:
            limit = max(1, min(int(q.get("limit", "100")), 200))
            offset = int(q.get("cursor") or 0)
        except ValueError:
            return _error(400, 40000, "BadRequest", "Invalid query.", headers)
        items = sorted(self.trackings.values(), key=lambda t: (t.created_at, t.id))
        if q.get("tracking_numbers"):
            wanted = set(q["tracking_numbers"].split(","))
            items = [t for t in items if t.tracking_number in wanted]
        if q.get("slug"):
            slugs = set(q["slug"].split(","))
            items = [t for t in items if t.slug in slugs]
        if q.get("tag"):
            items = [t for t in items if t.tag == q["tag"]]
        page = items[offset: offset + limit]
        more = offset + limit < len(items)
        return _ok({"pagination": {"total": len(items), "next_cursor": str(offset + limit) if more else None,
                                   "has_next_page": more},
                    "trackings": [self.snapshot(t) for t in page]}, headers)

    async def _advance(self, request: Request) -> Response:
        # Not part of AfterShip: lets a person or a script move the clock of a standalone simulator.
        if request.headers.get("as-api-key") != self.api_key:
            return _error(401, 401, "Unauthorized", "Invalid API key.")
        try:
            seconds = float(request.query_params.get("seconds", "3600"))
        except ValueError:
            return _error(400, 40000, "BadRequest", "seconds must be a number")
        deliveries = await self.advance(max(0.0, min(seconds, 30 * 86400)))
        return JSONResponse({"now": _iso(self.clock.now()), "webhooks": len(deliveries)})

    def routes(self) -> list[Route]:
        base = f"/tracking/{API_VERSION}"
        return [
            Route(f"{base}/trackings", self._create, methods=["POST"]),
            Route(f"{base}/trackings", self._list, methods=["GET"]),
            Route(f"{base}/trackings/{{id}}", self._get, methods=["GET"]),
            Route("/_control/advance", self._advance, methods=["POST"]),
        ]

    def asgi(self) -> Starlette:
        return Starlette(routes=self.routes())


def _ok(data: Any, headers: dict[str, str], status: int = 200) -> Response:
    meta = {"code": status, "message": "OK" if status == 200 else "Created", "type": "OK"}
    return JSONResponse({"meta": meta, "data": data}, status_code=status, headers=headers)


def _error(status: int, code: int, type_: str, message: str, headers: dict[str, str] | None = None,
           data: Any = None) -> Response:
    return JSONResponse({"meta": {"code": code, "type": type_, "message": message}, "data": data or {}},
                        status_code=status, headers=headers or {})
