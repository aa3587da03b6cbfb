"""Load run: simulated customers browsing the portal over Reflex's websocket protocol while
shipments are updated through the integration API, beside a bare Reflex counter app driven the
same way in the same run (the baseline: what the framework alone costs).

Each simulated customer is one browser tab with its own session cookie. It connects the way the
compiled frontend does (the hydrate event in the socket.io CONNECT packet, on /dashboard), then
navigates in a loop between the pages a customer uses: the dashboard, the orders list, one of
its orders and one of its shipments. A navigation is what the browser sends on a client-side
route change (`on_load_internal`, then the on_mount events of the page's shell, looked up from
the app) and is complete when the backend marks the page hydrated again, i.e. after the page's
on_load chain has run. Meanwhile one shipment of a random customer is updated every 200 ms
through `PUT /api/v1/shipments/dhl/{tracking}`, so open pages also receive live pushes.

The baseline app's page loads by incrementing its counter; its clients connect and navigate the
same way (on_load_internal -> increment -> hydrated). Both are served by
`reflex run --env prod --backend-only` with the same number of workers and the same Redis.

Prints navigations per second, navigation round trip median and p95, errors (timeouts), updates
received per second and memory per connected client (growth of the server process tree's RSS
after connecting all clients, divided by their number), and portal/baseline ratios.

    .venv/bin/python bench/live_load.py --clients 10 --seconds 15
    .venv/bin/python bench/live_load.py --clients 50 --seconds 15
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres REFLEX_REDIS_URL=redis://127.0.0.1:6379 \\
        .venv/bin/python bench/live_load.py --workers 2 --clients 50 --seconds 15

With DATABASE_URL set, the portal runs on a private database created on that server
(`portal_bench_<random>`, dropped at the end); with REFLEX_REDIS_URL set or --workers > 1,
on a private `redis-server` started on a free port (stopped at the end). The given URLs' own
database and Redis are never written. Loopback only; bounded in clients and time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from live_common import (
    ROOT,
    Backing,
    Tab,
    backing_for,
    baseline_app,
    check_pages,
    command_line,
    concrete,
    free_port,
    machine_cpu_seconds,
    make_customers,
    pct,
    portal_pages,
    raise_fd_limit,
    ratio,
    server_env,
    short,
    start_server,
    stop_server,
    tree_cpu_seconds,
    tree_rss,
    use_backing_here,
)

TMP = Path(tempfile.mkdtemp(prefix="portal-load-"))
ROUTES = ["/dashboard", "/orders", "/orders/[id]", "/shipments/[id]"]

# (path, query) pairs a tab visits, with the on_mount events of that page
Visit = tuple[str, dict[str, str], list[str]]


async def drive(url: str, cookies: list[str | None], visits: list[list[Visit]], first: list[Visit],
                seconds: float, proc: subprocess.Popen[bytes], background: Any = None) -> dict[str, float]:
    rss0 = tree_rss(proc)
    tabs = [Tab(url, cookie) for cookie in cookies]
    connect_errors = 0

    async def open_tab(tab: Tab, v: Visit) -> None:
        nonlocal connect_errors
        try:
            await tab.connect(v[0], v[1], timeout=60)
        except Exception:  # noqa: BLE001 - counted, not fatal
            connect_errors += 1

    # Connect in waves of 25, like customers arriving, not all in the same millisecond.
    for start in range(0, len(tabs), 25):
        await asyncio.gather(*(open_tab(t, v) for t, v in zip(tabs[start:start + 25], first[start:start + 25],
                                                              strict=True)))
    await asyncio.sleep(2)
    mem_per_client = (tree_rss(proc) - rss0) / len(tabs)
    latencies: list[float] = []
    errors = connect_errors
    stop_at = time.monotonic() + seconds

    async def user(tab: Tab, pages: list[Visit]) -> None:
        nonlocal errors
        if not tab.sio.connected:
            return
        while time.monotonic() < stop_at:
            path, query, mount = random.choice(pages)
            try:
                latencies.append(await tab.navigate(path, query, mount, timeout=20))
            except Exception:  # noqa: BLE001 - a timeout or a closed socket is an error, counted
                errors += 1
                await asyncio.sleep(0.5)

    tasks = [user(t, pages) for t, pages in zip(tabs, visits, strict=True)]
    if background is not None:
        tasks.append(background(stop_at))
    before = sum(t.count for t in tabs)
    server0, machine0, own0 = tree_cpu_seconds(proc.pid), machine_cpu_seconds(), time.process_time()
    t0 = time.perf_counter()
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - t0
    server = tree_cpu_seconds(proc.pid) - server0
    machine, own = machine_cpu_seconds() - machine0, time.process_time() - own0
    received = sum(t.count for t in tabs) - before
    await asyncio.gather(*(t.close() for t in tabs))
    latencies.sort()
    navs = max(1, len(latencies))
    return {"server_cpu_ms": server * 1000 / navs, "load_cpu_ms": own * 1000 / navs,
            "other_cpu_ms": max(0.0, machine - server - own) * 1000 / navs,
            "busy_pct": machine / elapsed / (os.cpu_count() or 1) * 100,
            "navs_per_s": len(latencies) / elapsed,
            "median_ms": statistics.median(latencies) * 1000 if latencies else float("nan"),
            "p95_ms": pct(latencies, 0.95) * 1000, "errors": errors, "updates_per_s": received / elapsed,
            "mem_kib_per_client": mem_per_client / 1024}


def run_baseline(clients: int, seconds: float, workers: int, backing: Backing) -> dict[str, float]:
    app_dir, _increment = baseline_app(TMP)
    port = free_port()
    env = server_env(os.environ, workers=workers, data_dir=TMP / "baseline-data",
                     redis_url=f"{backing.redis_url}/1" if backing.redis_url else "")
    proc = start_server(app_dir, port, env, log=TMP / "baseline.log")
    try:
        nav: Visit = ("/", {}, [])
        return asyncio.run(drive(f"http://127.0.0.1:{port}", [None] * clients, [[nav]] * clients,
                                 [nav] * clients, seconds, proc))
    finally:
        stop_server(proc)


def run_portal(clients: int, seconds: float, workers: int, backing: Backing,
               interval: float) -> tuple[dict[str, float], dict[str, Any]]:
    import httpx

    use_backing_here(backing, TMP / "portal-data")
    customers, key = make_customers(clients, tag="L")
    pages = portal_pages(ROUTES)
    missing = [r for r, p in pages.items() if not p.load]
    if missing:
        raise SystemExit(f"no on_load handler found for {missing}: have the routes moved?")
    plans: list[list[Visit]] = []
    first: list[Visit] = []
    for c in customers:
        order_id = c.orders[0][0]
        shipment_id = c.shipments[0][0]
        visits: list[Visit] = []
        for route in ROUTES:
            path, query = concrete(route, orders=order_id, shipments=shipment_id)
            visits.append((path, query, pages[route].mount))
        plans.append(visits)
        first.append(visits[0])
    shipments = [s for c in customers for s in c.shipments]

    port = free_port()
    env = server_env(os.environ, workers=workers, data_dir=TMP / "portal-data", database_url=backing.database_url,
                     redis_url=f"{backing.redis_url}/0" if backing.redis_url else "")
    proc = start_server(ROOT, port, env, log=TMP / "portal.log")
    tags = ["InTransit", "OutForDelivery", "InTransit", "AttemptFail"]
    api = {"writes": 0, "write_errors": 0, "write_ms": []}

    async def shipment_updates(stop_at: float) -> None:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30,
                                     headers={"Authorization": f"Bearer {key}"}) as http:
            i = 0
            while time.monotonic() < stop_at:
                _sid, tracking, order = random.choice(shipments)
                t0 = time.perf_counter()
                try:
                    r = await http.put(f"/api/v1/shipments/dhl/{tracking}",
                                       json={"order_number": order, "tag": tags[i % len(tags)]})
                    ok = r.status_code < 300
                except httpx.HTTPError:
                    ok = False
                api["write_ms"].append((time.perf_counter() - t0) * 1000)
                api["writes" if ok else "write_errors"] += 1
                i += 1
                await asyncio.sleep(interval)

    try:
        check = [(p, q, m, pages[r].state) for (p, q, m), r in zip(plans[0], ROUTES, strict=True)]
        asyncio.run(check_pages(f"http://127.0.0.1:{port}", customers[0].cookie, check))
        result = asyncio.run(drive(f"http://127.0.0.1:{port}", [c.cookie for c in customers], plans, first,
                                   seconds, proc, background=shipment_updates))
    finally:
        stop_server(proc)
    return result, {"pages": pages, **api}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--update-interval", type=float, default=0.2,
                        help="seconds between shipment updates through the API")
    args = parser.parse_args()
    os.chdir(ROOT)
    clients = max(1, min(args.clients, 200))
    seconds = max(3.0, min(args.seconds, 120.0))
    workers = max(1, min(args.workers, 4))
    raise_fd_limit(4 * clients + 256)

    with backing_for(workers) as backing:
        base = run_baseline(clients, seconds, workers, backing)
        portal, info = run_portal(clients, seconds, workers, backing, max(0.05, args.update_interval))

    print(f"$ {command_line()}")
    print(f"{clients} clients, {seconds:.0f} s each, {workers} worker(s), {backing.label}; python "
          f"{sys.version.split()[0]}, load average {os.getloadavg()[0]:.1f}")
    print("one round trip = one page navigation (on_load_internal + the page's on_mount events, until hydrated)")
    for route, page in info["pages"].items():
        print(f"  {route:28} on_load {', '.join(short(n) for n in page.load)}; "
              f"on_mount {', '.join(short(n) for n in page.mount) or '-'}")
    wm = sorted(info["write_ms"])
    print(f"shipment updates through the API: {info['writes']} ok, {info['write_errors']} failed, "
          f"median {statistics.median(wm) if wm else float('nan'):.1f} ms, p95 {pct(wm, 0.95):.1f} ms")
    cols = ("navs_per_s", "median_ms", "p95_ms", "errors", "updates_per_s", "mem_kib_per_client")
    print(f"{'':30}" + "".join(f"{c:>20}" for c in cols))
    for name, r in (("baseline (counter app)", base), ("portal (4 pages + API)", portal)):
        print(f"{name:30}" + "".join(f"{r[c]:20.1f}" for c in cols))
    print(f"{'portal / baseline':30}" + "".join(
        f"{ratio(portal[c], base[c]):>20}" if c not in ("errors", "updates_per_s") else f"{'-':>20}" for c in cols))
    print("CPU per navigation (ms) while timed: the server's process tree, this script (the clients and the API "
          "writes), the rest of the machine (PostgreSQL, Redis, anything else); the cores' busy share")
    for name, r in (("baseline (counter app)", base), ("portal (4 pages + API)", portal)):
        print(f"  {name:28} server {r['server_cpu_ms']:5.2f}   clients {r['load_cpu_ms']:5.2f}   "
              f"rest {r['other_cpu_ms']:5.2f}   cores busy {r['busy_pct']:3.0f}%")


if __name__ == "__main__":
    main()
