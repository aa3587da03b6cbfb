"""Server CPU per page navigation, portal beside a bare Reflex app in the same run.

Throughput under load is bounded by what one navigation costs the server's process in CPU, so
this measures exactly that, without the noise of a saturated machine: a few signed-in tabs
navigate in a closed loop (no API writes, so after a warm-up every page is served from kept
views), and the server process tree's user+system CPU time is divided by the navigations. The
bare counter app's clients navigate the same way (on_load_internal -> increment -> hydrated).
Also prints, for the portal, how many loop-first handler tries were served on the event loop
and how many went to the worker pool (from /api/health, outside production).

    .venv/bin/python bench/nav_cpu.py --tabs 4 --navs 1500
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from live_common import (
    ROOT,
    Tab,
    backing_for,
    baseline_app,
    command_line,
    concrete,
    free_port,
    make_customers,
    portal_pages,
    server_env,
    start_server,
    stop_server,
    use_backing_here,
)

TMP = Path(tempfile.mkdtemp(prefix="portal-navcpu-"))
ROUTES = ["/dashboard", "/orders", "/orders/[id]", "/shipments/[id]"]


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its descendants (Linux /proc)."""
    todo, seen, ticks = [pid], set(), 0
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            continue
        todo.extend(int(c) for c in children)
    return ticks / os.sysconf("SC_CLK_TCK")


async def drive(url: str, cookies: list[str | None], plans: list[list[Any]], pid: int, navs: int) -> dict[str, float]:
    tabs = [Tab(url, c) for c in cookies]
    for tab, plan in zip(tabs, plans, strict=True):
        await tab.connect(plan[0][0], plan[0][1], timeout=60)
    for _ in range(30):  # warm-up: every page once or more, so the kept views are filled
        for tab, plan in zip(tabs, plans, strict=True):
            path, query, mount = random.choice(plan)
            await tab.navigate(path, query, mount, timeout=20)
    cpu0, t0, latencies = tree_cpu_seconds(pid), time.perf_counter(), []

    async def user(tab: Tab, plan: list[Any]) -> None:
        for _ in range(navs // len(tabs)):
            path, query, mount = random.choice(plan)
            latencies.append(await tab.navigate(path, query, mount, timeout=20))

    await asyncio.gather(*(user(t, p) for t, p in zip(tabs, plans, strict=True)))
    elapsed, cpu = time.perf_counter() - t0, tree_cpu_seconds(pid) - cpu0
    await asyncio.gather(*(t.close() for t in tabs))
    return {"navs": len(latencies), "navs_per_s": len(latencies) / elapsed,
            "cpu_ms_per_nav": cpu * 1000 / len(latencies), "median_ms": statistics.median(latencies) * 1000}


def run_bare(tabs: int, navs: int) -> dict[str, float]:
    app_dir, _ = baseline_app(TMP)
    port = free_port()
    proc = start_server(app_dir, port, server_env(os.environ, workers=1, data_dir=TMP / "bare"), log=TMP / "bare.log")
    try:
        nav = ("/", {}, [])
        return asyncio.run(drive(f"http://127.0.0.1:{port}", [None] * tabs, [[nav]] * tabs, proc.pid, navs))
    finally:
        stop_server(proc)


def run_portal(tabs: int, navs: int) -> tuple[dict[str, float], dict[str, int]]:
    import httpx

    with backing_for(1) as backing:
        use_backing_here(backing, TMP / "portal")
        customers, _key = make_customers(tabs, tag="N")
        pages = portal_pages(ROUTES)
        plans = [[(*concrete(r, orders=c.orders[0][0], shipments=c.shipments[0][0]), pages[r].mount)
                  for r in ROUTES] for c in customers]
        port = free_port()
        env = server_env(os.environ, workers=1, data_dir=TMP / "portal", database_url=backing.database_url)
        proc = start_server(ROOT, port, env, log=TMP / "portal.log")
        try:
            result = asyncio.run(drive(f"http://127.0.0.1:{port}", [c.cookie for c in customers], plans, proc.pid,
                                       navs))
            loop = httpx.get(f"http://127.0.0.1:{port}/api/health").json().get("loop_first", {})
        finally:
            stop_server(proc)
    return result, loop


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tabs", type=int, default=4)
    ap.add_argument("--navs", type=int, default=1500)
    args = ap.parse_args()
    bare = run_bare(args.tabs, args.navs)
    portal, loop = run_portal(args.tabs, args.navs)
    print(f"$ {command_line()}")
    print(f"1 worker, SQLite, {args.tabs} tabs, {args.navs} navigations each app; load average "
          f"{os.getloadavg()[0]:.1f}")
    print(f"{'':24}{'navs/s':>10}{'median ms':>12}{'server CPU ms/nav':>20}")
    for name, r in (("bare Reflex app", bare), ("portal (4 pages)", portal)):
        print(f"{name:24}{r['navs_per_s']:>10.0f}{r['median_ms']:>12.1f}{r['cpu_ms_per_nav']:>20.2f}")
    print(f"portal / bare CPU per navigation: {portal['cpu_ms_per_nav'] / bare['cpu_ms_per_nav']:.2f}x")
    print(f"loop-first tries: served on the loop {loop.get('served_on_loop', '?')}, "
          f"sent to the pool {loop.get('sent_to_pool', '?')}")


if __name__ == "__main__":
    main()
