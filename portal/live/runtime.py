"""What keeps Reflex's event loop free and the live path cheap.

- ``offload``: blocking work (database, argon2, PDFs, zips, CSVs, embeddings) runs in the
  portal's worker pool, never on the event loop. Portal state handlers written as plain
  ``def`` run there automatically (``portal.state.base.PortalState``).
- Epochs: a counter per user (and one for everybody) that moves on every committed change
  that may change who a tab's session is (logout, ended sessions, password, MFA, role,
  account closure, the staff MFA policy). A tab keeps its principal server-side and only
  reads these counters on each event; when one moved, it resolves the session again.
- View versions: a counter per (customer or user, topic), moved by the domain events of every
  committed change, so what a page shows can be kept and served again until it changes.

One process keeps the counters in memory; with REFLEX_REDIS_URL they live in Redis, so a
change committed on one worker is seen by every other worker's next event.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import sys
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import event as sa_event
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session as OrmSession

from portal.domain import events as domain_events
from portal.live.loop import shared_counters_read
from portal.live.resp import PipelinedRedis
from portal.settings import early, get_settings

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")

# How long a thread may hold the GIL before another is let in (CPython's default is 5 ms). The
# event loop shares the GIL with the worker pool: while threads run pure-Python work (PDF
# layout, JSON), the loop waits up to this long for each turn, so a shorter slice keeps
# sockets responsive under load for a little throughput.
sys.setswitchinterval(float(early("PORTAL_GIL_SWITCH_MS", "1")) / 1000)

_POOL = ThreadPoolExecutor(max_workers=int(early("PORTAL_WORKER_THREADS", "12")),
                           thread_name_prefix="portal-work")


async def offload(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Run blocking `fn` in the worker pool with the caller's context (principal, zone)."""
    loop = asyncio.get_running_loop()
    ctx = contextvars.copy_context()
    return await loop.run_in_executor(_POOL, functools.partial(ctx.run, fn, *args, **kwargs))


# --- counters ------------------------------------------------------------------------------

EVERYONE = "g"


def user_key(user_id: int) -> str:
    return f"u{user_id}"


def view_key(topic: str, *, customer_id: int | None = None, user_id: int | None = None) -> str:
    # Interned: the kept views of one customer name the same keys many times over (one tuple of
    # keys per set of topics a page reads), and each copy would be a string of its own.
    return sys.intern(f"v:c{customer_id}:{topic}" if customer_id is not None else f"v:u{user_id}:{topic}")


class MemoryCounters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, int] = {}

    def bump(self, keys: Iterable[str]) -> None:
        with self._lock:
            for k in keys:
                self._values[k] = self._values.get(k, 0) + 1

    async def read(self, keys: tuple[str, ...]) -> tuple[int, ...]:
        return self.read_now(keys)

    def read_now(self, keys: tuple[str, ...]) -> tuple[int, ...]:
        return tuple(self._values.get(k, 0) for k in keys)


class RedisCounters:
    """Counters in Redis: bumped from whichever thread committed (a sync client), read on the
    event loop (an async client). Keys expire after the longest session lifetime."""

    PREFIX = "portal:epoch:"

    def __init__(self, url: str) -> None:
        import redis

        self.url = url
        self._sync = redis.Redis.from_url(url)
        self._async: dict[int, Any] = {}
        self._last: tuple[asyncio.AbstractEventLoop, Any] | None = None  # the last loop's, looked up first
        self._ttl = max(3600, get_settings().session_absolute_hours * 3600)

    def _client(self) -> Any:
        """This event loop's client: one pipelined connection (`portal.live.resp`), or redis-py's
        for a URL that one does not speak (TLS)."""
        loop = asyncio.get_running_loop()
        last = self._last
        if last is not None and last[0] is loop:
            return last[1]
        client = self._async.get(id(loop))
        if client is None:
            from redis.asyncio import Redis as AsyncRedis

            client = self._async[id(loop)] = PipelinedRedis.for_url(self.url) or AsyncRedis.from_url(self.url)
        self._last = (loop, client)
        return client

    def bump(self, keys: Iterable[str]) -> None:
        pipe = self._sync.pipeline(transaction=False)
        for k in keys:
            pipe.incr(self.PREFIX + k)
            pipe.expire(self.PREFIX + k, self._ttl)
        pipe.execute()

    async def read(self, keys: tuple[str, ...]) -> tuple[int, ...]:
        if not keys:
            return ()
        client = self._client()
        names = [self.PREFIX + k for k in keys]
        if isinstance(client, PipelinedRedis):
            return _ints(await client.execute("MGET", *names))
        return _ints(await client.mget(names))

    def read_now(self, keys: tuple[str, ...]) -> tuple[int, ...]:
        if not keys:
            return ()
        known = shared_counters_read(keys)  # on the loop: the values read before the try began
        if known is not None:
            return known
        return _ints(self._sync.mget([self.PREFIX + k for k in keys]))


def _ints(values: Any) -> tuple[int, ...]:
    return tuple(int(v) if v is not None else 0 for v in values)


_counters: MemoryCounters | RedisCounters | None = None
_counters_lock = threading.Lock()


def counters() -> MemoryCounters | RedisCounters:
    global _counters
    url = get_settings().reflex_redis_url
    c = _counters
    if c is None or (isinstance(c, RedisCounters) and c.url != url) or (isinstance(c, MemoryCounters) and url):
        with _counters_lock:
            c = _counters = RedisCounters(url) if url else MemoryCounters()
    return c


def _bump(keys: set[str]) -> None:
    if not keys:
        return
    try:
        counters().bump(keys)
    except Exception:
        log.exception("could not move the live counters %s", sorted(keys)[:5])


# --- what moves the epochs: identity rows changed in a committed transaction ----------------

_EPOCH_KEY = "portal_epoch_keys"


def _view_topics() -> dict[type, str]:
    """The rows the kept views are read from, by topic (rows that only record things, such as
    audit, analytics, sessions or throttles, move nothing)."""
    from portal.domain.events import Topic
    from portal.models import (
        Address,
        Conversation,
        CreditEntry,
        Customer,
        CustomerOffer,
        Document,
        Invoice,
        Notification,
        Order,
        Payment,
        PaymentMethod,
        Return,
        Shipment,
        Ticket,
        UserPreference,
    )

    return {Order: Topic.ORDERS, Return: Topic.ORDERS, Shipment: Topic.SHIPMENTS, Invoice: Topic.BILLING,
            Payment: Topic.BILLING, PaymentMethod: Topic.BILLING, CreditEntry: Topic.BILLING,
            Ticket: Topic.TICKETS, Conversation: Topic.CHAT, Document: Topic.DOCUMENTS,
            Notification: Topic.NOTIFICATIONS, CustomerOffer: Topic.OFFERS, Address: Topic.PROFILE,
            Customer: Topic.PROFILE, UserPreference: Topic.PROFILE}


_TOPICS: dict[type, str] = {}


@sa_event.listens_for(OrmSession, "after_flush")
def _collect_identity_changes(session: OrmSession, _ctx: object) -> None:
    from portal.models import AuthSession, User
    from portal.models.settings_store import PortalSetting

    if not _TOPICS:
        _TOPICS.update(_view_topics())
    keys: set[str] = session.info.setdefault(_EPOCH_KEY, set())
    for obj in [*session.new, *session.dirty, *session.deleted]:
        # A customer's or user's row that a kept view reads, written through the ORM with or
        # without a domain event (a seed, a script, a job that forgot one): read again.
        topic = _TOPICS.get(type(obj))
        if topic is not None:
            owner = obj.id if type(obj).__name__ == "Customer" else getattr(obj, "customer_id", None)
            if isinstance(owner, int):
                keys.add(view_key(topic, customer_id=owner))
            user = getattr(obj, "user_id", None)
            if isinstance(user, int):
                keys.add(view_key(topic, user_id=user))
        if isinstance(obj, User) and obj.id is not None:
            if obj in session.dirty and not session.is_modified(obj):
                continue
            keys.add(user_key(obj.id))
        elif isinstance(obj, AuthSession) and obj in session.dirty:
            attrs = sa_inspect(obj).attrs
            if any(attrs[name].history.has_changes() for name in ("revoked_at", "expires_at", "user_id")):
                keys.add(user_key(obj.user_id))
        elif isinstance(obj, PortalSetting):
            keys.add(EVERYONE)


# First among the commit listeners (insert=True): the epochs move before the domain events of the
# same commit are announced (portal.domain.events), so a live push they cause already resolves
# the changed identity (a rename shows the new name, a revoked session is refused).
@sa_event.listens_for(OrmSession, "after_commit", insert=True)
def _announce_identity_changes(session: OrmSession) -> None:
    _bump(session.info.pop(_EPOCH_KEY, set()))


@sa_event.listens_for(OrmSession, "after_soft_rollback")
def _forget_identity_changes(session: OrmSession, _previous: object) -> None:
    session.info.pop(_EPOCH_KEY, None)


def identity_keys(user_id: int) -> tuple[str, ...]:
    return (EVERYONE, user_key(user_id))


# --- what moves the view versions: the domain events of committed changes -------------------

def _event_view_keys(batch: list[domain_events.DomainEvent]) -> set[str]:
    keys: set[str] = set()
    for ev in batch:
        if ev.customer_id is not None:
            keys.add(view_key(ev.topic, customer_id=ev.customer_id))
        for uid in ev.user_ids:
            keys.add(view_key(ev.topic, user_id=uid))
        for role in ev.roles:
            keys.add(f"v:r{role}:{ev.topic}")
    return keys


def _on_domain_events(batch: list[domain_events.DomainEvent]) -> None:
    # Runs in the committing thread, before the live push is handed to the loop: whoever
    # reads after the push sees the new versions.
    _bump(_event_view_keys(batch))


domain_events.subscribe_first(_on_domain_events)
