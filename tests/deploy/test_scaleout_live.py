"""The scale-out topology for real: two `reflex run --env prod` instances on their own ports
behind nginx, sharing PostgreSQL and Redis. Runs only where both are configured (CI's second
run); it uses Redis database 13 so it never mixes with other users of the same server.

Proves: live updates reach a customer whichever instance holds their socket; an instance
killed in the middle of traffic loses no committed write (clients retry with the same
Idempotency-Key through nginx); the customer's session carries on through nginx on the
surviving instance without signing in again; a tab's kept principal is dropped at its very
next event on either instance when its session is revoked on the other (logout, ended sessions,
password and role changes, closure, the staff MFA policy, the absolute timeout).
(Scheduled jobs are off in tests; tests/jobs proves one run per tick across schedulers.)
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from portal.db import utcnow
from portal.deploy import scaleout
from portal.deploy.scaleout import Supervisor, Topology
from portal.domain import auth
from portal.models import AuthSession, Customer, Order, Role
from portal.settings import get_settings
from portal.state.admin import AdminAuditState, AdminUsersState
from portal.state.dashboard import DashboardState
from portal.state.privacy import PrivacyState
from portal.state.security import SecurityState
from portal.state.session import SessionState
from portal.state.staff import AgentConsoleState
from tests.factories import PASSWORD, make_customer, make_order, make_staff
from tests.factories_api import make_api_key, order_body
from tests.support import ports
from tests.support.aio import run_async
from tests.support.reflex_client import ReflexClient, deltas_text, handler_name, redirects

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
pytestmark = pytest.mark.skipif(
    not (os.environ.get("DATABASE_URL", "").startswith("postgresql") and os.environ.get("REFLEX_REDIS_URL")
         and NGINX),
    reason="needs DATABASE_URL (PostgreSQL), REFLEX_REDIS_URL and nginx",
)
REDIS_DB = 13
_SKIP = shutil.ignore_patterns(".git", ".venv", ".data", "__pycache__", ".pytest_cache", ".mypy_cache",
                               ".ruff_cache", ".states*")


def _ignore(folder: str, names: list[str]) -> set[str]:
    """The copy takes this test process's own frontend build (its node modules save an install) and
    no other: another pytest-xdist worker may be writing its own `.web-gwN` while this one copies."""
    own = os.environ.get("REFLEX_WEB_WORKDIR", ".web")
    return set(_SKIP(folder, names)) | {n for n in names if n.startswith(".web") and n != own}


@pytest.fixture(scope="module")
def running(engine: Engine, root_dir: Path,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Topology, Supervisor]]:
    # A copy of the app, so the instances' frontend build (pointing at nginx) never replaces the
    # one the browser tests serve from the project's .web.
    work = tmp_path_factory.mktemp("scale-out")
    app_dir = work / "app"
    shutil.copytree(root_dir, app_dir, ignore=_ignore, symlinks=True)
    t = Topology(instances=2, base_port=ports.free_ports(2, consecutive=True)[0], nginx_port=ports.free_port(),
                 run_dir=work / "run")
    env = {**os.environ, "REFLEX_REDIS_URL": scaleout.redis_url_with_db(os.environ["REFLEX_REDIS_URL"], REDIS_DB),
           "PORTAL_DATA_DIR": str(work / "data")}
    sup = Supervisor(t, env=env, nginx=NGINX, cwd=app_dir)
    try:
        sup.start(timeout=900)
    except (RuntimeError, TimeoutError, OSError):
        sup.stop()
        logs = "\n".join(p.read_text(errors="replace")[-3000:] for p in sorted(t.run_dir.glob("*.log")))
        raise RuntimeError(f"topology did not start:\n{logs}") from None
    try:
        yield t, sup
    finally:
        sup.stop()


def _cookie(db: Session, base_url: str, user: Any) -> str:
    ticket = auth.issue_login_ticket(db, user=user)
    db.commit()
    r = httpx.get(f"{base_url}/api/auth/session", params={"ticket": ticket}, follow_redirects=False)
    assert r.status_code == 303
    name = get_settings().session_cookie_name
    return f"{name}={r.cookies[name]}"


def _customer(db: Session, external_id: str) -> tuple[Any, Customer]:
    user, customer = make_customer(db)
    customer.external_id = external_id
    db.add(customer)
    db.commit()
    return user, customer


def test_live_update_reaches_the_socket_on_the_other_instance(running: tuple[Topology, Supervisor],
                                                              db: Session) -> None:
    topology, _ = running
    user, _ = _customer(db, "crm-live")
    _, key = make_api_key(db, "orders:write")
    cookie = _cookie(db, topology.public_url, user)

    async def scenario() -> str:
        # The customer's socket is on instance 1; the shop writes through instance 0.
        async with ReflexClient(topology.instance_url(1), cookie=cookie) as c:
            await c.send(handler_name(DashboardState.load))
            async with httpx.AsyncClient() as http:
                r = await http.put(f"{topology.instance_url(0)}/api/v1/orders/FH-LIVE-1", json=order_body("crm-live"),
                                   headers={"Authorization": f"Bearer {key}"})
                assert r.status_code == 201, r.text
            deadline = time.monotonic() + 15
            while "FH-LIVE-1" not in deltas_text(c.updates) and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            return deltas_text(c.updates)

    assert "FH-LIVE-1" in run_async(scenario())


def _signed_in(updates: list[dict[str, Any]]) -> bool:
    return not any(r.startswith("/login") for r in redirects(updates))


def test_revocation_stops_every_tab_of_the_session_on_every_instance(running: tuple[Topology, Supervisor],
                                                                     db: Session) -> None:
    """Each way a session ends, done through instance 0, stops the same session's tab on
    instance 1 at its very next event; before it, that tab works (the positive control)."""
    topology, _ = running
    home, console = handler_name(DashboardState.load), handler_name(AgentConsoleState.load)
    admin = make_staff(db, role=Role.ADMIN, email="scale-admin@example.com")

    def customer() -> tuple[Any, str, str]:
        user, c = make_customer(db)
        number = make_order(db, c).number
        return user, _cookie(db, topology.public_url, user), number

    async def case(victim_cookie: str, marker: str, trigger: Any, *, probe: str = "") -> list[dict[str, Any]]:
        probe = probe or home
        path = "/agent" if probe == console else "/dashboard"
        async with ReflexClient(topology.instance_url(1), cookie=victim_cookie) as far:
            before = await far.send(probe, path=path)
            assert _signed_in(before) and marker in deltas_text(before), before
            await trigger()
            return await far.send(probe, path=path)

    async def over_instance_0(cookie: str, name: str, payload: dict[str, Any] | None = None, path: str = "/",
                              *then: tuple[str, dict[str, Any] | None]) -> None:
        async with ReflexClient(topology.instance_url(0), cookie=cookie) as near:
            for step, data in ((name, payload), *then):
                await near.send(step, data, path=path)

    # Logout in another tab of the same session.
    _, cookie, number = customer()
    after = run_async(case(cookie, number, lambda: over_instance_0(cookie, handler_name(SessionState.logout))))
    assert not _signed_in(after), after

    # "End other sessions" from a second device, and a password change that ends them.
    for name, payload in ((handler_name(SecurityState.revoke_others), None),
                          (handler_name(SecurityState.change_password),
                           {"form_data": {"current": PASSWORD, "new": "another long passphrase 42",
                                          "confirm": "another long passphrase 42", "end_others": "on"}})):
        user, cookie, number = customer()
        other_device = _cookie(db, topology.public_url, user)
        after = run_async(case(cookie, number, lambda n=name, p=payload, o=other_device:
                               over_instance_0(o, n, p, path="/account/security")))
        assert not _signed_in(after), (name, after)

    # The account is closed in another tab.
    _, cookie, number = customer()
    after = run_async(case(cookie, number, lambda: over_instance_0(
        cookie, handler_name(PrivacyState.close_account), {"form": {"password": PASSWORD, "confirm": "CLOSE"}},
        path="/account/privacy")))
    assert not _signed_in(after), after

    # An admin changes an agent's role: the agent's open console stops.
    admin_cookie = _cookie(db, topology.public_url, admin)
    agent = make_staff(db, email="scale-agent@example.com")
    agent_cookie = _cookie(db, topology.public_url, agent)
    after = run_async(case(agent_cookie, "agent_console_state", lambda: over_instance_0(
        admin_cookie, handler_name(AdminUsersState.search), {"form_data": {"query": agent.email}}, "/admin/users",
        (handler_name(AdminUsersState.change_role), {"user_id": agent.id, "role": "admin"}),
        (handler_name(AdminUsersState.confirm_role), None)), probe=console))
    assert not _signed_in(after), after

    # The admin turns on "staff must use two-factor": the agent's next event goes to its setup.
    agent2 = make_staff(db, email="scale-agent2@example.com")
    agent2_cookie = _cookie(db, topology.public_url, agent2)
    after = run_async(case(agent2_cookie, "agent_console_state", lambda: over_instance_0(
        admin_cookie, handler_name(AdminAuditState.set_staff_mfa), {"enabled": True}, path="/admin/audit"),
        probe=console))
    assert "/account/security?setup=mfa" in redirects(after), after
    run_async(over_instance_0(admin_cookie, handler_name(AdminAuditState.set_staff_mfa), {"enabled": False},
                              path="/admin/audit"))

    # The absolute timeout: a tab that kept the principal still stops when the session ends.
    user, cookie, number = customer()
    row = db.exec(select(AuthSession).where(AuthSession.user_id == user.id)).one()
    row.expires_at = utcnow() + timedelta(seconds=6)
    db.add(row)
    db.commit()

    async def wait_for_expiry() -> None:
        while utcnow() < row.expires_at:
            await asyncio.sleep(0.1)

    after = run_async(case(cookie, number, wait_for_expiry))
    assert not _signed_in(after), after


# Last: it kills instance 0 for good.
def test_killed_instance_loses_no_committed_write_and_the_session_carries_on(running: tuple[Topology, Supervisor],
                                                                            db: Session) -> None:
    topology, sup = running
    user, _ = _customer(db, "crm-kill")
    _, key = make_api_key(db, "orders:write")
    cookie = _cookie(db, topology.public_url, user)
    acknowledged: list[str] = []
    headers = {"Authorization": f"Bearer {key}"}

    with httpx.Client(base_url=topology.public_url, timeout=10) as http:
        for i in range(30):
            if i == 10:
                sup.kill_instance(0)  # mid-traffic, no graceful shutdown
            number = f"FH-KILL-{i}"
            for _attempt in range(10):
                try:
                    r = http.put(f"/api/v1/orders/{number}", json=order_body("crm-kill"),
                                 headers={**headers, "Idempotency-Key": f"kill-{i}"})
                except httpx.HTTPError:
                    time.sleep(0.5)
                    continue
                if r.status_code in (200, 201):
                    acknowledged.append(number)
                    break
                assert r.status_code >= 500, r.text  # only lost connections are retried
                time.sleep(0.5)
    # Every acknowledged write is in the database, exactly once
    assert len(acknowledged) == 30
    stored = set(db.exec(select(Order.number).where(Order.number.startswith("FH-KILL-"))).all())  # type: ignore[attr-defined]
    assert stored == set(acknowledged)

    # The customer's browser reconnects through nginx (to the survivor) with the same cookie
    async def reconnect() -> list[dict[str, Any]]:
        async with ReflexClient(topology.public_url, cookie=cookie) as c:
            return await c.send(handler_name(DashboardState.load))

    updates = run_async(reconnect())
    assert "FH-KILL-29" in deltas_text(updates)
    assert not any(r.startswith("/login") for r in redirects(updates))
