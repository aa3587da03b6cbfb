"""SQL statements one shipment event causes in the live push, for a customer with three open
tabs on three different pages (dashboard, the order, the shipment); and the same after each tab
first visited five other pages, to show the count does not grow with the pages visited before.

The portal's backend runs in this process (the app's ASGI app under uvicorn in a thread, as
reflex.testing.AppHarness runs its backend, in prod mode without compiling a frontend), on
SQLite under a temporary directory (DATABASE_URL and REFLEX_REDIS_URL are ignored; scheduled
jobs are off so nothing else runs). A SQLAlchemy `before_cursor_execute` listener on the Engine
class counts every statement of every engine, on every thread (the event loop, the portal's
worker pool).

The event is a real write: the integration API's shipment upsert (`upsert_shipment`, what
`PUT /api/v1/shipments/dhl/{tracking}` runs), called on this script's own thread, whose
statements are not counted; its commit announces the domain event, and everything counted
until the tabs have their updates and the server is quiet again is what the push cost.
A control write with no tab open shows the floor.

    .venv/bin/python bench/push_statements.py
    .venv/bin/python bench/push_statements.py --events 3 --verbose
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextvars
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from live_common import (
    ROOT,
    Backing,
    Tab,
    command_line,
    concrete,
    free_port,
    make_customers,
    portal_pages,
    redirects,
    use_backing_here,
)

TMP = Path(tempfile.mkdtemp(prefix="portal-push-"))
FINAL = ["/dashboard", "/orders/[id]", "/shipments/[id]"]
# Pages a customer visits before; each tab visits the first five of these that are not its own.
OTHERS = ["/orders", "/billing", "/documents", "/support", "/notifications", "/shipments", "/account/profile",
          "/offers", "/dashboard"]


class Counter:
    """Every statement on every engine, except on threads that say not to count them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.statements: list[tuple[str, str]] = []  # (thread name, first words of the SQL)
        self.transactions = 0
        self.skip = threading.local()
        self.on = False

    def install(self) -> None:
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        event.listen(Engine, "before_cursor_execute", self._statement)
        event.listen(Engine, "commit", self._txn)
        event.listen(Engine, "rollback", self._txn)

    def _skipped(self) -> bool:
        return not self.on or getattr(self.skip, "yes", False)

    def _statement(self, _conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        if not self._skipped():
            with self.lock:
                self.statements.append((threading.current_thread().name, " ".join(sql.split())[:90]))

    def _txn(self, _conn: Any) -> None:
        if not self._skipped():
            with self.lock:
                self.transactions += 1

    def reset(self) -> None:
        with self.lock:
            self.statements, self.transactions = [], 0


COUNT = Counter()


def start_backend(port: int) -> tuple[Any, threading.Thread]:
    """The portal's backend in this process, like AppHarness's (uvicorn in a thread)."""
    import uvicorn
    from reflex.utils.prerequisites import get_and_validate_app

    app, _module = get_and_validate_app()
    asgi = app()
    server = uvicorn.Server(uvicorn.Config(app=asgi, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="on"))
    ctx = contextvars.copy_context()
    thread = threading.Thread(target=ctx.run, args=(server.run,), name="backend", daemon=True)
    thread.start()
    import httpx

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and thread.is_alive():
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ping", timeout=2).status_code == 200:
                return server, thread
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit("the in-process backend did not start")


def shipment_write(raw_key: str, tracking: str, order: str, tag: str) -> None:
    """What PUT /api/v1/shipments/dhl/{tracking} runs, on this thread, not counted."""
    from portal.db import session_scope
    from portal.domain.api import keys
    from portal.domain.api import resources as r
    from portal.domain.api import schemas as s

    COUNT.skip.yes = True
    try:
        with session_scope() as db:
            caller = keys.authenticate(db, raw_key=raw_key)
            assert caller is not None
            r.upsert_shipment(db, caller=caller, carrier="dhl", tracking_number=tracking,
                              data=s.ShipmentIn(order_number=order, tag=tag))
    finally:
        COUNT.skip.yes = False


async def quiet(tabs: list[Tab], *, at_least: float = 0.3, calm: float = 1.0, limit: float = 15.0) -> None:
    """Wait until no tab received anything and no statement ran for `calm` seconds."""
    t0 = time.monotonic()
    await asyncio.sleep(at_least)
    last = (sum(t.count for t in tabs), len(COUNT.statements))
    calm_since = time.monotonic()
    while time.monotonic() - t0 < limit:
        await asyncio.sleep(0.1)
        now = (sum(t.count for t in tabs), len(COUNT.statements))
        if now != last:
            last, calm_since = now, time.monotonic()
        elif time.monotonic() - calm_since >= calm:
            return


async def one_event(tabs: list[Tab], raw_key: str, tracking: str, order: str, tag: str) -> dict[str, Any]:
    await quiet(tabs, at_least=0.5)
    COUNT.reset()
    COUNT.on = True
    before = [t.count for t in tabs]
    t0 = time.perf_counter()
    await asyncio.to_thread(shipment_write, raw_key, tracking, order, tag)
    # Until each tab got its update (bounded), then until everything is quiet.
    while time.perf_counter() - t0 < 10 and any(t.count == b for t, b in zip(tabs, before, strict=True)):
        await asyncio.sleep(0.005)
    delivered = (time.perf_counter() - t0) * 1000
    await quiet(tabs, at_least=0.2)
    COUNT.on = False
    return {"statements": list(COUNT.statements), "transactions": COUNT.transactions,
            "updated_tabs": sum(t.count > b for t, b in zip(tabs, before, strict=True)), "ms": delivered}


async def scenario(url: str, cookie: str, finals: list[tuple[str, dict[str, str]]], mount: dict[str, list[str]],
                   before: list[list[tuple[str, list[str]]]], raw_key: str, tracking: str, order: str,
                   events: int) -> list[dict[str, Any]]:
    tabs = [Tab(url, cookie, keep=True) for _ in finals]
    try:
        for tab, (path, query), visits, route in zip(tabs, finals, before, FINAL[:len(finals)], strict=True):
            await tab.connect("/dashboard", timeout=60)
            for other, other_mount in visits:
                await tab.navigate(other, None, other_mount, timeout=60)
            await tab.navigate(path, query, mount[route], timeout=60)
            if redirects(tab.updates):
                raise SystemExit(f"a tab was redirected to {redirects(tab.updates)}: the scenario is broken")
        tags = ["OutForDelivery", "AttemptFail", "InTransit", "OutForDelivery", "InTransit"]
        return [await one_event(tabs, raw_key, tracking, order, tags[i % len(tags)]) for i in range(events)]
    finally:
        for tab in tabs:
            await tab.close()


def summary(label: str, runs: list[dict[str, Any]]) -> str:
    counts = [len(r["statements"]) for r in runs]
    return (f"{label:52} statements {', '.join(map(str, counts)):>14}  (median {statistics.median(counts):g})   "
            f"transactions {', '.join(str(r['transactions']) for r in runs)}   tabs updated "
            f"{', '.join(str(r['updated_tabs']) for r in runs)}   all tabs updated in "
            f"{', '.join(format(r['ms'], '.0f') for r in runs)} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=3, help="shipment events per case")
    parser.add_argument("--verbose", action="store_true", help="list the statements of the last event of each case")
    args = parser.parse_args()
    events = max(1, min(args.events, 10))
    os.chdir(ROOT)
    os.environ["JOBS_ENABLED"] = "false"
    os.environ["REFLEX_ENV_MODE"] = "prod"
    os.environ["REFLEX_SKIP_COMPILE"] = "true"
    os.environ["REFLEX_TELEMETRY_ENABLED"] = "false"
    use_backing_here(Backing(), TMP / "data")
    # One customer per case, so tabs closed in one case cannot receive (and cost) anything in the next.
    customers, raw_key = make_customers(3, orders_each=3, tag="P")
    pages = portal_pages(FINAL + OTHERS)
    mount = {r: pages[r].mount for r in FINAL}
    visited = [[(o, pages[o].mount) for o in [o for o in OTHERS if o != r][:5]] for r in FINAL]
    none: list[list[tuple[str, list[str]]]] = [[] for _ in FINAL]

    def case(who: Any, with_tabs: bool, before: list[list[tuple[str, list[str]]]]) -> list[dict[str, Any]]:
        shipment_id, tracking, order = who.shipments[0]
        order_id = next(oid for oid, number in who.orders if number == order)
        finals = [concrete(r, orders=order_id, shipments=shipment_id) for r in FINAL] if with_tabs else []
        return asyncio.run(scenario(url, who.cookie, finals, mount, before if with_tabs else [], raw_key, tracking,
                                    order, events))

    COUNT.install()
    port = free_port()
    server, thread = start_backend(port)
    url = f"http://127.0.0.1:{port}"
    try:
        control = case(customers[0], False, none)
        a = case(customers[1], True, none)
        b = case(customers[2], True, visited)
    finally:
        server.should_exit = True
        thread.join(timeout=30)

    print(f"$ {command_line()}")
    print(f"1 process (backend in-process), SQLite; one customer per case; {events} shipment events per case, "
          f"one at a time; "
          f"python {sys.version.split()[0]}")
    print("tabs: " + ", ".join(FINAL) + " (one customer per case); before, each tab of case B visited: "
          + " | ".join(", ".join(o for o, _ in v) for v in visited))
    print(summary("control: no tab open", control))
    print(summary("A) 3 tabs on 3 pages, nothing visited before", a))
    print(summary("B) 3 tabs on 3 pages, each visited 5 other pages first", b))
    ma = statistics.median(len(r["statements"]) for r in a)
    mb = statistics.median(len(r["statements"]) for r in b)
    print(f"B - A (median statements per event): {mb - ma:+g}")
    if args.verbose:
        for label, runs in (("A", a), ("B", b)):
            print(f"\nstatements of the last event, case {label}:")
            for (thread_name, sql), n in collections.Counter(runs[-1]["statements"]).most_common():
                print(f"  {n:3} x [{thread_name[:14]}] {sql}")


if __name__ == "__main__":
    main()
