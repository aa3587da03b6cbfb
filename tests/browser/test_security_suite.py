"""Every event handler the app registers, called by a stranger and by the wrong customer with
ids that belong to someone else: nothing of the victim's is read or changed.

The suite enumerates handlers at run time, so a handler added tomorrow is covered without
anyone remembering to add it. Arguments are built from each handler's signature: integers
become the victim's ids (matched to the parameter's name where it names a table), strings
the victim's numbers and email, forms a dict of all of those. Handlers that read ids from
the page address get addresses of every dynamic route filled with the victim's ids.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import inspect
import json
import re
from typing import Any

import pytest
from reflex_base.registry import RegistrationContext
from sqlalchemy import Engine, select, text
from sqlmodel import Session, SQLModel
from sqlmodel import select as sm_select

import portal.portal as portal_app
from portal.domain import auth
from portal.domain.audit import RequestInfo
from portal.models import Customer, User
from portal.settings import get_settings
from portal.state.guard import declared_access
from tests.support.aio import run_async
from tests.support.reflex_client import ReflexClient

pytestmark = pytest.mark.browser

# Tables an attacker may legitimately cause rows in for the victim (a reset mail when they
# type the victim's email into "forgot password", a throttle entry, the audit trail itself).
MAY_CHANGE = {"auditevent", "loginthrottle", "usertoken", "mailmessage", "searchquery", "jobrun"}
# Handlers that end the caller's own session would turn the rest of the run into a stranger's.
SKIP = {"session_state.logout"}
PARALLEL = 8


@dataclasses.dataclass
class Victim:
    user_id: int
    customer_id: int
    ids: dict[str, list[int]]  # table -> primary keys owned by the victim
    markers: list[str]  # unique strings only the victim's data contains


def _owned_rows(db: Session, user_id: int, customer_id: int) -> dict[str, set[Any]]:
    """Primary keys of every row that belongs to the victim, following foreign keys."""
    owned: dict[str, set[Any]] = {}
    tables = SQLModel.metadata.sorted_tables
    for t in tables:
        conds = []
        if "customer_id" in t.c:
            conds.append(t.c.customer_id == customer_id)
        for name in ("user_id", "requester_user_id", "uploaded_by_user_id"):
            if name in t.c:
                conds.append(t.c[name] == user_id)
        if t.name == "user":
            conds.append(t.c.id == user_id)
        if t.name == "customer":
            conds.append(t.c.id == customer_id)
        if conds:
            from sqlalchemy import or_

            pk = list(t.primary_key.columns)
            owned[t.name] = {tuple(r) for r in db.execute(select(*pk).where(or_(*conds))).all()}
    for _ in range(3):  # children of owned rows (order lines, checkpoints, messages, ...)
        for t in tables:
            for fk in t.foreign_keys:
                parent = fk.column.table.name
                if parent in owned and owned[parent] and len(list(fk.column.table.primary_key.columns)) == 1:
                    parent_ids = [k[0] for k in owned[parent]]
                    pk = list(t.primary_key.columns)
                    rows = db.execute(select(*pk).where(fk.parent.in_(parent_ids))).all()
                    owned.setdefault(t.name, set()).update(tuple(r) for r in rows)
    return owned


def _digest(db: Session, owned: dict[str, set[Any]]) -> dict[str, str]:
    out = {}
    for t in SQLModel.metadata.sorted_tables:
        if t.name in MAY_CHANGE or not owned.get(t.name):
            continue
        pk = list(t.primary_key.columns)
        rows = [r for r in db.execute(select(t)).mappings().all() if tuple(r[c.name] for c in pk) in owned[t.name]]
        if t.name == "authsession":  # the victim's own browser keeps touching last_seen_at
            rows = [{k: v for k, v in r.items() if k != "last_seen_at"} for r in rows]
        out[t.name] = hashlib.sha256(json.dumps(sorted(map(dict, rows), key=str), default=str).encode()).hexdigest()
    return out


def _victim(db: Session, email: str) -> Victim:
    user = db.exec(sm_select(User).where(User.email == email)).one()
    assert user.id is not None and user.customer_id is not None
    auth.create_session(db, user=user, request=RequestInfo(), auth_method="password", mfa_verified=False)
    db.commit()
    owned = _owned_rows(db, user.id, user.customer_id)
    ids = {t: sorted(k[0] for k in keys if isinstance(k[0], int)) for t, keys in owned.items()}
    markers = [email]
    customer = db.get(Customer, user.customer_id)
    assert customer is not None
    markers.append(customer.number)
    for table, column in (("order", "number"), ("invoice", "number"), ("ticket", "number"),
                          ("shipment", "tracking_number"), ("return", "number"), ("address", "line1")):
        t = SQLModel.metadata.tables[table]
        if ids.get(table):
            markers += [str(v) for (v,) in db.execute(select(t.c[column]).where(t.c.id.in_(ids[table]))).all()]
    return Victim(user_id=user.id, customer_id=user.customer_id, ids=ids, markers=[m for m in markers if len(m) >= 6])


_TABLE_HINTS = {
    "order": "order", "line": "orderline", "shipment": "shipment", "return": "return", "ticket": "ticket",
    "message": "ticketmessage", "attachment": "attachment", "conversation": "conversation", "chat": "conversation",
    "invoice": "invoice", "payment_method": "paymentmethod", "method": "paymentmethod", "payment": "payment",
    "document": "document", "address": "address", "notification": "notification", "session": "authsession",
    "user": "user", "customer": "customer", "article": "kbarticle", "offer": "offer", "widget": "userpreference",
}


def _ids_for(name: str, v: Victim) -> list[int]:
    for hint, table in _TABLE_HINTS.items():
        if hint in name.lower() and v.ids.get(table):
            return v.ids[table][:3]
    every = sorted({i for ids in v.ids.values() for i in ids[:2]})
    return every[:6] or [1]


def _values_for(param: inspect.Parameter, v: Victim) -> list[Any]:
    ann = str(param.annotation)
    if "dict" in ann:
        # Inputs never contain the victim's markers, so an echo of the attacker's own input is
        # not mistaken for a leak; ids are what carry the attack.
        form: dict[str, Any] = {"email": "someone@example.com", "id": _ids_for("order", v)[0], "text": "x",
                                "body": "forged", "message": "forged", "password": "a long enough passphrase"}
        for hint in _TABLE_HINTS:
            form[f"{hint}_id"] = _ids_for(hint, v)[0]
        return [form]
    if "list" in ann:
        return [_ids_for(param.name, v)]
    if "bool" in ann:
        return [True]
    if "str" in ann and "int" not in ann:
        return ["forged", str(_ids_for(param.name, v)[0])]
    return _ids_for(param.name, v)


def _dynamic_paths(v: Victim) -> list[str]:
    paths = []
    for route in portal_app.app._unevaluated_pages:
        segs = re.findall(r"\[([^\]]+)\]", route)
        if not segs:
            continue
        path = "/" + route.strip("/")
        for seg in segs:
            path = path.replace(f"[{seg}]", str(_ids_for(seg, v)[0]))
        paths.append(path)
    order = _ids_for("order", v)[0]
    paths.append(f"/support/new?context=order&id={order}")
    return paths or ["/"]


def _calls(v: Victim) -> list[tuple[str, dict[str, Any], str]]:
    calls: list[tuple[str, dict[str, Any], str]] = []
    for name, reg in sorted(RegistrationContext.get().event_handlers.items()):
        owner = reg.states[0]
        declared, level = declared_access(owner)
        short = name.rsplit("____", 1)[-1]
        if (declared and level is None) or short in SKIP or short.endswith(".setvar"):
            continue  # Reflex's internals (hydrate, on-load dispatch) are covered by the handlers they run
        params = [p for p in inspect.signature(reg.handler.fn).parameters.values() if p.name != "self"]
        if not params:
            for path in _dynamic_paths(v):
                calls.append((name, {}, path))
            continue
        combos: list[dict[str, Any]] = [{}]
        for p in params:
            vals = _values_for(p, v)
            combos = [{**c, p.name: val} for c in combos for val in vals][:6]
        calls += [(name, c, "/dashboard") for c in combos]
    return calls


async def _run_all(backend: str, cookie: str | None, calls: list[tuple[str, dict[str, Any], str]]) -> list[str]:
    queue: asyncio.Queue[tuple[str, dict[str, Any], str]] = asyncio.Queue()
    for c in calls:
        queue.put_nowait(c)
    texts: list[str] = []

    async def worker() -> None:
        async with ReflexClient(backend, cookie=cookie) as client:
            while not queue.empty():
                name, payload, path = queue.get_nowait()
                updates = await client.send(name, payload, path=path)
                texts.append(json.dumps(updates, default=str))

    await asyncio.gather(*(worker() for _ in range(PARALLEL)))
    return texts


def _attacker_cookie(db: Session, email: str) -> str:
    user = db.exec(sm_select(User).where(User.email == email)).one()
    new = auth.create_session(db, user=user, request=RequestInfo(), auth_method="password", mfa_verified=True)
    db.commit()
    return f"{get_settings().session_cookie_name}={new.raw_token}"


@pytest.mark.parametrize("attacker", [None, "ben@example.com"], ids=["stranger", "wrong-customer"])
def test_no_handler_reads_or_changes_someone_elses_data(attacker: str | None, harness: Any, backend_url: str,
                                                        demo: Any, db: Session, engine: Engine) -> None:
    victim = _victim(db, "alice@example.com")
    owned_before = _owned_rows(db, victim.user_id, victim.customer_id)
    before = _digest(db, owned_before)
    calls = _calls(victim)
    assert len(calls) > 20, "the suite found too few handlers to be meaningful"
    cookie = _attacker_cookie(db, attacker) if attacker else None

    texts = run_async(_run_all(backend_url, cookie, calls), timeout=600)

    leaked = [(m, t[:300]) for t in texts for m in victim.markers if m in t]
    assert not leaked, f"victim data reached the attacker: {leaked[:3]}"
    db.expire_all()
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    owned_after = _owned_rows(db, victim.user_id, victim.customer_id)
    new_rows = {t: owned_after[t] - owned_before.get(t, set()) for t in owned_after
                if t not in MAY_CHANGE and owned_after[t] - owned_before.get(t, set())}
    assert not new_rows, f"rows were added to the victim's data: {new_rows}"
    assert _digest(db, owned_before) == before, "the victim's data changed"

    # Positive control: the victim's own page loads, sent by the same client, do carry her data,
    # so a server that answered nothing (or markers that never appear) would fail here.
    loads = [c for c in calls if c[0].rsplit(".", 1)[-1] == "load"]
    assert len(loads) > 5
    own = run_async(_run_all(backend_url, _attacker_cookie(db, "alice@example.com"), loads), timeout=300)
    seen = {m for t in own for m in victim.markers if m in t}
    assert seen, "the victim's own page loads showed none of her data: the check above proves nothing"
