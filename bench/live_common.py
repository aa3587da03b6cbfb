"""Shared pieces of the live-runtime benchmarks (live_load, loop_lag, live_memory, push_statements).

Not a benchmark itself. Everything here talks to loopback only, and every wait is bounded.

- servers: `reflex run --env prod --backend-only` for the portal (ROOT) and for a bare Reflex
  counter app generated under a temporary directory (the baseline), started and stopped by
  process group; the RSS of a server's process tree;
- private services: a throw-away PostgreSQL database on the server of DATABASE_URL (created,
  then dropped) and a private `redis-server` on a free port (started, then stopped), so a
  benchmark never touches the shared database or Redis;
- `Tab`: one browser tab speaking Reflex's websocket protocol the way the compiled frontend
  does: the hydrate event rides in the socket.io CONNECT packet, a client-side page navigation
  is `on_load_internal` plus the shell's `on_mount` events, and a navigation is complete when
  the backend flips `is_hydrated` back to true (the last event of the page's on_load chain);
- the portal's pages and handlers are looked up from the app itself (routes -> on_load
  handlers, the shell's on_mount events), so renamed states or folded events are followed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
NAMESPACE = "/_event"
STATE = "reflex___state____state"
HYDRATED = "is_hydrated_rx_state_"
PASSWORD = "bench passphrase 2026"


# As given when the benchmark started (the scripts point their own settings elsewhere later).
_GIVEN_ENV = {k: os.environ.get(k, "") for k in ("DATABASE_URL", "REFLEX_REDIS_URL")}


def command_line() -> str:
    """The command that produced the figures, to print with them."""
    env = " ".join(f"{k}={v}" for k, v in _GIVEN_ENV.items() if v)
    exe = sys.executable
    with contextlib.suppress(ValueError):
        exe = str(Path(exe).relative_to(Path.cwd()))
    return " ".join(p for p in (env, exe, *sys.argv) if p)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- servers ---------------------------------------------------------------------------------

def start_server(cwd: Path, port: int, env: dict[str, str], *, log: Path | None = None,
                 timeout: float = 300) -> subprocess.Popen[bytes]:
    out = log.open("wb") if log else subprocess.DEVNULL
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "reflex"), "run", "--env", "prod", "--backend-only",
         "--backend-port", str(port), "--backend-host", "127.0.0.1"],
        cwd=cwd, env=env, start_new_session=True, stdout=out, stderr=subprocess.STDOUT)
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ping", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise SystemExit(f"server in {cwd} exited (log: {log})")
        time.sleep(0.5)
    stop_server(proc)
    raise SystemExit(f"server in {cwd} did not start within {timeout:.0f} s (log: {log})")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def tree_rss(proc: subprocess.Popen[bytes]) -> int:
    """RSS of the server process and all its children (workers), in bytes."""
    import psutil

    p = psutil.Process(proc.pid)
    total = 0
    for c in [p, *p.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            total += c.memory_info().rss
    return total


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


def machine_cpu_seconds() -> float:
    """CPU time all cores of this machine spent busy so far (Linux /proc/stat: all but idle and iowait)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    busy = sum(fields[:8]) - fields[3] - fields[4]  # user nice system idle iowait irq softirq steal
    return busy / os.sysconf("SC_CLK_TCK")


def raise_fd_limit(wanted: int) -> int:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(max(soft, wanted), hard) if hard != resource.RLIM_INFINITY else max(soft, wanted)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def server_env(base: dict[str, str], *, workers: int, data_dir: Path, database_url: str = "",
               redis_url: str = "", extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a server: never inherits DATABASE_URL or REFLEX_REDIS_URL unasked."""
    env = {k: v for k, v in base.items() if k not in ("DATABASE_URL", "REFLEX_REDIS_URL")}
    env.update({"GRANIAN_WORKERS": str(workers), "REFLEX_USE_SYSTEM_BUN": "1", "PORTAL_ENV": "test",
                "PORTAL_DATA_DIR": str(data_dir), "REFLEX_TELEMETRY_ENABLED": "false"})
    # The portal's rxconfig.py turns Reflex's opportunistic locking on (it matters with Redis); the
    # bare app is given the same, so that both run Reflex configured alike. Set
    # REFLEX_OPLOCK_ENABLED=false to measure both without it.
    env.setdefault("REFLEX_OPLOCK_ENABLED", "true")
    # Raise the server's own descriptor limit too (it inherits ours).
    if database_url:
        env["DATABASE_URL"] = database_url
    if redis_url:
        env["REFLEX_REDIS_URL"] = redis_url
    env.update(extra or {})
    return env


# --- the baseline: a bare Reflex counter app ---------------------------------------------------

def baseline_app(tmp: Path, *, push_route: str = "") -> tuple[Path, str]:
    """A counter app whose page loads by incrementing (so a navigation runs one handler, like a
    portal page's load). Returns its directory and the increment handler's event name.

    With `push_route` (e.g. "/bench/push"), the app also has one API route, POST
    `push_route?token=<tab token>`, that does the least an out-of-band push can do: one
    `app.modify_state` on that tab's CounterState, count + 1 (the delta goes to the tab); its answer
    names the worker that handled it (header x-worker-pid)."""
    app_dir = tmp / "counter_app"
    (app_dir / "counter").mkdir(parents=True, exist_ok=True)
    (app_dir / "rxconfig.py").write_text('import reflex as rx\n\nconfig = rx.Config(app_name="counter", '
                                         'telemetry_enabled=False)\n')
    (app_dir / "counter" / "__init__.py").write_text("")
    app_line = "app = rx.App()"
    push = ""
    if push_route:
        app_line = f"app = rx.App(api_transformer=Starlette(routes=[Route({push_route!r}, push, methods=['POST'])]))"
        push = textwrap.dedent("""
            import os

            from starlette.applications import Starlette
            from starlette.requests import Request
            from starlette.responses import Response
            from starlette.routing import Route


            async def push(request: Request) -> Response:
                token = request.query_params["token"]
                async with app.modify_state(rx.BaseStateToken(ident=token, cls=CounterState)) as st:
                    (await st.get_state(CounterState)).count += 1
                return Response(status_code=204, headers={"x-worker-pid": str(os.getpid())})
        """)
    (app_dir / "counter" / "counter.py").write_text(textwrap.dedent("""
        import reflex as rx


        class CounterState(rx.State):
            count: int = 0

            @rx.event
            def increment(self) -> None:
                self.count += 1


        def index() -> rx.Component:
            return rx.button(CounterState.count, on_click=CounterState.increment)

    """) + push + "\n\n" + app_line + "\napp.add_page(index, on_load=CounterState.increment)\n")
    name = subprocess.run(
        [sys.executable, "-c", "from counter.counter import CounterState; "
         "from reflex_base.utils.format import format_event_handler as f; print(f(CounterState.increment))"],
        cwd=app_dir, capture_output=True, text=True, check=True, timeout=120).stdout.strip()
    return app_dir, name


# --- private services --------------------------------------------------------------------------

@contextlib.contextmanager
def private_redis() -> Iterator[str]:
    """A private redis-server on a free port, no persistence; stopped at the end."""
    binary = shutil.which("redis-server")
    if not binary:
        raise SystemExit("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", tempfile.mkdtemp(prefix="bench-redis-")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            time.sleep(0.1)
        yield f"redis://127.0.0.1:{port}"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)


@contextlib.contextmanager
def private_postgres(url: str) -> Iterator[str]:
    """A throw-away database `portal_bench_<random>` on the server of `url`; dropped at the end."""
    from sqlalchemy import create_engine, text

    parts = urlsplit(url)
    if not parts.scheme.startswith("postgresql"):
        raise SystemExit(f"DATABASE_URL must be PostgreSQL for a private database, not {parts.scheme}")
    scheme = "postgresql+psycopg" if parts.scheme == "postgresql" else parts.scheme
    admin_url = urlunsplit((scheme, parts.netloc, "/postgres", "", ""))
    name = f"portal_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass
class Backing:
    """Where the portal keeps its data for this run."""

    database_url: str = ""  # "" = SQLite under data_dir
    redis_url: str = ""  # "" = state in memory (one worker)
    label: str = "SQLite"


@contextlib.contextmanager
def backing_for(workers: int) -> Iterator[Backing]:
    """SQLite unless DATABASE_URL is set (then a private PostgreSQL database on that server);
    a private Redis when REFLEX_REDIS_URL is set or there are several workers."""
    with contextlib.ExitStack() as stack:
        b = Backing()
        if os.environ.get("DATABASE_URL"):
            b.database_url = stack.enter_context(private_postgres(os.environ["DATABASE_URL"]))
            b.label = "PostgreSQL (private database)"
        if os.environ.get("REFLEX_REDIS_URL") or workers > 1:
            b.redis_url = stack.enter_context(private_redis())
            b.label += " + Redis (private redis-server)"
        yield b


def use_backing_here(backing: Backing, data_dir: Path) -> None:
    """Point this process's portal settings (fixtures, migrations) at the run's database."""
    os.environ.pop("REFLEX_REDIS_URL", None)
    os.environ["PORTAL_ENV"] = "test"
    os.environ["PORTAL_DATA_DIR"] = str(data_dir)
    if backing.database_url:
        os.environ["DATABASE_URL"] = backing.database_url
    else:
        os.environ.pop("DATABASE_URL", None)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from portal.db import set_engine
    from portal.settings import reset_settings_cache

    reset_settings_cache()
    set_engine(None)


# --- the portal's pages, looked up from the app ------------------------------------------------

@dataclass
class Page:
    route: str  # the route pattern, e.g. "/orders/[id]"
    load: list[str]  # on_load handler event names
    state: str  # full name of the state of the (first) on_load handler
    mount: list[str] = field(default_factory=list)  # on_mount handlers in the page's tree (the shell's)


def _mount_events(component: Any) -> list[str]:
    from reflex_base.utils.format import format_event_handler

    found: list[str] = []
    seen: set[int] = set()
    stack = [component]
    while stack and len(seen) < 20000:
        c = stack.pop()
        if id(c) in seen:
            continue
        seen.add(id(c))
        chain = (getattr(c, "event_triggers", None) or {}).get("on_mount")
        for spec in getattr(chain, "events", None) or []:
            handler = getattr(spec, "handler", None)
            if handler is None:
                continue
            with contextlib.suppress(Exception):
                name = format_event_handler(handler)
                if not name.split(".")[-1].startswith("_") and name not in found:
                    found.append(name)
        stack.extend(reversed(list(getattr(c, "children", None) or [])))
        for attr in ("comp1", "comp2"):
            sub = getattr(c, attr, None)
            if sub is not None:
                stack.append(sub)
    return found


def portal_pages(routes: list[str]) -> dict[str, Page]:
    """For each route pattern: its on_load handlers and the on_mount handlers of its tree."""
    from reflex_base.utils.format import format_event_handler

    from portal.portal import app
    from portal.state.page_loads import page_loads

    out: dict[str, Page] = {}
    for route in routes:
        key = route.strip("/")
        folded = page_loads(route)  # the loads that ride the navigation's event (portal/state/page_loads.py)
        loads = app.get_load_events(key) or []
        names = [name for name, _owner in folded] or [format_event_handler(h) for h in loads]
        state = folded[0][1].get_full_name() if folded else ""
        for h in loads:
            st = getattr(h, "state", None)
            if st is not None and not state:
                state = st.get_full_name()
                break
        page = app._unevaluated_pages.get(key)
        mount: list[str] = []
        if page is not None:
            with contextlib.suppress(Exception):
                comp = page.component() if callable(page.component) else page.component
                mount = _mount_events(comp)
        out[route] = Page(route=route, load=names, state=state, mount=mount)
    return out


def concrete(route: str, **ids: Any) -> tuple[str, dict[str, str]]:
    """A route pattern made concrete with the id for its first section, as the browser's router sends it:
    ("/orders/[id]", orders=5) -> ("/orders/5", {"id": "5"}); a route with no argument is left as it is."""
    section = route.strip("/").split("/", 1)[0]
    names = re.findall(r"\[(\w+)\]", route)
    if not names:
        return route, {}
    value = str(ids[section])
    return re.sub(r"\[\w+\]", value, route), {name: value for name in names}


# --- one browser tab ---------------------------------------------------------------------------

def hydrated(update: Any) -> bool:
    delta = update.get("delta") if isinstance(update, dict) else None
    if not isinstance(delta, dict):
        return False
    return any(isinstance(sub, dict) and sub.get(HYDRATED) is True for sub in delta.values())


class Tab:
    """A websocket client with a session cookie, speaking Reflex's event protocol."""

    def __init__(self, url: str, cookie: str | None = None, *, keep: bool = False) -> None:
        import socketio

        self.url, self.cookie, self.keep = url.rstrip("/"), cookie, keep
        self.token = str(uuid.uuid4())
        self.sio = socketio.AsyncClient(reconnection=False)
        self.sio.on("event", self._on_event, namespace=NAMESPACE)
        self.sio.on("ping", self._on_pong, namespace=NAMESPACE)
        self.count = 0  # updates received
        self.updates: list[Any] = []  # kept only with keep=True
        self._waiter: asyncio.Future[Any] | None = None
        self._match: Any = None
        self._pong: asyncio.Future[Any] | None = None

    async def _on_event(self, data: Any) -> None:
        self.count += 1
        if self.keep:
            self.updates.append(data)
        w = self._waiter
        if w is not None and not w.done() and (self._match is None or self._match(data)):
            w.set_result(data)

    async def _on_pong(self, data: Any) -> None:
        if self._pong is not None and not self._pong.done():
            self._pong.set_result(data)

    def _router(self, path: str, query: dict[str, str] | None) -> dict[str, Any]:
        rd: dict[str, Any] = {"pathname": path, "asPath": path}
        if query:
            rd["query"] = query
        return rd

    def _expect(self, match: Any) -> asyncio.Future[Any]:
        self._match = match
        self._waiter = asyncio.get_running_loop().create_future()
        return self._waiter

    async def connect(self, path: str = "/", query: dict[str, str] | None = None, *, hydrate: bool = True,
                      timeout: float = 30, hashes: list[str] | None = None) -> float:
        """Open the socket; with `hydrate`, the boot event rides in the CONNECT packet like the
        browser's, and this returns once the page is hydrated (its on_load chain done).

        `hashes` (see `default_state_hashes`): what the compiled frontend sends on a page's first
        connect, so the backend sends only the vars that differ from the compiled defaults;
        without them the whole state is sent, as to a browser that reconnects."""
        headers = {"Cookie": self.cookie} if self.cookie else {}
        auth = None
        fut = None
        if hydrate:
            auth = {"event": {"name": f"{STATE}.hydrate_and_load", "payload": {"hashes": hashes} if hashes else {},
                              "router_data": self._router(path, query)}}
            fut = self._expect(hydrated)
        t0 = time.perf_counter()
        await self.sio.connect(f"{self.url}?token={self.token}", socketio_path="/_event", transports=["websocket"],
                               headers=headers, auth=auth, namespaces=[NAMESPACE], wait_timeout=timeout)
        if fut is not None:
            await asyncio.wait_for(fut, timeout)
        return time.perf_counter() - t0

    async def emit(self, name: str, path: str, query: dict[str, str] | None = None,
                   payload: dict[str, Any] | None = None) -> None:
        await self.sio.emit("event", {"name": name, "payload": payload or {},
                                      "router_data": self._router(path, query)}, namespace=NAMESPACE)

    async def navigate(self, path: str, query: dict[str, str] | None = None, mount: list[str] | None = None,
                       timeout: float = 30) -> float:
        """A client-side navigation as the browser makes it: `on_load_internal`, then the new page's
        on_mount events; done when the page is hydrated again."""
        fut = self._expect(hydrated)
        t0 = time.perf_counter()
        await self.emit(on_load_internal_name(), path, query)
        for name in mount or []:
            await self.emit(name, path, query)
        await asyncio.wait_for(fut, timeout)
        return time.perf_counter() - t0

    async def call(self, name: str, path: str, query: dict[str, str] | None = None,
                   payload: dict[str, Any] | None = None, *, until: Any = None, timeout: float = 30) -> Any:
        """Send one event and wait for the first update that satisfies `until` (any update if None)."""
        fut = self._expect(until)
        await self.emit(name, path, query, payload)
        return await asyncio.wait_for(fut, timeout)

    async def ping(self, timeout: float = 30) -> float:
        """socket.io `ping` -> `pong`: Reflex answers it on the socket's receive loop without touching
        any state, so its delay is the event loop's lag (plus the loopback round trip)."""
        self._pong = asyncio.get_running_loop().create_future()
        t0 = time.perf_counter()
        await self.sio.emit("ping", namespace=NAMESPACE)
        await asyncio.wait_for(self._pong, timeout)
        return time.perf_counter() - t0

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.sio.disconnect()


_HASHES_CODE = """
import asyncio, json
from reflex.istate.delta import _resolve_delta
from reflex.state import State, state_snapshot_hashes
import {module}
snapshot = asyncio.run(_resolve_delta(State(_reflex_internal_init=True).dict(initial=True)))
print(json.dumps(state_snapshot_hashes(snapshot)))
"""


def default_state_hashes(app_dir: Path, module: str, env: dict[str, str]) -> list[str]:
    """The hashes of an app's default state snapshot, as its compiled frontend holds them
    (`initialStateHashes`) and sends them in the hydrate of a page's first connect. Worked out
    the way the backend does when it compares them (Reflex's `_diff_against_initial_state`), in
    a child process that imports `module` from `app_dir` with the server's environment."""
    import json

    out = subprocess.run([sys.executable, "-c", _HASHES_CODE.format(module=module)], cwd=app_dir, env=env,
                         capture_output=True, text=True, check=True, timeout=300).stdout.strip().splitlines()
    return [str(h) for h in json.loads(out[-1])]


def on_load_internal_name() -> str:
    return f"{STATE}.reflex___state____on_load_internal_state.on_load_internal"


# --- figures -----------------------------------------------------------------------------------

def pct(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * (len(sorted_values) - 1) + 0.5))]


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "-"


# --- data --------------------------------------------------------------------------------------

@dataclass
class CustomerFx:
    user_id: int
    customer_id: int
    email: str
    cookie: str  # "portal_session=<raw token>" of a fresh signed-in session
    orders: list[tuple[int, str]]  # (order id, number)
    shipments: list[tuple[int, str, str]]  # (shipment id, tracking number, order number)


def make_customers(n: int, *, orders_each: int = 3, password: bool = False, tag: str = "L",
                   api_key: bool = True) -> tuple[list[CustomerFx], str]:
    """`n` customers, each with orders (one line each), a shipment per order with two scans, an
    open and a paid invoice, and a signed-in session; plus an integration API key allowed to
    write shipments. With `password`, every customer can also sign in with PASSWORD."""
    from datetime import timedelta

    from sqlmodel import Session

    from portal.db import get_engine, utcnow
    from portal.domain import auth
    from portal.domain.audit import RequestInfo
    from portal.domain.principal import Principal
    from portal.manage import migrate
    from portal.models import Customer, Invoice, Order, OrderLine, Role, Shipment, TrackingEvent, User
    from portal.settings import get_settings

    migrate()
    hashed = auth.hash_password(PASSWORD) if password else None
    now = utcnow()
    raw_key = ""
    out: list[CustomerFx] = []
    cookie_name = get_settings().session_cookie_name
    with Session(get_engine(), expire_on_commit=False) as db:
        if api_key:
            from portal.domain.api import keys

            admin = User(email=f"bench-admin-{tag.lower()}@example.com", role=Role.ADMIN)
            db.add(admin)
            db.flush()
            _, raw_key = keys.create_key(db, principal=Principal(user_id=admin.id or 0, role="admin", email="",
                                                                  name=""),
                                         name="bench", scopes=["shipments:write", "orders:write"])
        for i in range(n):
            email = f"bench-{tag.lower()}{i}@example.com"
            c = Customer(name=f"Bench {tag}{i}", email=email, number=f"C-{tag}{i:05d}", external_id=f"crm-{tag}{i}")
            db.add(c)
            db.flush()
            u = User(email=email, full_name=c.name, role=Role.CUSTOMER, customer_id=c.id, password_hash=hashed,
                     email_verified_at=now)
            db.add(u)
            orders: list[tuple[int, str]] = []
            shipments: list[tuple[int, str, str]] = []
            for j in range(orders_each):
                number = f"FH-{tag}{i:05d}-{j}"
                o = Order(number=number, customer_id=c.id or 0, status="shipped", subtotal_cents=12900,
                          total_cents=12900, tax_cents=2150, placed_at=now - timedelta(days=j + 1))
                db.add(o)
                db.flush()
                db.add(OrderLine(order_id=o.id or 0, sku=f"SKU-{j}", name="Trail jacket", quantity=1,
                                 unit_price_cents=12900, total_cents=12900))
                tracking = f"B{tag}{i:05d}{j}"
                sh = Shipment(order_id=o.id or 0, customer_id=c.id or 0, carrier="dhl", carrier_name="DHL",
                              tracking_number=tracking, tag="InTransit", subtag="InTransit_003",
                              subtag_message="Arrival scan")
                db.add(sh)
                db.flush()
                for k in range(2):
                    db.add(TrackingEvent(shipment_id=sh.id or 0, checkpoint_key=f"b-{tag}{i}-{j}-{k}",
                                         occurred_at=now - timedelta(hours=10 - k),
                                         tag="InfoReceived" if k == 0 else "InTransit",
                                         subtag="InfoReceived_001" if k == 0 else "InTransit_003",
                                         message=f"Scan {k}", location="Venlo, NL"))
                orders.append((o.id or 0, number))
                shipments.append((sh.id or 0, tracking, number))
            for k, status in enumerate(("open", "paid")):
                db.add(Invoice(number=f"INV-{tag}{i:05d}-{k}", customer_id=c.id or 0, subtotal_cents=12900,
                               tax_cents=2150, total_cents=12900,
                               amount_paid_cents=12900 if status == "paid" else 0,
                               issued_at=now - timedelta(days=10 + k), due_at=now + timedelta(days=4 - k),
                               status=status, paid_at=now if status == "paid" else None))
            db.flush()
            new = auth.create_session(db, user=u, request=RequestInfo(), auth_method="password", mfa_verified=False)
            out.append(CustomerFx(user_id=u.id or 0, customer_id=c.id or 0, email=email,
                                  cookie=f"{cookie_name}={new.raw_token}", orders=orders, shipments=shipments))
            if i % 200 == 199:
                db.commit()
        db.commit()
    return out, raw_key


def redirects(updates: list[Any]) -> list[str]:
    out = []
    for u in updates:
        for ev in (u.get("events") or []) if isinstance(u, dict) else []:
            if isinstance(ev, dict) and ev.get("name") == "_redirect":
                out.append(str((ev.get("payload") or {}).get("path", "")))
    return out


def short(name: str) -> str:
    """portal___state___orders____order_list_state.load -> order_list_state.load"""
    parts = name.split(".")
    return ".".join(p.split("____")[-1] for p in parts[-2:])


async def check_pages(url: str, cookie: str, visits: list[tuple[str, dict[str, str], list[str], str]]) -> None:
    """Before timing anything: a fresh signed-in tab opens the first page and navigates to the
    others; every page's own state must have sent data (each is loaded for the first time in
    this tab) and nothing may have redirected (a refused load also ends 'hydrated', and would
    time nothing)."""
    tab = Tab(url, cookie, keep=True)
    try:
        path, query, mount, _ = visits[0]
        await tab.connect(path, query, timeout=60)
        for name in mount:
            await tab.emit(name, path, query)
        for path, query, mount, _ in visits[1:]:
            await tab.navigate(path, query, mount, timeout=60)
        await asyncio.sleep(0.5)
        if redirects(tab.updates):
            raise SystemExit(f"the portal redirected to {redirects(tab.updates)} instead of loading the pages")
        sent = {name for u in tab.updates if isinstance(u, dict) for name in (u.get("delta") or {})}
        missing = [p for p, _, _, state in visits if state and state not in sent]
        if missing:
            raise SystemExit(f"no data of the page's own state arrived for {missing}; is the scenario still right?")
    finally:
        await tab.close()
