"""Time from a carrier webhook reaching the portal to the change in an open browser.

    .venv/bin/python bench/webhook_to_browser.py [--samples 30] [--skip-browser] [--skip-workers]

Everything runs on loopback against a throw-away SQLite database (never DATABASE_URL, never the
shared Redis). The carrier simulator posts each signed webhook over HTTP; the clock starts just
before the POST leaves and stops when the new checkpoint is
  A) in the DOM of a real Chromium page (MutationObserver, Date.now), one worker (AppHarnessProd);
  B) in the state delta received by an open websocket client (what the browser would render),
     side by side for `reflex run --env prod` with one worker, and with two workers sharing
     state and live push through a private redis-server started on a free port.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.pop("DATABASE_URL", None)
os.environ.pop("REFLEX_REDIS_URL", None)
os.environ["PORTAL_ENV"] = "test"
os.environ["PORTAL_DATA_DIR"] = tempfile.mkdtemp(prefix="bench-live-")
os.environ.setdefault("REFLEX_USE_SYSTEM_BUN", "1")

PASSWORD = "bench passphrase 2026"
WEBHOOK = "/api/carrier/webhooks/aftership"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def summary(label: str, ms: list[float]) -> str:
    q = statistics.quantiles(ms, n=20)
    return f"{label:<44} n={len(ms):<3} median {statistics.median(ms):7.1f} ms   p95 {q[18]:7.1f} ms"


def fresh() -> dict[str, Any]:
    """One customer with one new shipment (earlier shipments and their history are removed)."""
    from sqlmodel import delete, select

    from portal.db import session_scope
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
            user = User(email="bench@example.com", full_name="Bench Customer", role=Role.CUSTOMER,
                        customer_id=customer.id, password_hash=hash_password(PASSWORD))
            db.add(user)
            db.add(Order(number="FH-BENCH1", customer_id=customer.id or 0, status=OrderStatus.SHIPPED))
            db.flush()
        order = db.exec(select(Order).where(Order.number == "FH-BENCH1")).one()
        shipment = Shipment(order_id=order.id or 0, customer_id=order.customer_id, carrier="dhl",
                            carrier_name="DHL", tracking_number="BENCH0000001", tag="InTransit")
        db.add(shipment)
        db.flush()
        return {"shipment_id": shipment.id, "user_id": user.id}


def simulator(webhook_url: str, samples: int) -> tuple[Any, str, list[str]]:
    from portal.settings import get_settings
    from portal.simulator import Simulator, Step, VirtualClock

    s = get_settings()
    sim = Simulator(api_key=s.aftership_api_key, webhook_secret=s.aftership_webhook_secret, webhook_url=webhook_url,
                    clock=VirtualClock(), retry_delays=())
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


async def socket_latencies(backend: str, cookie: str, shipment_id: int, sim: Any, tid: str,
                           msgs: list[str], samples: int) -> list[float]:
    from portal.state.shipments import ShipmentState
    from tests.support.reflex_client import ReflexClient, handler_name

    out = []
    async with ReflexClient(backend, cookie=cookie) as c:
        await c.send(handler_name(ShipmentState.load), path=f"/shipments/{shipment_id}", settle=1.5)
        await sim.step(tid)  # warm-up
        await asyncio.sleep(0.5)
        for i in range(1, samples + 1):
            start = len(c.updates)
            t0 = time.perf_counter()
            await sim.step(tid)
            while not any(msgs[i] in json.dumps(u) for u in c.updates[start:]):
                if time.perf_counter() - t0 > 10:
                    raise RuntimeError("no live update within 10 s")
                await asyncio.sleep(0.001)
            out.append((time.perf_counter() - t0) * 1000)
            await asyncio.sleep(0.2)
    return out


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


def server(port: int, workers: int, redis_url: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "GRANIAN_WORKERS": str(workers)}
    if redis_url:
        env["REFLEX_REDIS_URL"] = redis_url
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "reflex"), "run", "--env", "prod", "--backend-only",
         "--backend-port", str(port), "--backend-host", "127.0.0.1"],
        cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def wait_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    import httpx

    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited")
        try:
            if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError("server did not start")


def stop(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def socket_cases(samples: int) -> list[tuple[str, list[float]]]:
    import shutil

    from portal.manage import migrate

    migrate()
    results = []
    redis_bin = shutil.which("redis-server")
    cases = [(1, "")]
    redis_proc = None
    if redis_bin:
        rport = free_port()
        # A private Redis on its own port and directory, not the machine's shared one.
        redis_proc = subprocess.Popen([redis_bin, "--port", str(rport), "--save", "", "--appendonly", "no",
                                       "--dir", tempfile.mkdtemp(prefix="bench-redis-")],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        cases.append((2, f"redis://127.0.0.1:{rport}/0"))
    try:
        for workers, redis_url in cases:
            ids = fresh()
            cookie = cookie_for(ids["user_id"])
            port = free_port()
            proc = server(port, workers, redis_url)
            url = f"http://127.0.0.1:{port}"
            try:
                wait_up(url, proc)
                sim, tid, msgs = simulator(f"{url}{WEBHOOK}", samples)
                ms = asyncio.run(socket_latencies(url, cookie, ids["shipment_id"], sim, tid, msgs, samples))
                label = f"B) websocket delta, {workers} worker{'s' if workers > 1 else ''}"
                results.append((label + (" + Redis" if redis_url else ""), ms))
            finally:
                stop(proc)
    finally:
        if redis_proc is not None:
            os.killpg(redis_proc.pid, signal.SIGTERM)
            redis_proc.wait(timeout=10)
    return results


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--samples", type=int, default=30)
    p.add_argument("--skip-browser", action="store_true")
    p.add_argument("--skip-workers", action="store_true")
    args = p.parse_args()
    lines = []
    if not args.skip_browser:
        lines.append(summary("A) Chromium DOM, 1 worker (AppHarnessProd)", browser_latencies(args.samples)))
        print(lines[-1], flush=True)
    if not args.skip_workers:
        for label, ms in socket_cases(args.samples):
            lines.append(summary(label, ms))
            print(lines[-1], flush=True)
    print("\nwebhook -> open browser (clock starts before the POST leaves the simulator)")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
