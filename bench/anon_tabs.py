"""What strangers' tabs cost the server, with and without the short expiry of their states
(portal.state.tab_states), in the same run.

For each state manager mode (memory: one worker; redis: two workers sharing a private
redis-server; disk: one worker, Reflex's "disk" mode with its own states directory), two servers
in turn: the protection off (PORTAL_STRANGER_STATE_SECONDS=0, Reflex's hour for every tab) and
on (PORTAL_STRANGER_STATE_SECONDS=--ttl). Against each, N anonymous tabs (no cookie), K at a
time, each hydrating /login, going to /help and running a help search, stay open; then all close.

Reported per server: RSS growth of the server's process tree per tab; the tabs' states kept
(memory: the worker's count, from /api/health outside production; redis: keys and bytes
(MEMORY USAGE) in the private Redis; disk: files and bytes in the states directory) per tab; and,
after the tabs closed, whether they are reclaimed within --ttl plus the sweep (polled, bounded).
The protected/unprotected ratios are printed last.

    .venv/bin/python bench/anon_tabs.py --tabs 300
    .venv/bin/python bench/anon_tabs.py --tabs 100 --modes memory          # quick

Loopback only, SQLite under a temporary directory; bounded in tabs and time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
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
    command_line,
    free_port,
    portal_pages,
    private_redis,
    raise_fd_limit,
    ratio,
    server_env,
    start_server,
    stop_server,
    tree_rss,
    use_backing_here,
)

TMP = Path(tempfile.mkdtemp(prefix="portal-anon-"))


def kib(n: float) -> str:
    return f"{n / 1024:.1f} KiB"


class Storage:
    """Where a server keeps tab states, counted: (entries, bytes)."""

    def __init__(self, mode: str, url: str, states_dir: Path, redis_url: str) -> None:
        self.mode, self.url, self.states_dir, self.redis_url = mode, url, states_dir, redis_url

    def measure(self) -> tuple[int, int]:
        if self.mode == "disk":
            files = list(self.states_dir.glob("*.pkl")) if self.states_dir.exists() else []
            return len(files), sum(f.stat().st_size for f in files if f.exists())
        if self.mode == "redis":
            import redis

            r = redis.Redis.from_url(self.redis_url)
            try:
                keys = [k for k in r.scan_iter(count=1000) if not k.startswith(b"portal:")]
                pipe = r.pipeline(transaction=False)
                for k in keys:
                    pipe.memory_usage(k)
                sizes = pipe.execute() if keys else []
                return len(keys), sum(int(s or 0) for s in sizes)
            finally:
                r.close()
        import httpx

        body = httpx.get(f"{self.url}/api/health", timeout=30).json()
        return int(body.get("tab_states", 0)), 0


async def open_tabs(url: str, n: int, wave: int, help_mount: list[str], search: str) -> tuple[list[Tab], int]:
    tabs = [Tab(url) for _ in range(n)]
    errors = 0

    async def one(tab: Tab, i: int) -> None:
        nonlocal errors
        try:
            await tab.connect("/login", timeout=120)
            await tab.navigate("/help", mount=help_mount, timeout=120)
            await tab.call(search, "/help", payload={"form_data": {"q": f"return label {i}"}}, timeout=120)
        except Exception:  # noqa: BLE001 - counted
            errors += 1

    for start in range(0, n, wave):
        await asyncio.gather(*(one(t, start + k) for k, t in enumerate(tabs[start:start + wave])))
    return tabs, errors


def run_server(mode: str, ttl: int, n: int, wave: int, redis_url: str, reclaim_wait: float) -> dict[str, Any]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    label = f"{mode}-{ttl}"
    states_dir = TMP / f"states-{label}"
    extra = {"PORTAL_STRANGER_STATE_SECONDS": str(ttl), "REFLEX_STATES_WORKDIR": str(states_dir)}
    if mode == "disk":
        extra["REFLEX_STATE_MANAGER_MODE"] = "disk"
    elif mode == "memory":
        extra["REFLEX_STATE_MANAGER_MODE"] = "memory"
    env = server_env(dict(os.environ), workers=2 if mode == "redis" else 1, data_dir=TMP / "data",
                     redis_url=redis_url if mode == "redis" else "", extra=extra)
    pages = portal_pages(["/help"])
    from reflex_base.utils.format import format_event_handler

    from portal.state.help import HelpState

    handler: Any = HelpState.search
    search = format_event_handler(handler)
    proc = start_server(ROOT, port, env, log=TMP / f"{label}.log")
    storage = Storage(mode, url, states_dir, redis_url)
    res: dict[str, Any] = {"mode": mode, "ttl": ttl}

    async def run() -> None:
        warm, _ = await open_tabs(url, wave, wave, pages["/help"].mount, search)  # every worker warmed up
        await asyncio.gather(*(t.close() for t in warm))
        await asyncio.sleep(2)
        t0 = time.monotonic()
        while ttl and storage.measure()[0] and time.monotonic() - t0 < reclaim_wait:
            await asyncio.sleep(1)  # protected: the warm-up tabs' states gone first
        res["rss0"], res["st0"] = tree_rss(proc), storage.measure()
        t0 = time.perf_counter()
        tabs, res["errors"] = await open_tabs(url, n, wave, pages["/help"].mount, search)
        res["open_s"] = time.perf_counter() - t0
        await asyncio.sleep(3)  # disk mode writes after a short debounce
        res["rss1"], res["st1"] = tree_rss(proc), storage.measure()
        await asyncio.gather(*(t.close() for t in tabs))
        del tabs
        t0 = time.monotonic()
        res["reclaimed_s"] = None
        while time.monotonic() - t0 < reclaim_wait:
            if storage.measure()[0] <= res["st0"][0]:
                res["reclaimed_s"] = time.monotonic() - t0
                break
            await asyncio.sleep(2)
        res["st2"], res["rss2"] = storage.measure(), tree_rss(proc)

    try:
        asyncio.run(run())
    finally:
        stop_server(proc)
    return res


def report(r: dict[str, Any], n: int, reclaim_wait: float) -> tuple[float, float, float]:
    rss = (r["rss1"] - r["rss0"]) / n
    entries = (r["st1"][0] - r["st0"][0]) / n
    size = (r["st1"][1] - r["st0"][1]) / n
    what = {"memory": "states kept in the worker", "redis": "Redis keys", "disk": "state files"}[r["mode"]]
    prot = f"PORTAL_STRANGER_STATE_SECONDS={r['ttl']}" + (" (off)" if not r["ttl"] else "")
    reclaimed = (f"reclaimed {r['reclaimed_s']:.0f} s after closing" if r["reclaimed_s"] is not None
                 else f"NOT reclaimed within {reclaim_wait:.0f} s")
    print(f"  {prot:42s} open {r['open_s']:.0f} s, errors {r['errors']}; RSS +{kib(rss)}/tab; "
          f"{what} {entries:.2f}/tab" + (f", {kib(size)}/tab" if r["mode"] != "memory" else "")
          + f"; after close: {r['st2'][0]} {what}, {reclaimed}")
    return rss, entries, size


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tabs", type=int, default=300)
    parser.add_argument("--wave", type=int, default=25, help="tabs opened at once")
    parser.add_argument("--ttl", type=int, default=20, help="the strangers' expiry of the protected run (s)")
    parser.add_argument("--modes", default="memory,redis", help="memory, redis, disk (comma-separated)")
    args = parser.parse_args()
    os.chdir(ROOT)
    n = max(1, min(args.tabs, 2000))
    ttl = max(1, min(args.ttl, 600))
    modes = [m for m in args.modes.split(",") if m in ("memory", "redis", "disk")]
    raise_fd_limit(2 * n + 1024)
    use_backing_here(Backing(), TMP / "data")
    from portal.manage import migrate

    migrate()
    reclaim_wait = ttl + 90.0
    results: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    for mode in modes:
        if mode == "redis":
            with private_redis() as redis_url:
                off = run_server(mode, 0, n, args.wave, redis_url + "/0", reclaim_wait)
            with private_redis() as redis_url:
                on = run_server(mode, ttl, n, args.wave, redis_url + "/0", reclaim_wait)
        else:
            off = run_server(mode, 0, n, args.wave, "", reclaim_wait)
            on = run_server(mode, ttl, n, args.wave, "", reclaim_wait)
        results.append((mode, off, on))

    print(f"$ {command_line()}")
    print(f"{n} anonymous tabs ({args.wave} at a time), each: /login hydrated, /help, one help search; "
          f"python {sys.version.split()[0]}, load average {os.getloadavg()[0]:.1f}")
    for mode, off, on in results:
        workers = "2 workers + private Redis" if mode == "redis" else "1 worker"
        print(f"{mode} ({workers}):")
        a = report(off, n, reclaim_wait)
        b = report(on, n, reclaim_wait)
        print(f"  protected / off: RSS per tab {ratio(b[0], a[0])}, entries per tab {ratio(b[1], a[1])}"
              + (f", bytes per tab {ratio(b[2], a[2])}" if mode != "memory" else ""))


if __name__ == "__main__":
    main()
