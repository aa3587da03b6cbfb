"""Event-loop lag of one portal worker while customers sign in and download statements and
data exports, seen by an idle signed-in tab; beside the same figures with no load, and beside a
bare Reflex counter app, all in the same run.

One worker (`reflex run --env prod --backend-only`), SQLite under a temporary directory
(DATABASE_URL and REFLEX_REDIS_URL are ignored). Two processes talk to it:

- the probe (this process): one idle tab, signed in and hydrated on /dashboard, that
  * sends socket.io `ping` every 20 ms: Reflex answers `pong` on the socket's receive loop
    without touching any state (EventNamespace.on_ping), so the delay of the answer is the time
    the server's event loop needed to get to it (plus a loopback round trip): the loop's lag;
  * sends a click every 50 ms, in turn (so each kind every 100 ms): `LoginState.toggle_recovery`,
    a public handler that flips a flag (so it always answers with a delta) and is marked `@on_loop`
    (it runs on the event loop, as every handler that only changes the page's own fields): a round
    trip through the guard, the state lock and the portal's handler machinery, like any such click;
    and `LoginState.cancel_mfa`, a plain handler that clears two fields in the worker pool, as
    every handler that may block does (measured apart);
- the load (a child process, `--role load`): N customers (default 5), each in a loop:
  sign in the way the browser does (websocket `LoginState.submit` with email and password,
  which checks the argon2 hash; the answer is a script that sets the login binding cookie and
  goes to `/api/auth/session?ticket=...`, which this client follows to get the session cookie),
  then download the statement PDF (`/api/files/statement.pdf?from=..&to=..`, the URL
  BillingState.statement_url builds) and the data export (`/api/account/export`, PrivacyState's
  export_url, a zip), then close the tab.

Every tab's hydrate (the probe's, both apps', and each sign-in's) is, with `--hydrate first` (the
default), what a browser sends when it opens a page: the hashes of the compiled default state, so
the backend sends only what differs from it; `--hydrate full` sends none (as a browser reconnecting
after a network drop), and the whole state is sent (the script did only that until 2026-12-05).

Phases: the probe alone (unloaded), then the probe while the load runs (loaded). Prints the ping
delay's median, p95 and max in both phases and its excess over the unloaded median (the lag), the
cheap event's median and p95 in both and the loaded/unloaded p95 ratio, and what the load got
done. The bare app gets the same probe (ping and its increment handler), unloaded, as the floor,
and once more while as many processes as the load has customers do nothing but spin (`--spinners`):
what a busy machine alone does to an idle loop's answers, none of it the server's work, so the
portal's loaded figures can be read against it.

    .venv/bin/python bench/loop_lag.py --seconds 10
    .venv/bin/python bench/loop_lag.py --seconds 10 --loaders 5
    .venv/bin/python bench/loop_lag.py --seconds 10 --steps downloads   # or logins: one kind of load
    .venv/bin/python bench/loop_lag.py --seconds 10 --hydrate full      # every tab as on a reconnect
    .venv/bin/python bench/loop_lag.py --seconds 10 --load-cpus 1       # the load's clients kept on CPU 1
    .venv/bin/python bench/loop_lag.py --seconds 10 --load-cpus 1 --load-idle --probe-rt   # clients "elsewhere"

With `--load-cpus`, the load's client process and the spinners are kept on those CPUs (the servers
are not pinned and may use every core): the customers stand for browsers on other machines, whose
CPU is otherwise taken from the server's on a small machine. For the same reason they start a
session of their own (since 2026-12-07; `--shared-session` for the old way): Linux shares the CPU
between sessions first ("autogroups"), so clients in the probe's session made the probe's own group
look busy, and a `--load-nice` within that group did nothing against the server's.
`--load-idle` and `--probe-rt` go further the same way (the clients take only CPU time nothing else
wants; the probe's own wake-ups do not wait for a CPU), so that what is left is the server's own
work against its loop: the nearest this one machine comes to clients on other machines.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from live_common import (
    PASSWORD,
    ROOT,
    Backing,
    Tab,
    baseline_app,
    command_line,
    default_state_hashes,
    free_port,
    make_customers,
    pct,
    ratio,
    server_env,
    start_server,
    stop_server,
    use_backing_here,
)

from portal.concurrency import cpu_list

TMP = Path(tempfile.mkdtemp(prefix="portal-lag-"))
PING_EVERY = 0.02
EVENT_EVERY = 0.1


# --- the load (child process) ------------------------------------------------------------------

def handler(module: str, cls: str, name: str) -> str:
    """Event name of a portal handler (imported here, so a renamed class fails loudly)."""
    import importlib

    from reflex_base.utils.format import format_event_handler

    return format_event_handler(getattr(getattr(importlib.import_module(module), cls), name))


def _signed_in_or_refused(update: Any) -> bool:
    if "/api/auth/session" in json.dumps(update):
        return True
    delta = update.get("delta") if isinstance(update, dict) else None
    return any(isinstance(sub, dict) and any(k.startswith("error") and isinstance(v, str) and v
                                             for k, v in sub.items()) for sub in (delta or {}).values())


async def sign_in(url: str, email: str, submit: str, hashes: list[str] | None) -> tuple[str, float]:
    """The browser's password sign-in; returns the session cookie and the seconds it took."""
    import httpx

    from portal.domain.auth import BINDING_COOKIE
    from portal.settings import get_settings

    session_cookie = get_settings().session_cookie_name
    t0 = time.perf_counter()
    tab = Tab(url, None, keep=True)
    try:
        await tab.connect("/login", timeout=60, hashes=hashes)
        answer = await tab.call(submit, "/login", payload={"form_data": {"email": email, "password": PASSWORD}},
                                until=_signed_in_or_refused, timeout=60)
    finally:
        await tab.close()
    text = json.dumps(answer)
    found = re.search(r"(/api/auth/session\?ticket=[^\"\\]+)", text)
    # The page's mailbox carries the browser binding the ticket needs (BINDING_COOKIE), which the
    # page's script sets as a cookie before it follows the URL; this client does the same.
    binding = re.search(r'binding\\*"\s*:\s*\\*"([A-Za-z0-9_\-]+)', text)
    if not found:
        raise RuntimeError(f"sign-in refused: {text[:300]}")
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        if binding:
            http.cookies.set(BINDING_COOKIE, binding.group(1))
        r = await http.get(found.group(1), follow_redirects=False)
        cookie = r.cookies.get(session_cookie) or ""
        if r.status_code != 303 or not cookie:
            raise RuntimeError(f"ticket not redeemed: {r.status_code}")
    return f"{session_cookie}={cookie}", time.perf_counter() - t0


async def load_main(url: str, emails: list[str], seconds: float, steps: str = "all",
                    hashes: list[str] | None = None) -> dict[str, Any]:
    import httpx

    submit = handler("portal.state.session", "LoginState", "submit")
    stop_at = time.monotonic() + seconds
    stats: dict[str, list[float]] = {"login": [], "statement": [], "export": []}
    errors: list[str] = []
    year = date.today().year

    async def customer(email: str) -> None:
        cookie = ""
        while time.monotonic() < stop_at:
            try:
                if steps != "downloads" or not cookie:  # "downloads": one sign-in, then downloads only
                    cookie, took = await sign_in(url, email, submit, hashes)
                    stats["login"].append(took)
                if steps == "logins":
                    continue
                async with httpx.AsyncClient(base_url=url, timeout=60, headers={"Cookie": cookie}) as http:
                    for kind, path in (("statement", f"/api/files/statement.pdf?from={year - 1}-01-01"
                                                     f"&to={date.today().isoformat()}"),
                                       ("export", "/api/account/export")):
                        t0 = time.perf_counter()
                        r = await http.get(path)
                        if r.status_code != 200 or len(r.content) < 100:
                            raise RuntimeError(f"{path}: {r.status_code}")
                        stats[kind].append(time.perf_counter() - t0)
            except Exception as err:  # noqa: BLE001 - counted and reported
                errors.append(f"{type(err).__name__}: {err}"[:200])
                await asyncio.sleep(0.5)

    t0 = time.perf_counter()
    await asyncio.gather(*(customer(e) for e in emails))
    elapsed = time.perf_counter() - t0
    return {"elapsed": elapsed, "errors": errors, **{k: sorted(v) for k, v in stats.items()}}


# --- the probe ---------------------------------------------------------------------------------

async def probe(url: str, cookie: str | None, event: str, path: str, seconds: float,
                hashes: list[str] | None = None, pooled: str = "") -> dict[str, list[float]]:
    """`event` every EVENT_EVERY; with `pooled`, that handler in turn with it (each measured apart)."""
    tab = Tab(url, cookie)
    await tab.connect(path, timeout=60, hashes=hashes)
    for _ in range(10):  # warm-up, not counted
        await tab.ping(timeout=10)
    for _ in range(3):
        await tab.call(event, path, timeout=10)
    pings: list[float] = []
    events: list[float] = []
    pooled_events: list[float] = []
    errors = 0
    stop_at = time.monotonic() + seconds

    async def pinger() -> None:
        nonlocal errors
        while time.monotonic() < stop_at:
            try:
                pings.append(await tab.ping(timeout=10))
            except Exception:  # noqa: BLE001
                errors += 1
            await asyncio.sleep(PING_EVERY)

    async def clicker() -> None:
        nonlocal errors
        turn = 0
        while time.monotonic() < stop_at:
            name, into = (pooled, pooled_events) if pooled and turn % 2 else (event, events)
            turn += 1
            t0 = time.perf_counter()
            try:
                await tab.call(name, path, timeout=10)
                into.append(time.perf_counter() - t0)
            except Exception:  # noqa: BLE001
                errors += 1
            await asyncio.sleep(EVENT_EVERY / 2 if pooled else EVENT_EVERY)  # each kind every EVENT_EVERY

    try:
        await asyncio.gather(pinger(), clicker())
    finally:
        await tab.close()
    return {"ping": sorted(pings), "event": sorted(events), "pooled": sorted(pooled_events),
            "errors": [float(errors)]}


def row(label: str, values: list[float], floor: float | None = None) -> str:
    ms = [v * 1000 for v in values]
    if not ms:
        return f"{label:46} (none)"
    extra = ""
    if floor is not None:
        extra = f"   lag over unloaded median: p95 {max(0.0, pct(ms, 0.95) - floor):7.1f}  " \
                f"max {max(0.0, ms[-1] - floor):7.1f}"
    return (f"{label:46} n={len(ms):<5} median {statistics.median(ms):7.1f}  p95 {pct(ms, 0.95):7.1f}  "
            f"max {ms[-1]:7.1f} ms{extra}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10, help="length of each phase")
    parser.add_argument("--loaders", type=int, default=5, help="customers signing in and downloading")
    parser.add_argument("--steps", default="all", choices=["all", "logins", "downloads"],
                        help="what the load does: sign in and download (all), sign in only, or sign in once "
                             "and then download only (to tell their shares of the lag apart)")
    parser.add_argument("--load-nice", type=int, default=0,
                        help="run the load's clients this many nice steps below the server (they stand for "
                             "browsers on other machines; on a small machine their own CPU is otherwise "
                             "taken from the server's)")
    parser.add_argument("--load-cpus", default="",
                        help="CPUs (e.g. 1, or 2-3) the load's clients and the spinners are kept on, standing for "
                             "browsers on other machines; the servers are not pinned and may use every core")
    parser.add_argument("--shared-session", action="store_true",
                        help="keep the load's clients and the spinners in this script's session (so in the probe's "
                             "scheduling group, where Linux groups sessions), as the script did until 2026-12-07")
    parser.add_argument("--load-idle", action="store_true",
                        help="run the load's clients and the spinners at SCHED_IDLE: they get only CPU time nothing "
                             "else wants, so they take (almost) none from the servers or the probe, as browsers "
                             "on other machines would not")
    parser.add_argument("--probe-rt", action="store_true",
                        help="run the probe at SCHED_FIFO (real time; needs CAP_SYS_NICE): its own wake-ups do not "
                             "wait for a CPU, as a browser's on another machine would not; the servers it starts "
                             "do not inherit it")
    parser.add_argument("--hydrate", choices=["first", "full"], default="first",
                        help="first: each tab's hydrate as a page's first connect (with the compiled defaults' "
                             "hashes, as a browser); full: without them (as a reconnect), the whole state sent")
    parser.add_argument("--spinners", type=int, default=-1,
                        help="processes that only spin while the bare app is probed a second time, to show what "
                             "a busy machine alone does to an idle loop (default: as many as --loaders; 0: skip)")
    parser.add_argument("--hashes-file", default="", help=argparse.SUPPRESS)
    parser.add_argument("--role", default="probe", choices=["probe", "load"], help=argparse.SUPPRESS)
    parser.add_argument("--url", default="", help=argparse.SUPPRESS)
    parser.add_argument("--emails", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.chdir(ROOT)
    seconds = max(3.0, min(args.seconds, 60.0))
    loaders = max(1, min(args.loaders, 20))
    load_cpus = cpu_list(args.load_cpus, name="--load-cpus")

    def load_process_setup() -> None:
        """In the load's processes (clients, spinners): their session, niceness and CPUs."""
        if not args.shared_session:
            # A session of its own, so a scheduling group of its own where Linux groups sessions
            # (autogroups): the clients' CPU is not counted against the probe's group, as a browser
            # on another machine's would not be; and a niceness is then the group's too.
            os.setsid()
        if args.load_nice > 0:
            os.nice(args.load_nice)
            if not args.shared_session:
                with contextlib.suppress(OSError), open("/proc/self/autogroup", "w") as group:
                    group.write(str(args.load_nice))
        if load_cpus:
            os.sched_setaffinity(0, load_cpus)
        if args.load_idle:
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))

    if args.role == "load":
        sys.path.insert(0, str(ROOT))
        hashes = json.loads(Path(args.hashes_file).read_text()) if args.hashes_file else None
        out = asyncio.run(load_main(args.url, args.emails.split(","), seconds, args.steps, hashes))
        print(json.dumps(out))
        return

    if args.probe_rt:
        try:  # reset on fork: the servers, the load and the spinners started from here stay normal
            os.sched_setscheduler(0, os.SCHED_FIFO | os.SCHED_RESET_ON_FORK, os.sched_param(1))
        except PermissionError:
            sys.exit("--probe-rt: not permitted (needs root or CAP_SYS_NICE)")
    # The bare app: the floor of both probes.
    first = args.hydrate == "first"
    app_dir, increment = baseline_app(TMP)
    env = server_env(os.environ, workers=1, data_dir=TMP / "b")
    bare_hashes = default_state_hashes(app_dir, "counter.counter", env) if first else None
    port = free_port()
    proc = start_server(app_dir, port, env, log=TMP / "b.log")
    try:
        base = asyncio.run(probe(f"http://127.0.0.1:{port}", None, increment, "/", min(seconds, 5), bare_hashes))
        # The machine's share: the same probe while processes that only spin take the cores (as many
        # as the load's customers, at the load's niceness). Nothing of it touches the bare app's loop.
        spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"], preexec_fn=load_process_setup)
                    for _ in range(args.spinners if args.spinners >= 0 else loaders)]
        try:
            busy_machine = asyncio.run(probe(f"http://127.0.0.1:{port}", None, increment, "/", min(seconds, 5),
                                             bare_hashes)) if spinners else None
        finally:
            for sp in spinners:
                sp.kill()
                sp.wait()
    finally:
        stop_server(proc)

    backing = Backing()
    use_backing_here(backing, TMP / "data")
    customers, _ = make_customers(loaders + 1, password=True, tag="G", api_key=False)
    idle, busy = customers[0], customers[1:]
    cheap = handler("portal.state.session", "LoginState", "toggle_recovery")  # @on_loop: no thread
    pooled = handler("portal.state.session", "LoginState", "cancel_mfa")  # a plain handler: the worker pool
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = server_env(os.environ, workers=1, data_dir=TMP / "data")
    hashes = default_state_hashes(ROOT, "portal.portal", env) if first else None
    hashes_file = TMP / "hashes.json"
    hashes_file.write_text(json.dumps(hashes))
    proc = start_server(ROOT, port, env, log=TMP / "portal.log")
    try:
        unloaded = asyncio.run(probe(url, idle.cookie, cheap, "/dashboard", seconds, hashes, pooled))
        load = subprocess.Popen([sys.executable, __file__, "--role", "load", "--url", url, "--seconds",
                                 str(seconds + 2), "--steps", args.steps, "--emails", ",".join(c.email for c in busy),
                                 "--hashes-file", str(hashes_file)],
                                stdout=subprocess.PIPE, text=True, cwd=ROOT, preexec_fn=load_process_setup)
        time.sleep(1.5)  # let every customer get going
        loaded = asyncio.run(probe(url, idle.cookie, cheap, "/dashboard", seconds, hashes, pooled))
        out, _ = load.communicate(timeout=seconds + 120)
        work = json.loads(out.strip().splitlines()[-1])
    finally:
        stop_server(proc)

    print(f"$ {command_line()}")
    doing = {"all": "signing in + downloading", "logins": "signing in", "downloads": "downloading"}[args.steps]
    if args.load_nice > 0:
        doing += f" (their clients at nice {args.load_nice})"
    if load_cpus:
        doing += f" (their clients and the spinners kept on CPU {','.join(map(str, sorted(load_cpus)))} of " \
                 f"{os.cpu_count()}; the servers on any)"
    if args.load_idle:
        doing += " (their clients at SCHED_IDLE)"
    if args.probe_rt:
        doing += " (the probe at SCHED_FIFO)"
    hydrate = "a page's first connect (compiled defaults' hashes)" if first else "full state (as on a reconnect)"
    print(f"1 worker, SQLite; {loaders} customers {doing}; phases of {seconds:.0f} s; hydrate: {hydrate}; "
          f"python {sys.version.split()[0]}, load average {os.getloadavg()[0]:.1f}")
    print("socket.io ping -> pong (the server's event loop lag + a loopback round trip):")
    floor = statistics.median(unloaded["ping"]) * 1000 if unloaded["ping"] else 0.0
    print(row("  bare Reflex app, unloaded", base["ping"]))
    if busy_machine is not None:
        print(row(f"  bare Reflex app, {len(spinners)} spinning processes", busy_machine["ping"]))
    print(row("  portal, unloaded", unloaded["ping"]))
    print(row("  portal, loaded", loaded["ping"], floor))
    print(f"idle signed-in tab, cheap event round trip ({cheap.split('.')[-1]}):")
    print(row("  bare Reflex app, unloaded (increment)", base["event"]))
    if busy_machine is not None:
        print(row(f"  bare Reflex app, {len(spinners)} spinning processes", busy_machine["event"]))
    print(row("  portal, unloaded", unloaded["event"]))
    print(row("  portal, loaded", loaded["event"]))
    print(f"  loaded / unloaded p95: {ratio(pct(loaded['event'], 0.95), pct(unloaded['event'], 0.95))}   "
          f"portal unloaded / bare app p95: {ratio(pct(unloaded['event'], 0.95), pct(base['event'], 0.95))}")
    if busy_machine is not None:
        alone = pct(busy_machine["event"], 0.95)
        print(f"  the bare app with the machine busy / unloaded p95: {ratio(alone, pct(base['event'], 0.95))} "
              f"(what the cores alone do; the portal's loaded p95 over it: {ratio(pct(loaded['event'], 0.95), alone)})")
    print(f"idle signed-in tab, a click that takes a worker thread ({pooled.split('.')[-1]}, in turn with the above):")
    print(row("  portal, unloaded", unloaded["pooled"]))
    print(row("  portal, loaded", loaded["pooled"]))
    print(f"  loaded / unloaded p95: {ratio(pct(loaded['pooled'], 0.95), pct(unloaded['pooled'], 0.95))}")
    errs = int(unloaded["errors"][0] + loaded["errors"][0])
    print(f"  probe errors (timeouts): {errs}")
    el = work["elapsed"]
    print(f"load in {el:.1f} s: " + ", ".join(
        f"{k} {len(work[k])} ({len(work[k]) / el:.1f}/s, median {statistics.median(work[k]) * 1000:.0f} ms)"
        if work[k] else f"{k} 0" for k in ("login", "statement", "export")) + f", errors {len(work['errors'])}")
    for e in sorted(set(work["errors"]))[:5]:
        print(f"  error: {e}")


if __name__ == "__main__":
    main()
