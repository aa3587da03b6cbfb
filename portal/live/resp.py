"""A pipelined Redis connection for the few commands the event loop sends with every event.

With several workers the guard reads the session's epochs from Redis at every event, a page's
load first reads the versions of the views it shows, and a navigation records the tab's screen:
a handful of small commands per navigation, all on the event loop. redis-py's asyncio client
spends about 100 µs of the loop's time on each one (a connection taken from its pool and given
back, a health check that reads the socket, retries, event dispatch), and when events overlap
each waits for a connection of its own: 10-20% of a busy worker's interpreter time went there
(bench/README.md, "2026-12-07"). This client keeps one connection per event loop and writes
each command at once; Redis answers in the order it was asked, so a reply goes to the oldest
waiting caller: a command costs one `write` and a few slices of the reply, and overlapping
events share the connection without waiting for each other.

It speaks RESP2 to `redis://` and `unix://` URLs (a password, a user and a database in the URL
are sent first). Anything else (TLS) gets None from `for_url`, and the caller keeps redis-py.
A lost connection fails every command then waiting (`redis.exceptions.ConnectionError`, as
redis-py raises) and the next command connects again. A Redis that stops answering without closing
the connection (a hung or stopped server, a network that drops packets) does the same after
`timeout` seconds (`redis.exceptions.TimeoutError`): the events waiting on it fail instead of
waiting for ever, and the next command connects afresh. One timer per connection watches the
oldest waiting command, so a command costs no timer of its own.
"""

from __future__ import annotations

import asyncio
import collections
import functools
from typing import Any
from urllib.parse import unquote, urlparse

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

_CRLF = b"\r\n"
TIMEOUT = 5.0  # seconds a command may wait for its reply (Redis answers in well under a millisecond)


class _Incomplete(Exception):
    """The buffer ends inside a reply: wait for more bytes."""


def _parse(buf: bytearray | bytes, pos: int) -> tuple[Any, int]:
    """One RESP2 reply from `buf` at `pos`: (value, position after it). An error reply is
    returned as a ResponseError instance, not raised."""
    end = buf.find(_CRLF, pos)
    if end < 0:
        raise _Incomplete
    kind = buf[pos]
    line = bytes(buf[pos + 1:end])
    pos = end + 2
    if kind == 36:  # $ bulk string
        size = int(line)
        if size < 0:
            return None, pos
        if len(buf) < pos + size + 2:
            raise _Incomplete
        return bytes(buf[pos:pos + size]), pos + size + 2
    if kind == 42:  # * array
        count = int(line)
        if count < 0:
            return None, pos
        items = []
        for _ in range(count):
            item, pos = _parse(buf, pos)
            items.append(item)
        return items, pos
    if kind == 58:  # : integer
        return int(line), pos
    if kind == 43:  # + simple string
        return line.decode(), pos
    if kind == 45:  # - error
        return ResponseError(line.decode(errors="replace")), pos
    raise RedisConnectionError(f"Redis sent a reply this client does not read: {bytes(buf[pos - 2:pos + 30])!r}")


def encode(args: tuple[Any, ...]) -> bytes:
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        if isinstance(arg, bytes):
            data = arg
        elif isinstance(arg, str):
            data = arg.encode()
        elif isinstance(arg, int):
            data = b"%d" % arg
        else:
            raise TypeError(f"a Redis argument must be bytes, str or int, not {type(arg).__name__}")
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


class _Protocol(asyncio.Protocol):
    def __init__(self, timeout: float = TIMEOUT) -> None:
        self.transport: asyncio.Transport | None = None
        self.waiting: collections.deque[tuple[asyncio.Future[Any], float]] = collections.deque()  # (waiter, sent at)
        self.buffer = bytearray()
        self.lost = False
        self.timeout = timeout
        self._watch: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def send(self, args: tuple[Any, ...]) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Any] = loop.create_future()
        assert self.transport is not None
        now = loop.time()
        self.waiting.append((waiter, now))
        self.transport.write(encode(args))
        if self._watch is None:
            self._watch = loop.call_at(now + self.timeout, self._overdue, loop)
        return waiter

    def _overdue(self, loop: asyncio.AbstractEventLoop) -> None:
        """The watch timer: fail everything waiting if the oldest command is overdue, else watch
        the oldest again (at most one wake-up per `timeout` while commands keep flowing)."""
        self._watch = None
        if self.lost or not self.waiting:
            return
        sent = self.waiting[0][1]
        if loop.time() - sent >= self.timeout:
            self._fail(RedisTimeoutError(f"Redis did not answer within {self.timeout:g} s"))
            if self.transport is not None:
                self.transport.abort()  # a late reply must not reach the next caller
            return
        self._watch = loop.call_at(sent + self.timeout, self._overdue, loop)

    def data_received(self, data: bytes) -> None:
        buf = self.buffer
        buf += data
        pos = 0
        try:
            while self.waiting and pos < len(buf):
                try:
                    value, pos_after = _parse(buf, pos)
                except _Incomplete:
                    break
                pos = pos_after
                waiter = self.waiting.popleft()[0]
                if not waiter.done():  # its caller may have given up (cancelled): the reply is still its
                    waiter.set_result(value)
        except (ValueError, RedisConnectionError) as exc:  # not RESP: nothing after it can be trusted
            self._fail(RedisConnectionError(f"unreadable reply from Redis: {exc}"))
            if self.transport is not None:
                self.transport.abort()
            return
        if pos:
            del buf[:pos]

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(RedisConnectionError(f"connection to Redis lost: {exc or 'closed'}"))

    def _fail(self, exc: Exception) -> None:
        self.lost = True
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        while self.waiting:
            waiter = self.waiting.popleft()[0]
            if not waiter.done():
                waiter.set_exception(exc)
        self.buffer.clear()


class PipelinedRedis:
    """One connection to Redis for the event loop that first uses it (make one per loop)."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 6379, path: str | None = None, db: int = 0,
                 username: str | None = None, password: str | None = None, timeout: float = TIMEOUT) -> None:
        self._address = (host, port, path)
        self.timeout = timeout
        self._hello: list[tuple[Any, ...]] = []
        if password:
            self._hello.append(("AUTH", username, password) if username else ("AUTH", password))
        if db:
            self._hello.append(("SELECT", db))
        self._protocol: _Protocol | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connecting: asyncio.Lock | None = None

    @classmethod
    def for_url(cls, url: str, timeout: float = TIMEOUT) -> PipelinedRedis | None:
        """A client for a `redis://` or `unix://` URL; None for any other (TLS: use redis-py)."""
        parts = urlparse(url)
        user = unquote(parts.username) if parts.username else None
        password = unquote(parts.password) if parts.password else None
        query = dict(p.split("=", 1) for p in parts.query.split("&") if "=" in p)
        if parts.scheme == "redis":
            path_db = parts.path.strip("/")
            db = int(path_db or query.get("db", "0") or 0)
            return cls(host=parts.hostname or "127.0.0.1", port=parts.port or 6379, db=db, username=user,
                       password=password, timeout=timeout)
        if parts.scheme == "unix":
            return cls(path=unquote(parts.path), db=int(query.get("db", "0") or 0), username=user, password=password,
                       timeout=timeout)
        return None

    async def _connected(self) -> _Protocol:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # made for another loop (tests run several): start afresh
            self._protocol, self._loop, self._connecting = None, loop, asyncio.Lock()
        assert self._connecting is not None
        async with self._connecting:
            protocol = self._protocol
            if protocol is not None and not protocol.lost:
                return protocol
            host, port, path = self._address
            made = functools.partial(_Protocol, self.timeout)
            try:
                async with asyncio.timeout(self.timeout):
                    if path:
                        _, protocol = await loop.create_unix_connection(made, path)
                    else:
                        _, protocol = await loop.create_connection(made, host, port)
            except (OSError, TimeoutError) as exc:
                raise RedisConnectionError(f"could not connect to Redis at {path or f'{host}:{port}'}: "
                                           f"{exc or 'no answer'}") from exc
            for command in self._hello:
                reply = await protocol.send(command)
                if isinstance(reply, ResponseError):
                    assert protocol.transport is not None
                    protocol.transport.close()
                    raise reply
            self._protocol = protocol
            return protocol

    async def execute(self, *args: Any) -> Any:
        """Send one command and return its reply (bytes, int, str, None or a list of them);
        an error reply is raised as redis-py's ResponseError."""
        protocol = self._protocol
        if protocol is None or protocol.lost or self._loop is not asyncio.get_running_loop():
            protocol = await self._connected()
        reply = await protocol.send(args)
        if isinstance(reply, ResponseError):
            raise reply
        return reply

    async def close(self) -> None:
        protocol, self._protocol = self._protocol, None
        if protocol is not None and protocol.transport is not None:
            protocol.transport.close()
