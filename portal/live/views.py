"""Per-customer views kept fresh by domain events.

A page load asks the domain the same questions again and again ("this customer's five latest
orders"); the answer only changes when a domain event of that topic is committed for that
customer (or user, or role). So an answer is kept with the versions of the topics it depends
on (``portal.live.runtime``), and served again while those versions have not moved: one
counter read instead of a dozen queries. Across workers the versions live in Redis, so a
change on one worker is seen by the next read on any other.

Kept answers are the domain's plain shapes, never formatted text (formatting depends on who
reads: time zone, later language), and never anything the domain did not already authorise
for that principal: the key always carries the principal's identity.

Any ORM write of a row that a view reads (an order, a shipment, an invoice, a ticket, ...) also
moves its topic's version for its customer or user, so a write without a domain event (a seed,
a script) is seen at once too.
Writes that bypass the ORM (SQL by hand, a restored backup) are seen when answers expire, after
``TTL_SECONDS``.

An answer nobody read for PORTAL_VIEW_IDLE_SECONDS is dropped (`ViewCache.sweep`, every few
seconds from the live runtime's lifespan). Kept answers pay off when the same reader asks again
soon (the next page, another tab, a reconnect); a push always follows a change and so reads anew
anyway. So the answers of customers who left go a minute later, not only once 20,000 newer
answers push them out.
"""

from __future__ import annotations

import functools
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from portal.domain.principal import Principal
from portal.i18n import current_language
from portal.live.runtime import counters, view_key
from portal.settings import early

T = TypeVar("T")
TTL_SECONDS = 120.0
# How many answers a worker keeps (least recently used go first); 0 keeps none.
MAX_ENTRIES = int(early("PORTAL_VIEW_CACHE_ENTRIES", "20000"))


def topic_keys(principal: Principal, topics: tuple[str, ...]) -> tuple[str, ...]:
    """The version keys a principal's view of these topics depends on."""
    return _topic_keys(principal.customer_id, principal.user_id, principal.role, topics)


@functools.lru_cache(maxsize=8192)
def _topic_keys(customer_id: int | None, user_id: int, role: str, topics: tuple[str, ...]) -> tuple[str, ...]:
    keys: list[str] = []
    for topic in topics:
        if customer_id is not None:
            keys.append(view_key(topic, customer_id=customer_id))
        keys.append(view_key(topic, user_id=user_id))
        keys.append(sys.intern(f"v:r{role}:{topic}"))
    return tuple(keys)


class ViewCache:
    def __init__(self, max_entries: int = MAX_ENTRIES, ttl: float = TTL_SECONDS) -> None:
        self._lock = threading.Lock()
        # key -> (versions, expires at, answer, last read); least recently read first.
        self._entries: OrderedDict[Hashable, tuple[tuple[int, ...], float, Any, float]] = OrderedDict()
        self.max_entries, self.ttl = max_entries, ttl
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, principal: Principal, name: str, args: Hashable, topics: tuple[str, ...],
            load: Callable[[], T]) -> T:
        """The answer of `load()` for this principal, view and arguments: kept, or loaded now.

        Blocking (it may read Redis and the database): call it from the worker pool, which is
        where portal state handlers run."""
        keys = topic_keys(principal, topics)
        # Versions first, then the database: a change committed in between moves a version
        # past what is stored with the answer, so the next read loads again.
        versions = counters().read_now(keys)
        # Answers may hold words and formats of the reader's language and zone: kept apart per language.
        key = (principal.user_id, principal.customer_id, principal.role, current_language(), principal.locale,
               principal.timezone, name, args)
        now = time.monotonic()
        with self._lock:
            found = self._entries.get(key)
            if found is not None and found[0] == versions and found[1] > now:
                self._entries[key] = (*found[:3], now)
                self._entries.move_to_end(key)
                self.hits += 1
                return found[2]  # type: ignore[no-any-return]
        value = load()
        with self._lock:
            self.misses += 1
            self._entries[key] = (versions, now + self.ttl, value, now)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return value

    def sweep(self, idle: float, now: float | None = None) -> int:
        """Drop the answers nobody read for `idle` seconds (the least recently read come first, so
        this stops at the first one read since). Returns how many went."""
        limit = (time.monotonic() if now is None else now) - idle
        gone: list[Any] = []
        with self._lock:
            while self._entries:
                entry = next(iter(self._entries.values()))
                if entry[3] > limit:
                    break
                gone.append(self._entries.popitem(last=False))
            if gone and not self._entries:
                _topic_keys.cache_clear()  # every reader's keys, computed again when read again
        # (freed here, outside the lock)
        return len(gone)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


views = ViewCache()

# One copy of each answer that many principals share (most customers keep the default dashboard
# layout): kept answers are never changed in place, so equal ones can be one object.
_CANONICAL: OrderedDict[str, Any] = OrderedDict()
_CANONICAL_MAX = 256
_canonical_lock = threading.Lock()


def canonical(value: T) -> T:
    """`value`, or an equal answer kept before (compared by its repr: plain data only)."""
    key = repr(value)
    with _canonical_lock:
        found = _CANONICAL.get(key)
        if found is not None:
            _CANONICAL.move_to_end(key)
            return found  # type: ignore[no-any-return]
        _CANONICAL[key] = value
        while len(_CANONICAL) > _CANONICAL_MAX:
            _CANONICAL.popitem(last=False)
    return value
