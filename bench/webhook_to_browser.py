"""Time from a carrier webhook reaching the portal to the change in an open browser.

    .venv/bin/python bench/webhook_to_browser.py [--samples 30] [--skip-browser] [--skip-workers] [--workers 2]

Everything runs on loopback against a throw-away SQLite database (never DATABASE_URL, never the
shared Redis). The carrier simulator posts each signed webhook over HTTP; the clock starts just
before the POST leaves and stops when the new checkpoint is
  A) in the DOM of a real Chromium page (MutationObserver, Date.now), one worker (AppHarnessProd);
  B) in the state delta received by an open websocket client (what the browser would render),
     for `reflex run --env prod` with one worker and, with --workers 2 or REFLEX_REDIS_URL set,
     with two workers sharing state and live push through a private redis-server started on a
     free port (the given Redis is never used).
Beside each B case, in the same run, the push floor: a bare Reflex counter app (live_common's
baseline, with one API route) whose POST does the least a push can do, one `app.modify_state` of
the open tab's CounterState (count + 1), with the same simulator posting the same signed body
the same way, the same websocket client code timing it, the same workers and Redis. Printed per
case: median and p95 of both, and portal p95 / floor p95 (the target: at most 3x).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from live_common import (  # noqa: E402  (before the environment is cleared: it keeps the command line's)
    Tab,
    baseline_app,
    command_line,
    free_port,
    private_redis,
    server_env,
    start_server,
    stop_server,
)

GIVEN_REDIS = os.environ.get("REFLEX_REDIS_URL", "")  # only decides whether to run two workers
os.environ.pop("DATABASE_URL", None)
os.environ.pop("REFLEX_REDIS_URL", None)
os.environ["PORTAL_ENV"] = "test"
os.environ["PORTAL_DATA_DIR"] = tempfile.mkdtemp(prefix="bench-live-")
os.environ.setdefault("REFLEX_USE_SYSTEM_BUN", "1")

PASSWORD = "bench passphrase 2026"
WEBHOOK = "/api/carrier/webhooks/aftership"
FLOOR_ROUTE = "/bench/push"
TMP = Path(os.environ["PORTAL_DATA_DIR"])


def p95(ms: list[float]) -> float:
    return statistics.quantiles(ms, n=20)[18]


def summary(label: str, ms: list[float]) -> str:
    return f"{label:<44} n={len(ms):<3} median {statistics.median(ms):7.1f} ms   p95 {p95(ms):7.1f} ms"


def fresh() -> dict[str, Any]:
    """One customer with one new shipment (earlier shipments and their history are removed)."""
    from sqlmodel import delete, select

    from portal.db import session_scope, utcnow
    from portal.domain.auth import hash_password
    from portal.models import CarrierWebhookEvent, Customer, Order, OrderStatus, Role, Shipment, TrackingEvent, User

    with session_scope() as db:
        for table in (TrackingEvent, CarrierWebhookEvent, Shipment):
            db.exec(delete(table))  # type: ignore[call-overload]
        user = db.exec(select(User).where(User.email == "bench@example.com")).first()
        if user is None:
            customer = Customer(name="Bench Customer", email="bench@example.com", number="C-BENCH")
            db.add(customer)
            db.flush()
            # A confirmed address: the portal refuses password sign-in before it (case A signs in).
            user = User(email="bench@example.com", full_name="Bench Customer", role=Role.CUSTOMER,
                        customer_id=customer.id, password_hash=hash_password(PASSWORD), email_verified_at=utcnow())
            db.add(user)
            db.add(Order(number="FH-BENCH1", customer_id=customer.id or 0, status=OrderStatus.SHIPPED))
            db.flush()
        order = db.exec(select(Order).where(Order.number == "FH-BENCH1")).one()
        shipment = Shipment(order_id=order.id or 0, customer_id=order.customer_id, carrier="dhl",
                            carrier_name="DHL", tracking_number="BENCH0000001", tag="InTransit")
        db.add(shipment)
        db.flush()
        return {"shipment_id": shipment.id, "user_id": user.id}


class FreshConnections(httpx.AsyncBaseTransport):
    """The simulator's webhook transport for B and the floor: a new TCP connection for every POST,
    as the simulator's own client-per-delivery makes (so with two workers each webhook lands on
    either worker), but one TLS context per case. Without a transport, httpx builds a client with
    a TLS context from certifi's bundle for every delivery, about 30 ms median on the development
    machine (up to 200 ms): that would sit inside every sample, the portal's and the floor's
    alike, and pad the floor. Case A keeps the simulator's default."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.workers: Counter[str] = Counter()  # answers per x-worker-pid (the floor app names it)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request.headers["Connection"] = "close"
        response = await self.inner.handle_async_request(request)
        self.workers[response.headers.get("x-worker-pid", "?")] += 1
        return response

    async def aclose(self) -> None:  # the simulator closes its client after each delivery
        pass


def simulator(webhook_url: str, samples: int, transport: Any = None) -> tuple[Any, str, list[str]]:
    """The carrier simulator, ready to post `samples` + 2 signed checkpoints of one shipment."""
    from portal.settings import get_settings
    from portal.simulator import Simulator, Step, VirtualClock

    s = get_settings()
    sim = Simulator(api_key=s.aftership_api_key, webhook_secret=s.aftership_webhook_secret, webhook_url=webhook_url,
                    webhook_transport=transport, clock=VirtualClock(), retry_delays=())
    msgs = [f"Scan {i} at sorting centre" for i in range(samples + 2)]
    steps = [Step(timedelta(0), "InTransit_003", m, "hub") for m in msgs]
    t = sim.add_tracking(slug="dhl", tracking_number="BENCH0000001", scenario=steps)
    return sim, t.id, msgs


def cookie_for(user_id: int) -> str:
    from portal.db import session_scope
    from portal.domain import auth
    from portal.domain.audit import RequestInfo
    from portal.models import User
    from portal.settings import get_settings

    with session_scope() as db:
        user = db.get(User, user_id)
        assert user is not None
        new = auth.create_session(db, user=user, request=RequestInfo(), auth_method="password", mfa_verified=False)
        return f"{get_settings().session_cookie_name}={new.raw_token}"


async def timed_pushes(updates: list[Any], sim: Any, tid: str, arrived: Callable[[int, Any], bool],
                       samples: int) -> list[float]:
    """One warm-up push, then `samples` timed ones, 0.2 s apart. The clock starts just before the
    simulator's POST leaves and stops once the POST is answered and an update received since
    satisfies arrived(i, update) (polled every millisecond). The portal and the floor both go
    through here."""
    out = []
    for i in range(samples + 1):
        start = len(updates)
        t0 = time.perf_counter()
        await sim.step(tid)
        while not any(arrived(i, u) for u in updates[start:]):
            if time.perf_counter() - t0 > 10:
                raise RuntimeError("no live update within 10 s")
            await asyncio.sleep(0.001)
        if i:
            out.append((time.perf_counter() - t0) * 1000)
        await asyncio.sleep(0.2 if i else 0.5)
    return out


async def socket_latencies(backend: str, cookie: str, shipment_id: int, sim: Any, tid: str,
                           msgs: list[str], samples: int) -> list[float]:
    from portal.state.shipments import ShipmentState
    from tests.support.reflex_client import ReflexClient, handler_name

    async with ReflexClient(backend, cookie=cookie) as c:
        await c.send(handler_name(ShipmentState.load), path=f"/shipments/{shipment_id}")
        return await timed_pushes(c.updates, sim, tid, lambda i, u: msgs[i] in json.dumps(u), samples)


def counts(update: Any) -> list[int]:
    """CounterState.count values in one update of the floor app."""
    delta = update.get("delta") if isinstance(update, dict) else None
    return [v for name, sub in (delta or {}).items() if name.endswith("counter_state") and isinstance(sub, dict)
            for k, v in sub.items() if k.startswith("count")]


async def floor_latencies(backend: str, samples: int) -> tuple[list[float], list[int]]:
    """The floor: one tab open on the counter app; each simulator POST goes to its push route
    with the tab's token, and is done when the tab receives the count it set. Also returns how
    many POSTs each worker answered."""
    tab = Tab(backend, keep=True)
    transport = FreshConnections()
    try:
        await tab.connect("/", timeout=60)  # hydrated: the page's on_load incremented the count
        seen = [c for u in tab.updates for c in counts(u)]
        if not seen:
            raise RuntimeError("the floor app's page sent no count")
        sim, tid, _ = simulator(f"{backend}{FLOOR_ROUTE}?token={tab.token}", samples, transport)
        ms = await timed_pushes(tab.updates, sim, tid, lambda i, u: seen[-1] + 1 + i in counts(u), samples)
        return ms, sorted(transport.workers.values(), reverse=True)
    finally:
        await tab.close()


def browser_latencies(samples: int) -> list[float]:
    from playwright.sync_api import sync_playwright
    from reflex.testing import AppHarnessProd

    from portal.manage import migrate
    from tests.support.aio import run_async

    migrate()
    ids = fresh()
    observe = """marker => { window.__p = new Promise(resolve => {
        const hit = () => { const el = document.querySelector('[data-testid=checkpoint]');
                            if (el && el.innerText.includes(marker)) { resolve(Date.now()); return true; }
                            return false; };
        if (hit()) return;
        const obs = new MutationObserver(() => { if (hit()) obs.disconnect(); });
        obs.observe(document.body, {subtree: true, childList: true, characterData: true}); }); }"""
    out: list[float] = []
    with AppHarnessProd.create(root=ROOT, app_name="portal") as h:
        host, port = h.backend.servers[0].sockets[0].getsockname()[:2]
        sim, tid, msgs = simulator(f"http://{host}:{port}{WEBHOOK}", samples)
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--headless", "--no-sandbox"])
            page = b.new_context(base_url=h.frontend_url.rstrip("/")).new_page()
            page.goto("/login")
            page.fill("#email", "bench@example.com")
            page.fill("#password", PASSWORD)
            page.get_by_test_id("sign-in").click()
            page.wait_for_url(re.compile(r"/dashboard"))
            page.goto(f"/shipments/{ids['shipment_id']}")
            page.get_by_test_id("shipment-title").wait_for()
            run_async(sim.step(tid))  # warm-up
            page.get_by_text(msgs[0]).wait_for()
            for i in range(1, samples + 1):
                page.evaluate(observe, msgs[i])
                t0 = time.time() * 1000
                run_async(sim.step(tid))
                out.append(page.evaluate("() => window.__p") - t0)
                page.wait_for_timeout(200)
            b.close()
    return out


@dataclass
class Case:
    label: str
    portal: list[float]
    floor: list[float]
    floor_per_worker: list[int]  # the floor's POSTs answered by each worker


def push_cases(samples: int, two_workers: bool) -> list[Case]:
    """B and its floor, for one worker and (two_workers) two workers + a private Redis: the floor
    app first, then the portal, on the same Redis (db 1 and db 0)."""
    from portal.manage import migrate

    migrate()
    floor_dir, _ = baseline_app(TMP / "floor", push_route=FLOOR_ROUTE)
    results = []
    with contextlib.ExitStack() as stack:
        redis = stack.enter_context(private_redis()) if two_workers else ""
        for workers in (1, 2) if two_workers else (1,):
            redis_url = redis if workers > 1 else ""
            label = f"{workers} worker{'s' if workers > 1 else ''}" + (" + Redis" if redis_url else "")

            port = free_port()
            url = f"http://127.0.0.1:{port}"
            env = server_env(dict(os.environ), workers=workers, data_dir=TMP / "floor-data",
                             redis_url=f"{redis_url}/1" if redis_url else "")
            proc = start_server(floor_dir, port, env, log=TMP / f"floor-{workers}.log")
            try:
                floor, per_worker = asyncio.run(floor_latencies(url, samples))
            finally:
                stop_server(proc)
            print(summary(f"   floor: bare Reflex push, {label}", floor)
                  + f"   POSTs per worker {'/'.join(map(str, per_worker))}", flush=True)

            ids = fresh()
            cookie = cookie_for(ids["user_id"])
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            env = server_env(dict(os.environ), workers=workers, data_dir=TMP,
                             redis_url=f"{redis_url}/0" if redis_url else "")
            proc = start_server(ROOT, port, env, log=TMP / f"portal-{workers}.log")
            try:
                sim, tid, msgs = simulator(f"{url}{WEBHOOK}", samples, FreshConnections())
                portal = asyncio.run(socket_latencies(url, cookie, ids["shipment_id"], sim, tid, msgs, samples))
            finally:
                stop_server(proc)
            results.append(Case(label, portal, floor, per_worker))
            print(summary(f"B) websocket delta, {label}", portal), flush=True)
    return results


def floor_table(cases: list[Case]) -> list[str]:
    lines = ["", "webhook -> websocket delta, portal (B) beside the bare-Reflex push floor, same run (ms):",
             f"{'case':<20} {'portal median':>14} {'portal p95':>11} {'floor median':>13} {'floor p95':>10}"
             f" {'p95 / p95':>10}"]
    for c in cases:
        fp = p95(c.floor)
        r = p95(c.portal) / fp if fp else float("nan")
        lines.append(f"{c.label:<20} {statistics.median(c.portal):14.1f} {p95(c.portal):11.1f}"
                     f" {statistics.median(c.floor):13.1f} {fp:10.1f} {r:9.2f}x")
    lines.append("target: portal p95 at most 3x the floor's p95")
    lines += [f"floor POSTs per worker, {c.label}: {'/'.join(map(str, c.floor_per_worker))}"
              for c in cases if "workers" in c.label]
    return lines


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--samples", type=int, default=30)
    p.add_argument("--skip-browser", action="store_true")
    p.add_argument("--skip-workers", action="store_true", help="skip B and its floor (reflex run servers)")
    p.add_argument("--workers", type=int, choices=(1, 2), default=1,
                   help="2: also two workers + a private Redis (also when REFLEX_REDIS_URL is set)")
    args = p.parse_args()
    lines = []
    table: list[str] = []
    if not args.skip_browser:
        lines.append(summary("A) Chromium DOM, 1 worker (AppHarnessProd)", browser_latencies(args.samples)))
        print(lines[-1], flush=True)
    if not args.skip_workers:
        cases = push_cases(args.samples, args.workers > 1 or bool(GIVEN_REDIS))
        lines += [summary(f"B) websocket delta, {c.label}", c.portal) for c in cases]
        table = floor_table(cases)
    print(f"\n$ {command_line()}")
    print("webhook -> open browser (clock starts before the POST leaves the simulator)")
    print("\n".join(lines + table))


if __name__ == "__main__":
    main()
