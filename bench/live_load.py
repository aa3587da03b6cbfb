"""Load run: simulated customers speaking Reflex's websocket protocol against the portal,
while shipments update in the background through the integration API; and the same number
of clients against a bare Reflex app with one counter handler (the baseline: what the
framework alone costs), both served the same way (`reflex run --env prod --backend-only`).

Prints events per second, event round-trip median and p95 (send to the first update that
arrives; a live push landing in that window counts too), errors, live pushes received
(extra_updates) and memory per connected client, and the portal/baseline ratios. Loopback only, bounded in
clients and time. Usage:
    .venv/bin/python bench/live_load.py [--clients 20] [--seconds 20] [--workers 1]
With --workers 2 set REFLEX_REDIS_URL (and DATABASE_URL for PostgreSQL) yourself.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psutil
import socketio

ROOT = Path(__file__).resolve().parents[1]
TMP = Path(tempfile.mkdtemp(prefix="portal-load-"))
NAMESPACE = "/_event"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(cwd: Path, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "reflex"), "run", "--env", "prod", "--backend-only",
         "--backend-port", str(port), "--backend-host", "127.0.0.1"],
        cwd=cwd, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ping", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise SystemExit(f"server in {cwd} exited")
        time.sleep(0.5)
    raise SystemExit(f"server in {cwd} did not start")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)


def tree_rss(proc: subprocess.Popen[bytes]) -> int:
    p = psutil.Process(proc.pid)
    return sum(c.memory_info().rss for c in [p, *p.children(recursive=True)])


class Client:
    """One simulated browser tab: sends events and times the first update that answers."""

    def __init__(self, url: str, cookie: str | None) -> None:
        self.url, self.cookie = url, cookie
        self.sio = socketio.AsyncClient(reconnection=False)
        self.sio.on("event", self._on_event, namespace=NAMESPACE)
        self.waiter: asyncio.Event | None = None
        self.received = 0

    async def _on_event(self, _data: Any) -> None:
        self.received += 1
        if self.waiter is not None:
            self.waiter.set()

    async def connect(self) -> None:
        headers = {"Cookie": self.cookie} if self.cookie else {}
        await self.sio.connect(f"{self.url}?token={uuid.uuid4()}", socketio_path="/_event", transports=["websocket"],
                               headers=headers, namespaces=[NAMESPACE], wait_timeout=20)

    async def round_trip(self, name: str, path: str, timeout: float = 10.0) -> float:
        self.waiter = asyncio.Event()
        t0 = time.perf_counter()
        await self.sio.emit("event", {"name": name, "payload": {}, "router_data": {"pathname": path, "asPath": path}},
                            namespace=NAMESPACE)
        await asyncio.wait_for(self.waiter.wait(), timeout)
        return time.perf_counter() - t0


async def drive(url: str, plans: list[tuple[str | None, list[tuple[str, str]]]], seconds: float,
                proc: subprocess.Popen[bytes], background: Any = None) -> dict[str, float]:
    rss0 = tree_rss(proc)
    clients = [Client(url, cookie) for cookie, _ in plans]
    await asyncio.gather(*(c.connect() for c in clients))
    await asyncio.sleep(2)
    mem_per_client = (tree_rss(proc) - rss0) / len(clients)
    latencies: list[float] = []
    errors = 0
    stop_at = time.monotonic() + seconds

    async def user(c: Client, steps: list[tuple[str, str]]) -> None:
        nonlocal errors
        while time.monotonic() < stop_at:
            name, path = random.choice(steps)
            try:
                latencies.append(await c.round_trip(name, path))
            except (TimeoutError, socketio.exceptions.SocketIOError):
                errors += 1

    tasks = [user(c, steps) for c, (_, steps) in zip(clients, plans, strict=True)]
    if background is not None:
        tasks.append(background(stop_at))
    before = sum(c.received for c in clients)
    t0 = time.perf_counter()
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - t0
    pushed = sum(c.received for c in clients) - before - len(latencies)
    await asyncio.gather(*(c.sio.disconnect() for c in clients))
    latencies.sort()
    return {"events_per_s": len(latencies) / elapsed, "median_ms": statistics.median(latencies) * 1000,
            "p95_ms": latencies[int(0.95 * (len(latencies) - 1))] * 1000, "errors": errors,
            "extra_updates": max(0, pushed), "mem_kib_per_client": mem_per_client / 1024}


def portal_fixture(n: int) -> tuple[list[tuple[str | None, list[tuple[str, str]]]], str, list[tuple[str, str]]]:
    """Customers with orders and shipments, a session cookie each, and an API key."""
    from reflex_base.utils.format import format_event_handler
    from sqlmodel import Session

    from portal.db import get_engine
    from portal.domain import auth
    from portal.domain.api import keys
    from portal.domain.audit import RequestInfo
    from portal.domain.principal import Principal
    from portal.manage import migrate
    from portal.models import Customer, Order, OrderLine, Role, Shipment, User
    from portal.settings import get_settings
    from portal.state.dashboard import DashboardState
    from portal.state.order_detail import OrderDetailState

    migrate()
    dash, detail = format_event_handler(DashboardState.load), format_event_handler(OrderDetailState.load)
    plans: list[tuple[str | None, list[tuple[str, str]]]] = []
    shipments: list[tuple[str, str]] = []
    with Session(get_engine(), expire_on_commit=False) as db:
        admin = User(email="load-admin@example.com", role=Role.ADMIN)
        db.add(admin)
        db.flush()
        _, raw_key = keys.create_key(db, principal=Principal(user_id=admin.id or 0, role="admin", email="", name=""),
                                     name="load", scopes=["shipments:write"])
        for i in range(n):
            c = Customer(name=f"Load {i}", email=f"load{i}@example.com", number=f"C-L{i:04d}", external_id=f"crm-l{i}")
            db.add(c)
            db.flush()
            u = User(email=c.email, role=Role.CUSTOMER, customer_id=c.id)
            db.add(u)
            steps = [(dash, "/dashboard")]
            for j in range(3):
                o = Order(number=f"FH-L{i:04d}-{j}", customer_id=c.id or 0, status="shipped", total_cents=1000)
                db.add(o)
                db.flush()
                db.add(OrderLine(order_id=o.id or 0, sku="S", name="Item", quantity=1, unit_price_cents=1000,
                                 total_cents=1000))
                db.add(Shipment(order_id=o.id or 0, customer_id=c.id or 0, carrier="dhl",
                                tracking_number=f"LOAD{i:04d}{j}"))
                shipments.append((f"FH-L{i:04d}-{j}", f"LOAD{i:04d}{j}"))
                steps.append((detail, f"/orders/{o.id}"))
            db.flush()
            new = auth.create_session(db, user=u, request=RequestInfo(), auth_method="password", mfa_verified=False)
            plans.append((f"{get_settings().session_cookie_name}={new.raw_token}", steps))
        db.commit()
    return plans, raw_key, shipments


def baseline_app() -> tuple[Path, str]:
    app_dir = TMP / "counter_app"
    (app_dir / "counter").mkdir(parents=True)
    (app_dir / "rxconfig.py").write_text('import reflex as rx\n\nconfig = rx.Config(app_name="counter", '
                                         'telemetry_enabled=False)\n')
    (app_dir / "counter" / "__init__.py").write_text("")
    (app_dir / "counter" / "counter.py").write_text(textwrap.dedent("""
        import reflex as rx


        class CounterState(rx.State):
            count: int = 0

            @rx.event
            def increment(self) -> None:
                self.count += 1


        def index() -> rx.Component:
            return rx.button(CounterState.count, on_click=CounterState.increment)


        app = rx.App()
        app.add_page(index)
    """))
    name = subprocess.run(
        [sys.executable, "-c", "from counter.counter import CounterState; "
         "from reflex_base.utils.format import format_event_handler as f; print(f(CounterState.increment))"],
        cwd=app_dir, capture_output=True, text=True, check=True).stdout.strip()
    return app_dir, name


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    clients = max(1, min(args.clients, 200))
    seconds = max(5.0, min(args.seconds, 120.0))
    env = {**os.environ, "GRANIAN_WORKERS": str(args.workers), "REFLEX_USE_SYSTEM_BUN": "1"}
    if "DATABASE_URL" not in os.environ:
        env["PORTAL_DATA_DIR"] = str(TMP / "data")
        os.environ["PORTAL_DATA_DIR"] = env["PORTAL_DATA_DIR"]
    env["PORTAL_ENV"] = os.environ["PORTAL_ENV"] = "test"
    sys.path.insert(0, str(ROOT))

    plans, key, shipments = portal_fixture(clients)
    app_dir, increment = baseline_app()
    results: dict[str, dict[str, float]] = {}

    port = free_port()
    proc = start_server(app_dir, port, {**os.environ, "GRANIAN_WORKERS": str(args.workers),
                                        "REFLEX_USE_SYSTEM_BUN": "1"})
    try:
        results["baseline (counter app)"] = asyncio.run(drive(
            f"http://127.0.0.1:{port}", [(None, [(increment, "/")]) for _ in range(clients)], seconds, proc))
    finally:
        stop_server(proc)

    port = free_port()
    proc = start_server(ROOT, port, env)
    tags = ["InTransit", "OutForDelivery", "InTransit", "AttemptFail"]

    async def shipment_updates(stop_at: float) -> None:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}",
                                     headers={"Authorization": f"Bearer {key}"}) as http:
            i = 0
            while time.monotonic() < stop_at:
                order, tracking = random.choice(shipments)
                await http.put(f"/api/v1/shipments/dhl/{tracking}",
                               json={"order_number": order, "tag": tags[i % len(tags)]})
                i += 1
                await asyncio.sleep(0.2)

    try:
        results["portal (dashboard + orders)"] = asyncio.run(drive(
            f"http://127.0.0.1:{port}", plans, seconds, proc, background=shipment_updates))
    finally:
        stop_server(proc)

    print(f"{clients} clients, {seconds:.0f} s each, {args.workers} worker(s), "
          f"{'PostgreSQL' if 'DATABASE_URL' in os.environ else 'SQLite'}"
          f"{' + Redis' if os.environ.get('REFLEX_REDIS_URL') else ''}")
    cols = ("events_per_s", "median_ms", "p95_ms", "errors", "extra_updates", "mem_kib_per_client")
    print(f"{'':30}" + "".join(f"{c:>20}" for c in cols))
    for name, r in results.items():
        print(f"{name:30}" + "".join(f"{r[c]:20.1f}" for c in cols))
    base, port_r = results["baseline (counter app)"], results["portal (dashboard + orders)"]
    print(f"{'portal / baseline':30}" + "".join(
        f"{port_r[c] / base[c]:19.2f}x" if base[c] else f"{'-':>20}" for c in cols))


if __name__ == "__main__":
    main()
