"""Server CPU per page navigation, portal beside a bare Reflex app in the same run.

Throughput under load is bounded by what one navigation costs the server's process in CPU, so
this measures exactly that, without the noise of a saturated machine: a few signed-in tabs
navigate in a closed loop (no API writes, so after a warm-up every page is served from kept
views), and the server process tree's user+system CPU time is divided by the navigations. The
bare counter app's clients navigate the same way (on_load_internal -> increment -> hydrated).
Also prints, for the portal, how many loop-first handler tries were served on the event loop
and how many went to the worker pool (from /api/health, outside production).

With `--workers 2` both apps run two workers on a private Redis (and the portal on PostgreSQL
when DATABASE_URL is set, as in live_load.py); the Redis server's CPU is counted with the
server's, PostgreSQL's is printed apart (its backends serve other clients too), and so are the
Redis commands each navigation cost (INFO commandstats of the private Redis).

    .venv/bin/python bench/nav_cpu.py --tabs 4 --navs 1500
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/nav_cpu.py --workers 2
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
    tree_cpu_seconds,
    use_backing_here,
)

TMP = Path(tempfile.mkdtemp(prefix="portal-navcpu-"))
ROUTES = ["/dashboard", "/orders", "/orders/[id]", "/shipments/[id]"]


def redis_pids(url: str) -> list[int]:
    """The private redis-server of `url` (its port on its command line), if any."""
    import psutil

    if not url:
        return []
    port = f":{url.rsplit(':', 1)[1].split('/')[0]}"
    return [p.pid for p in psutil.process_iter(["name", "cmdline"])
            if p.info["name"] == "redis-server" and port in " ".join(p.info["cmdline"] or [])]


def postgres_cpu_seconds() -> float:
    """User + system CPU of every PostgreSQL process of this machine."""
    import psutil

    total = 0.0
    for p in psutil.process_iter(["name", "cpu_times"]):
        if p.info["name"] == "postgres" and p.info["cpu_times"] is not None:
            total += p.info["cpu_times"].user + p.info["cpu_times"].system
    return total


def redis_commands(url: str) -> dict[str, int]:
    """Calls per command so far on the Redis server of `url` (INFO commandstats)."""
    if not url:
        return {}
    from redis import Redis

    with Redis.from_url(url) as r:
        return {k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in r.info("commandstats").items()}


async def drive(url: str, cookies: list[str | None], plans: list[list[Any]], pid: int, navs: int,
                also: list[int] | None = None, redis_url: str = "") -> dict[str, Any]:
    tabs = [Tab(url, c) for c in cookies]
    for tab, plan in zip(tabs, plans, strict=True):
        await tab.connect(plan[0][0], plan[0][1], timeout=60)
    for _ in range(30):  # warm-up: every page once or more, so the kept views are filled
        for tab, plan in zip(tabs, plans, strict=True):
            path, query, mount = random.choice(plan)
            await tab.navigate(path, query, mount, timeout=20)
    pids = [pid, *(also or [])]
    commands0 = redis_commands(redis_url)
    cpu0, pg0, t0, latencies = sum(map(tree_cpu_seconds, pids)), postgres_cpu_seconds(), time.perf_counter(), []

    async def user(tab: Tab, plan: list[Any]) -> None:
        for _ in range(navs // len(tabs)):
            path, query, mount = random.choice(plan)
            latencies.append(await tab.navigate(path, query, mount, timeout=20))

    await asyncio.gather(*(user(t, p) for t, p in zip(tabs, plans, strict=True)))
    elapsed, cpu = time.perf_counter() - t0, sum(map(tree_cpu_seconds, pids)) - cpu0
    pg = postgres_cpu_seconds() - pg0
    commands = {k: n - commands0.get(k, 0) for k, n in redis_commands(redis_url).items()}
    commands = {k: n for k, n in commands.items() if n > 0 and k != "info"}
    await asyncio.gather(*(t.close() for t in tabs))
    return {"navs": len(latencies), "navs_per_s": len(latencies) / elapsed,
            "cpu_ms_per_nav": cpu * 1000 / len(latencies), "median_ms": statistics.median(latencies) * 1000,
            "pg_ms_per_nav": pg * 1000 / len(latencies), "redis_per_nav": sum(commands.values()) / len(latencies),
            "redis_commands": {k: round(n / len(latencies), 2) for k, n in sorted(commands.items(),
                                                                             key=lambda kv: -kv[1])}}


def run_bare(tabs: int, navs: int, workers: int) -> dict[str, float]:
    app_dir, _ = baseline_app(TMP)
    port = free_port()
    with backing_for(workers) as backing:
        redis_url = f"{backing.redis_url}/1" if backing.redis_url else ""
        proc = start_server(app_dir, port, server_env(os.environ, workers=workers, data_dir=TMP / "bare",
                                                      redis_url=redis_url), log=TMP / "bare.log")
        try:
            nav = ("/", {}, [])
            return asyncio.run(drive(f"http://127.0.0.1:{port}", [None] * tabs, [[nav]] * tabs, proc.pid, navs,
                                     redis_pids(backing.redis_url), redis_url))
        finally:
            stop_server(proc)


def run_portal(tabs: int, navs: int, workers: int) -> tuple[dict[str, float], dict[str, int], str]:
    import httpx

    with backing_for(workers) as backing:
        use_backing_here(backing, TMP / "portal")
        customers, _key = make_customers(tabs, tag="N")
        pages = portal_pages(ROUTES)
        plans = [[(*concrete(r, orders=c.orders[0][0], shipments=c.shipments[0][0]), pages[r].mount)
                  for r in ROUTES] for c in customers]
        port = free_port()
        env = server_env(os.environ, workers=workers, data_dir=TMP / "portal", database_url=backing.database_url,
                         redis_url=f"{backing.redis_url}/0" if backing.redis_url else "")
        proc = start_server(ROOT, port, env, log=TMP / "portal.log")
        try:
            result = asyncio.run(drive(f"http://127.0.0.1:{port}", [c.cookie for c in customers], plans, proc.pid,
                                       navs, redis_pids(backing.redis_url), env.get("REFLEX_REDIS_URL", "")))
            loop = httpx.get(f"http://127.0.0.1:{port}/api/health").json().get("loop_first", {})
        finally:
            stop_server(proc)
    return result, loop, backing.label


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tabs", type=int, default=4)
    ap.add_argument("--navs", type=int, default=1500)
    ap.add_argument("--workers", type=int, default=1, help="server workers (2 or more: with a private Redis)")
    args = ap.parse_args()
    bare = run_bare(args.tabs, args.navs, args.workers)
    portal, loop, label = run_portal(args.tabs, args.navs, args.workers)
    print(f"$ {command_line()}")
    print(f"{args.workers} worker(s), {label}, {args.tabs} tabs, {args.navs} navigations each app; load average "
          f"{os.getloadavg()[0]:.1f}")
    print(f"{'':24}{'navs/s':>10}{'median ms':>12}{'server CPU ms/nav':>20}{'PostgreSQL ms/nav':>20}")
    for name, r in (("bare Reflex app", bare), ("portal (4 pages)", portal)):
        print(f"{name:24}{r['navs_per_s']:>10.0f}{r['median_ms']:>12.1f}{r['cpu_ms_per_nav']:>20.2f}"
              f"{r['pg_ms_per_nav']:>20.2f}")
    print(f"portal / bare CPU per navigation: {portal['cpu_ms_per_nav'] / bare['cpu_ms_per_nav']:.2f}x")
    if args.workers > 1:
        for name, r in (("bare Reflex app", bare), ("portal", portal)):
            print(f"Redis commands per navigation, {name}: {r['redis_per_nav']:.2f} {r['redis_commands']}")
    print(f"loop-first tries: served on the loop {loop.get('served_on_loop', '?')}, "
          f"sent to the pool {loop.get('sent_to_pool', '?')}")


if __name__ == "__main__":
    main()
