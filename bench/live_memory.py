"""Memory of one portal worker per connected signed-in customer, beside a bare Reflex app with
the same number of clients in the same run; then many connect/disconnect cycles: what the
server keeps of closed tabs.

One worker (`reflex run --env prod --backend-only`), SQLite under a temporary directory
(DATABASE_URL and REFLEX_REDIS_URL are ignored).

1. Bare app: N clients connect (hydrate + the page's on_load, as the browser does); the growth
   of the server process tree's RSS divided by N. Then they disconnect, C cycles of a tab that
   opens and closes run, and once their states have expired (Reflex's own expiry, set to
   `--closed-seconds` for it), its RSS against its start: what a Reflex app alone gives back.
2. Portal: N customers, each with its own session cookie, connect on /dashboard (hydrate, then
   the dashboard's on_load chain until the page is hydrated, plus the shell's on_mount events);
   RSS growth per customer, and the ratio to the bare app's.
3. All disconnect; then C cycles of one customer opening the dashboard in a new tab and closing
   it (the issue's case: one customer's dashboard opened and closed in many tabs), K at a time.
   Reported: RSS before/after, the live registry's size (tabs bound) after connecting, after
   disconnecting and after the cycles (through `live_registry_size`, see the TODO there), and
   one integration-API shipment write to that customer before and after the cycles: its time
   and the number of "Attempting to send delta to disconnected client" lines it caused in the
   server log (deliveries to closed tabs).
4. Then the closed tabs' time runs out (the server runs with PORTAL_CLOSED_TAB_STATE_SECONDS =
   `--closed-seconds`, 60 by default; the product's default is 600): the script polls the worker's
   count of tab states (`/api/health`) until it is back where it was before any customer, and
   reports RSS then; then a second round of the same cycles, and RSS after it (whether the memory
   the first round's tabs freed is used again).

    .venv/bin/python bench/live_memory.py --customers 1000 --cycles 1000
    .venv/bin/python bench/live_memory.py --customers 1000 --cycles 1000 --hydrate full
    .venv/bin/python bench/live_memory.py --customers 50 --cycles 100      # quick

Every tab's hydrate (both apps, and the cycles) is, with `--hydrate first` (the default), what a
browser sends when it opens a page: with the hashes of the compiled default state, so the
backend sends only what differs from it. With `--hydrate full` it carries no hashes and the
whole state is sent, as to a browser that reconnects (after a network drop or a server restart);
this script measured only that before. The server keeps about the largest message it sent on a
socket for as long as the socket lives, so the two differ by about the size of the full state.

Raises this process's descriptor limit (resource.setrlimit) for the sockets; the server
inherits it. Loopback only; bounded in clients, cycles and time.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
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
    baseline_app,
    command_line,
    default_state_hashes,
    free_port,
    make_customers,
    portal_pages,
    raise_fd_limit,
    ratio,
    server_env,
    start_server,
    stop_server,
    tree_rss,
    use_backing_here,
)

TMP = Path(tempfile.mkdtemp(prefix="portal-mem-"))
WAVE = 25
CLOSED_TAB_LOG = "Attempting to send delta to disconnected client"


def tab_states(url: str) -> int | None:
    """How many tabs' Reflex states the worker keeps in memory (`/api/health` outside production)."""
    import httpx

    value = httpx.get(f"{url}/api/health", timeout=30).json().get("tab_states")
    return None if value is None else int(value)


def live_registry_size(url: str) -> int | None:
    """How many tabs the portal's live registry (portal/live/registry.py) holds now, or None when
    the server does not tell. The registry lives in the server's memory (or Redis); outside
    production `/api/health` includes its size as `live_tabs`."""
    import httpx

    try:
        body = httpx.get(f"{url}/api/health", timeout=10).json()
    except (httpx.HTTPError, ValueError):
        return None
    value = body.get("live_tabs") if isinstance(body, dict) else None
    return int(value) if isinstance(value, int) else None


def mib(n: float) -> str:
    return f"{n / 2**20:.1f} MiB"


async def connect_all(url: str, cookies: list[str | None], path: str, mount: list[str],
                      hashes: list[str] | None = None, *, keep: bool = False) -> tuple[list[Tab], int]:
    tabs = [Tab(url, c, keep=keep) for c in cookies]
    errors = 0

    async def one(tab: Tab) -> None:
        nonlocal errors
        try:
            await tab.connect(path, timeout=120, hashes=hashes)
            for name in mount:  # the shell's on_mount events, as the page mounts
                await tab.emit(name, path)
        except Exception:  # noqa: BLE001 - counted
            errors += 1

    for start in range(0, len(tabs), WAVE):
        await asyncio.gather(*(one(t) for t in tabs[start:start + WAVE]))
    return tabs, errors


def hydrate_size(tab: Tab) -> int:
    """Characters of the first update a tab received: the state snapshot of its hydrate."""
    return len(json.dumps(tab.updates[0], separators=(",", ":"))) if tab.updates else 0


async def settle(seconds: float) -> None:
    await asyncio.sleep(seconds)


async def run_cycles(url: str, cookie: str | None, path: str, mount: list[str], hashes: list[str] | None,
                     cycles: int, parallel: int) -> tuple[int, int, float]:
    """`cycles` times: one tab opens `path` (hydrate, on_load chain, mount events) and closes,
    `parallel` at a time. Returns (done, errors, seconds)."""
    errors = 0
    done = 0
    t0 = time.perf_counter()
    deadline = time.monotonic() + 1800

    async def cycle() -> None:
        nonlocal errors, done
        tab = Tab(url, cookie)
        try:
            await tab.connect(path, timeout=60, hashes=hashes)
            for name in mount:
                await tab.emit(name, path)
            await asyncio.sleep(random.uniform(0.0, 0.05))
        except Exception:  # noqa: BLE001 - counted
            errors += 1
        finally:
            await tab.close()
            done += 1

    for start in range(0, cycles, parallel):
        if time.monotonic() > deadline:
            break
        await asyncio.gather(*(cycle() for _ in range(min(parallel, cycles - start))))
    return done, errors, time.perf_counter() - t0


def measure_bare(n: int, first: bool, cycles: int, parallel: int, closed_seconds: int) -> dict[str, float]:
    """The bare app's memory per client, and then what it keeps once its clients and `cycles`
    connect/disconnect cycles are gone. Its tabs' states expire `closed_seconds` after their
    last event (Reflex's own expiry, REFLEX_REDIS_TOKEN_EXPIRATION, which its memory state manager
    also uses), as the portal's closed tabs' do with PORTAL_CLOSED_TAB_STATE_SECONDS."""
    app_dir, _ = baseline_app(TMP)
    env = server_env(os.environ, workers=1, data_dir=TMP / "b",
                     extra={"REFLEX_REDIS_TOKEN_EXPIRATION": str(closed_seconds)})
    hashes = default_state_hashes(app_dir, "counter.counter", env) if first else None
    port = free_port()
    proc = start_server(app_dir, port, env, log=TMP / "b.log")
    url = f"http://127.0.0.1:{port}"

    async def run() -> dict[str, float]:
        warm, _ = await connect_all(url, [None], "/", [], hashes, keep=True)
        size = hydrate_size(warm[0])
        await asyncio.gather(*(t.close() for t in warm))
        await settle(1)
        rss0 = tree_rss(proc)
        tabs, errors = await connect_all(url, [None] * n, "/", [], hashes)
        await settle(3)
        rss1 = tree_rss(proc)
        await asyncio.gather(*(t.close() for t in tabs))
        del tabs
        done, cycle_errors, _secs = await run_cycles(url, None, "/", [], hashes, cycles, parallel)
        # Reflex purges a state at its deadline; a little more for the last cycles' deadlines.
        await settle(closed_seconds + 10)
        rss5 = tree_rss(proc)
        return {"rss0": rss0, "rss1": rss1, "per": (rss1 - rss0) / n, "errors": errors, "hydrate": size,
                "cycles": done, "cycle_errors": cycle_errors, "rss5": rss5}

    try:
        return asyncio.run(run())
    finally:
        stop_server(proc)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--cycles", type=int, default=1000)
    parser.add_argument("--parallel", type=int, default=10, help="cycles in flight at once")
    parser.add_argument("--closed-seconds", type=int, default=60,
                        help="PORTAL_CLOSED_TAB_STATE_SECONDS of the portal server (the product's default is 600): "
                             "how long a closed tab's state is kept; the script waits for them to go")
    parser.add_argument("--hydrate", choices=["first", "full"], default="first",
                        help="first: a page's first connect (with the compiled defaults' hashes, as a browser); "
                             "full: the whole state is sent, as on a reconnect")
    args = parser.parse_args()
    first = args.hydrate == "first"
    os.chdir(ROOT)
    n = max(1, min(args.customers, 2000))
    cycles = max(0, min(args.cycles, 5000))
    parallel = max(1, min(args.parallel, 50))
    limit = raise_fd_limit(2 * n + 1024)

    use_backing_here(Backing(), TMP / "data")
    customers, key = make_customers(n, orders_each=2, tag="M")
    dash = portal_pages(["/dashboard"])["/dashboard"]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = TMP / "portal.log"
    closed_seconds = max(1, min(args.closed_seconds, 3600))
    bare = measure_bare(n, first, cycles, parallel, closed_seconds)
    env = server_env(os.environ, workers=1, data_dir=TMP / "data",
                     extra={"PORTAL_CLOSED_TAB_STATE_SECONDS": str(closed_seconds)})
    hashes = default_state_hashes(ROOT, "portal.portal", env) if first else None
    proc = start_server(ROOT, port, env, log=log)
    who = customers[0]
    _sid, tracking, order = who.shipments[0]
    tags = iter(["OutForDelivery", "AttemptFail", "InTransit", "OutForDelivery"] * 4)

    def api_write() -> tuple[float, int]:
        """One shipment update of `who` through the API: seconds, and closed-tab deliveries it caused."""
        import httpx

        before = log.read_text(errors="replace").count(CLOSED_TAB_LOG)
        t0 = time.perf_counter()
        r = httpx.put(f"{url}/api/v1/shipments/dhl/{tracking}", json={"order_number": order, "tag": next(tags)},
                      headers={"Authorization": f"Bearer {key}"}, timeout=120)
        took = time.perf_counter() - t0
        if r.status_code >= 300:
            raise SystemExit(f"API write failed: {r.status_code} {r.text[:200]}")
        time.sleep(2)  # deliveries run after the answer
        return took, log.read_text(errors="replace").count(CLOSED_TAB_LOG) - before

    res: dict[str, Any] = {}

    async def run() -> None:
        warm, _ = await connect_all(url, [who.cookie], "/dashboard", dash.mount, hashes, keep=True)
        res["hydrate"] = hydrate_size(warm[0])
        await asyncio.gather(*(t.close() for t in warm))
        await settle(2)
        gc.collect()
        res["rss0"] = tree_rss(proc)
        res["reg0"] = live_registry_size(url)
        res["states0"] = tab_states(url)
        t0 = time.perf_counter()
        tabs, res["connect_errors"] = await connect_all(url, [c.cookie for c in customers], "/dashboard",
                                                        dash.mount, hashes)
        res["connect_s"] = time.perf_counter() - t0
        await settle(3)
        res["rss1"] = tree_rss(proc)
        res["reg1"] = live_registry_size(url)
        await asyncio.gather(*(t.close() for t in tabs))
        del tabs
        await settle(3)
        res["rss2"] = tree_rss(proc)
        res["reg2"] = live_registry_size(url)
        res["write_before"] = await asyncio.to_thread(api_write)
        # Cycles: one customer opens the dashboard in a new tab and closes it, `parallel` at a time.
        def cycles_now() -> Any:
            return run_cycles(url, who.cookie, "/dashboard", dash.mount, hashes, cycles, parallel)

        res["cycles"], res["cycle_errors"], res["cycles_s"] = await cycles_now()
        await settle(5)
        res["rss3"] = tree_rss(proc)
        res["reg3"] = live_registry_size(url)
        res["write_after"] = await asyncio.to_thread(api_write)
        res["rss4"] = tree_rss(proc)
        res["states4"] = tab_states(url)
        # Then the closed tabs' time runs out: wait until their states are freed (polled).
        t0 = time.perf_counter()
        limit = time.monotonic() + closed_seconds + 180
        while (now := tab_states(url)) is not None and now > (res["states0"] or 0) and time.monotonic() < limit:
            await asyncio.sleep(1)
        res["states5"], res["freed_after_s"] = tab_states(url), time.perf_counter() - t0
        await settle(2)
        res["rss5"] = tree_rss(proc)
        # A second round of the same cycles: does the process reuse what the first round's tabs freed?
        res["cycles2"] = await cycles_now()
        await settle(5)
        res["rss6"], res["states6"] = tree_rss(proc), tab_states(url)

    try:
        asyncio.run(run())
    finally:
        stop_server(proc)

    def reg(v: int | None) -> str:
        return "n/a (not exposed, see live_registry_size)" if v is None else str(v)

    print(f"$ {command_line()}")
    hydrate = "a page's first connect (compiled defaults' hashes)" if first else "full state (as on a reconnect)"
    print(f"1 worker, SQLite; {n} customers; {cycles} connect/disconnect cycles ({parallel} at a time); "
          f"hydrate: {hydrate}; "
          f"fd limit {limit}; python {sys.version.split()[0]}, load average {os.getloadavg()[0]:.1f}")
    print(f"bare Reflex app, {n} clients:     RSS {mib(bare['rss0'])} -> {mib(bare['rss1'])}, "
          f"{bare['per'] / 1024:.1f} KiB per client, errors {bare['errors']:.0f}; "
          f"hydrate snapshot {bare['hydrate']:.0f} characters")
    print(f"  then all disconnected, {bare['cycles']:.0f} cycles (errors {bare['cycle_errors']:.0f}) and their "
          f"states expired ({closed_seconds} s): RSS {mib(bare['rss5'])}, "
          f"{(bare['rss5'] - bare['rss0']) / bare['rss0'] * 100:+.1f}% from its start before any client")
    per = (res["rss1"] - res["rss0"]) / n
    print(f"portal, {n} signed-in customers: RSS {mib(res['rss0'])} -> {mib(res['rss1'])}, "
          f"{per / 1024:.1f} KiB per customer ({ratio(per, bare['per'])} the bare app's), "
          f"connected in {res['connect_s']:.1f} s, errors {res['connect_errors']}; "
          f"hydrate snapshot {res['hydrate']} characters")
    print(f"  live registry: before {reg(res['reg0'])}, all connected {reg(res['reg1'])}, "
          f"all disconnected {reg(res['reg2'])}")
    print(f"  after all disconnected: RSS {mib(res['rss2'])}")
    print(f"cycles: {res['cycles']} in {res['cycles_s']:.1f} s, errors {res['cycle_errors']}")
    print(f"  RSS before cycles {mib(res['rss2'])}, after {mib(res['rss3'])} "
          f"({(res['rss3'] - res['rss2']) / res['rss2'] * 100:+.1f}%); vs the start before any customer "
          f"{mib(res['rss0'])}: {(res['rss3'] - res['rss0']) / res['rss0'] * 100:+.1f}%")
    print(f"  live registry after cycles: {reg(res['reg3'])}")
    for label, (took, closed) in (("before cycles", res["write_before"]), ("after cycles", res["write_after"])):
        print(f"  API shipment write for that customer {label}: {took * 1000:.0f} ms, "
              f"deliveries to closed tabs logged: {closed}")
    print(f"closed tabs' states (PORTAL_CLOSED_TAB_STATE_SECONDS={closed_seconds}): kept {res['states4']} "
          f"after the cycles, {res['states5']} {res['freed_after_s']:.0f} s later (before any customer: "
          f"{res['states0']})")
    print(f"  RSS then {mib(res['rss5'])}: {(res['rss5'] - res['rss2']) / res['rss2'] * 100:+.1f}% from before the "
          f"cycles, {(res['rss5'] - res['rss0']) / res['rss0'] * 100:+.1f}% from the start before any customer")
    done2, errors2, secs2 = res["cycles2"]
    print(f"a second round of {done2} cycles ({secs2:.1f} s, errors {errors2}): RSS {mib(res['rss6'])}, "
          f"{(res['rss6'] - res['rss5']) / res['rss5'] * 100:+.1f}% from before it; tab states kept {res['states6']}")


if __name__ == "__main__":
    main()
