"""What a stranger's tab may cost the server: its Reflex state, kept briefly and never on disk.

Anyone can open /login, /help or /register, and a script can open hundreds of such tabs a
minute. Reflex keeps every tab's state tree for `redis_token_expiration` (an hour) after its last
event: in memory (one process), in Redis (several workers), or pickled per state under .states/
(Reflex's "disk" mode). A flood of strangers' tabs then holds an hour's worth of trees.

Here the state manager Reflex built for the app is given a subclass (it adds no fields) that
looks at each tab's SessionState when the tab's state is written or touched:

- a tab nobody is signed in to (`signed_in` false, no bound user) expires
  PORTAL_STRANGER_STATE_SECONDS (ten minutes by default) after its last event;
- a signed-in tab, or one whose SessionState is not loaded (a live push), keeps Reflex's own
  expiry, exactly as before, while a socket of it is open; once its last socket closed (the live
  layer tells the manager, `tab_closed`), one process frees its state
  PORTAL_CLOSED_TAB_STATE_SECONDS (ten minutes) later unless it came back (a reload's or a
  reconnect's hydrate, or any event, gives it its full expiry again): closed tabs cost nothing
  after that;
- in disk mode a stranger's state is never written to a file (it lives in memory only, for the
  short expiry).

With Redis the short expiry is the TTL of the keys written for a stranger's event, so every
worker sees the same; a tab that signs in has its states written again with the full TTL at its
next event (its SessionState always is: the guard updates it). 0 switches this off.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from reflex.istate.manager import StateManager
from reflex.istate.manager.disk import StateManagerDisk
from reflex.istate.manager.memory import StateManagerMemory
from reflex.istate.manager.redis import StateManagerRedis
from reflex.istate.manager.token import BaseStateToken, StateToken

from portal.settings import get_settings
from portal.state.base import release_dirty_vars


def stranger_seconds() -> int:
    return get_settings().portal_stranger_state_seconds


_SESSION_PATH: list[str] | None = None


def _session_path() -> list[str]:
    global _SESSION_PATH
    if _SESSION_PATH is None:
        from portal.state.session import SessionState

        _SESSION_PATH = SessionState.get_full_name().split(".")
    return _SESSION_PATH


def is_stranger(root: Any) -> bool:
    """A tab's state tree that nobody is signed in to. False when unsure (SessionState not loaded)."""
    if root is None:
        return False
    try:
        sess: Any = root.get_substate(_session_path())
    except (ValueError, AttributeError):
        return False
    return not sess.signed_in and sess._bound_user_id is None


def _short(full: int) -> int | None:
    """The stranger's expiry in seconds, or None when it is off or not shorter than Reflex's."""
    seconds = stranger_seconds()
    return seconds if 0 < seconds < full else None


def _wake_every(full: int) -> float:
    """How often the expiry sweep looks again at most: a stranger's deadline may come before the
    one the sweep went to sleep for."""
    short = _short(full)
    return max(1.0, min(60.0, short / 10)) if short else float(full)


def _free_on_purge(manager: Any, token: StateToken) -> None:
    """Before the memory or disk manager purges an expired tab: let its tree be freed at once
    (`portal.state.base.release_dirty_vars`)."""
    if (state := manager.states.get(token.cache_key)) is not None:
        release_dirty_vars(state)


def closed_tab_seconds() -> int:
    return get_settings().portal_closed_tab_state_seconds


class StrangerMemory(StateManagerMemory):
    # Kept in the instance's __dict__ (the subclass is put on Reflex's instance, and adds no fields):
    # "_portal_closed", the tabs whose socket closed and whose deadline was brought forward;
    # "_portal_wake_at", when the expiry sweep wakes next.

    def _closed(self) -> set[str]:
        return self.__dict__.setdefault("_portal_closed", set())  # type: ignore[no-any-return]

    def _purge_token(self, token: StateToken) -> None:
        _free_on_purge(self, token)
        self._closed().discard(token.cache_key)
        super()._purge_token(token)

    def _track_token(self, token: StateToken) -> None:
        self._closed().discard(token.cache_key)  # an event of the tab: it is open again
        short = _short(self.token_expiration)
        if short and isinstance(token, BaseStateToken) and is_stranger(self.states.get(token.cache_key)):
            self._token_expires_at[token.cache_key] = (time.time() + short, token)
            self._ensure_expiration_task()
            return
        super()._track_token(token)

    def tab_closed(self, ident: str) -> None:
        """The last socket of this tab closed: its state is freed PORTAL_CLOSED_TAB_STATE_SECONDS from
        now (unless that is later than its deadline already), or kept if the tab comes back first
        (its next event, a reload's or a reconnect's hydrate, gives it its full deadline again)."""
        seconds = closed_tab_seconds()
        entry = self._token_expires_at.get(ident)
        if not seconds or entry is None:
            return
        deadline = time.time() + seconds
        if deadline >= entry[0]:
            return
        self._token_expires_at[ident] = (deadline, entry[1])
        self._closed().add(ident)
        task = self._expiration_task
        if task is not None and not task.done() and deadline < self.__dict__.get("_portal_wake_at", 0.0):
            task.cancel()  # asleep past the new deadline: sweep again from now
            self._expiration_task = None
        self._ensure_expiration_task()

    def _purge_expired_tokens(self) -> float | None:
        closed = self._closed()
        if closed:
            from portal.live.push import open_tokens

            now = time.time()
            due = [key for key in closed if (entry := self._token_expires_at.get(key)) is None or entry[0] <= now]
            if due:
                still_open = open_tokens()
                for key in due:
                    entry = self._token_expires_at.get(key)
                    if entry is None:
                        closed.discard(key)
                    elif key in still_open:
                        self._track_token(entry[1])  # its socket is open again (a reload's, a reconnect's)
        return super()._purge_expired_tokens()

    async def _expire_states(self) -> None:
        # Reflex's sweep, waking at least every `_wake_every` seconds.
        try:
            while True:
                if (next_expires_at := self._purge_expired_tokens()) is None:
                    return
                wait = min(max(0.0, next_expires_at - time.time()), _wake_every(self.token_expiration))
                self.__dict__["_portal_wake_at"] = time.time() + wait
                await asyncio.sleep(wait)
        finally:
            if self._expiration_task is asyncio.current_task():
                self._expiration_task = None


class StrangerDisk(StateManagerDisk):
    def _purge_token(self, token: StateToken) -> None:
        _free_on_purge(self, token)
        super()._purge_token(token)

    def _age_stranger(self, token: StateToken) -> None:
        short = _short(self.token_expiration)
        key = token.cache_key
        if short and isinstance(token, BaseStateToken) and is_stranger(self.states.get(key)):
            # Reflex purges a token once `token_expiration` passed since this time.
            self._token_last_touched[key] = (time.time() - (self.token_expiration - short), token)

    async def get_state(self, token: Any) -> Any:
        state = await super().get_state(token)
        self._age_stranger(self._coerce_token(token))
        return state

    async def set_state(self, token: Any, state: Any, **context: Any) -> None:
        await super().set_state(token, state, **context)
        self._age_stranger(self._coerce_token(token))

    async def set_state_for_substate(self, token: Any, substate: Any) -> None:
        if _short(self.token_expiration) and getattr(substate, "parent_state", 0) is None and is_stranger(substate):
            return  # a stranger's tab is never written to a file
        await super().set_state_for_substate(token, substate)


class StrangerRedis(StateManagerRedis):
    # Reflex's own expiry for signed-in tabs (set by `install`).
    full_expiration: int = 0

    def prune_idle_locks(self) -> int:
        """Forget the in-process locks of tabs this worker holds no lease on.

        With opportunistic locking (REFLEX_OPLOCK_ENABLED, on by default: see rxconfig.py) Reflex
        makes an asyncio.Lock per tab that ever held a lease here and never drops it, so a worker
        would keep one for every tab ever opened. A lock nobody holds or waits for, of a tab with
        no lease, guards nothing: the next lease makes a new one. Runs on the event loop, without
        an await, so no coroutine is between looking a lock up and taking it. Returns how many."""
        locks = self._cached_states_locks
        leases = self._local_leases
        idle = [key for key, lock in locks.items()
                if key not in leases and not lock.locked() and not getattr(lock, "_waiters", None)]
        for key in idle:
            del locks[key]
        return len(idle)

    async def set_state(self, token: Any, state: Any, *, lock_id: bytes | None = None, **context: Any) -> None:
        full = self.full_expiration or self.token_expiration
        self.full_expiration = full
        short = _short(full)
        # Reflex's set_state reads token_expiration (the keys' TTL) before its first await, so the
        # value set here is the one used for this write, whatever other tabs' writes set meanwhile.
        self.token_expiration = short if short and is_stranger(state) else full
        await super().set_state(token, state, lock_id=lock_id, **context)


_SUBCLASS: dict[type, type] = {StateManagerMemory: StrangerMemory, StateManagerDisk: StrangerDisk,
                               StateManagerRedis: StrangerRedis}


def install(app: Any) -> StateManager | None:
    """Give the app's state manager the stranger-aware subclass (same fields, same data)."""
    manager = getattr(app, "_state_manager", None)
    sub = _SUBCLASS.get(type(manager))
    if manager is None or sub is None:
        return manager
    manager.__class__ = sub
    if isinstance(manager, StrangerRedis):
        manager.full_expiration = manager.token_expiration
    return manager
