"""The event loop's pipelined Redis connection (`portal.live.resp`), against a real Redis (one runs
on every machine): each caller gets its own reply however many overlap, errors and lost
connections reach the callers waiting then and no later ones, a Redis that stops answering fails
its waiting callers after the timeout instead of holding them, and the URL's database is used."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from portal.live.resp import PipelinedRedis, _parse
from tests.support.aio import run_async
from tests.support.ports import free_port

URL = (os.environ.get("REFLEX_REDIS_URL") or "redis://127.0.0.1:6379").rstrip("/")
BASE = URL.rsplit("/", 1)[0] if URL.count("/") > 2 else URL


def _client(db: int = 0) -> PipelinedRedis:
    client = PipelinedRedis.for_url(f"{BASE}/{db}")
    assert client is not None
    return client


@contextlib.asynccontextmanager
async def _open(db: int = 0) -> AsyncIterator[PipelinedRedis]:
    client = _client(db)
    try:
        yield client
    finally:
        await client.close()


def _sync(db: int = 0) -> Redis:
    return Redis.from_url(f"{BASE}/{db}")


def _keys(n: int) -> list[str]:
    tag = uuid.uuid4().hex
    return [f"test:resp:{tag}:{i}" for i in range(n)]


def test_replies_match_redis_py_and_missing_keys_are_none() -> None:
    keys = _keys(3)
    sync = _sync()
    sync.set(keys[0], 7)
    sync.set(keys[2], "é")

    async def scenario() -> tuple[Any, Any, Any]:
        async with _open() as client:
            values = await client.execute("MGET", *keys)
            return values, sync.mget(keys), await client.execute("INCR", keys[0])

    try:
        values, by_redis_py, incremented = run_async(scenario())
        assert values == by_redis_py == [b"7", None, "é".encode()]
        assert incremented == 8 and sync.get(keys[0]) == b"8"
    finally:
        sync.delete(*keys)


def test_overlapping_callers_each_get_their_own_reply() -> None:
    keys = _keys(300)
    sync = _sync()
    big = b"x" * 200_000  # many reads of the socket for one reply
    with sync.pipeline() as pipe:
        for i, k in enumerate(keys):
            pipe.set(k, big if i == 150 else f"value {i}")
        pipe.execute()

    async def scenario() -> list[Any]:
        async with _open() as client:
            return list(await asyncio.gather(*(client.execute("GET", k) for k in keys)))

    try:
        got = run_async(scenario())
        assert got[150] == big
        assert [g for i, g in enumerate(got) if i != 150] == [f"value {i}".encode() for i in range(300) if i != 150]
    finally:
        sync.delete(*keys)


def test_an_error_reply_is_raised_to_its_caller_only() -> None:
    keys = _keys(2)
    sync = _sync()
    sync.rpush(keys[0], "a list")
    sync.set(keys[1], "after")

    async def scenario() -> tuple[list[Any], Any]:
        async with _open() as client:
            results = await asyncio.gather(client.execute("GET", keys[0]), client.execute("GET", keys[1]),
                                           return_exceptions=True)
            return results, await client.execute("GET", keys[1])

    try:
        (wrong, after), again = run_async(scenario())
        assert isinstance(wrong, ResponseError) and "WRONGTYPE" in str(wrong)
        assert after == again == b"after"  # the same connection goes on
    finally:
        sync.delete(*keys)


def test_a_caller_that_gives_up_does_not_take_the_next_callers_reply() -> None:
    keys = _keys(2)
    sync = _sync()
    sync.set(keys[0], "first")
    sync.set(keys[1], "second")

    async def scenario() -> Any:
        async with _open() as client:
            await client.execute("PING")  # connected: the next command is written at once
            gone = asyncio.ensure_future(client.execute("GET", keys[0]))
            await asyncio.sleep(0)  # sent (or about to be), its reply not read yet
            gone.cancel()
            return await client.execute("GET", keys[1])

    try:
        assert run_async(scenario()) == b"second"
    finally:
        sync.delete(*keys)


def test_a_lost_connection_fails_its_waiting_callers_and_the_next_command_connects_again() -> None:
    sync = _sync()

    async def scenario() -> tuple[int, int, Any]:
        async with _open() as client:
            first = await client.execute("CLIENT", "ID")
            # BLPOP on a key nobody fills waits until the connection is killed under it.
            waiting = asyncio.ensure_future(client.execute("BLPOP", f"test:resp:{uuid.uuid4().hex}", 30))
            deadline = time.monotonic() + 10
            while sync.execute_command("CLIENT", "KILL", "ID", first) != 1:
                assert time.monotonic() < deadline, "the client's connection was never seen by Redis"
                await asyncio.sleep(0.01)
            with pytest.raises(RedisConnectionError):
                await asyncio.wait_for(waiting, 10)
            second = await client.execute("CLIENT", "ID")
            return first, second, await client.execute("PING")

    first, second, pong = run_async(scenario())
    assert second != first and pong == "PONG"


def test_the_urls_database_is_the_one_read() -> None:
    (key,) = _keys(1)
    other = _sync(3)
    other.set(key, "in db 3")

    async def scenario() -> tuple[Any, Any]:
        async with _open(3) as in3, _open(0) as in0:
            return await in3.execute("GET", key), await in0.execute("GET", key)

    try:
        assert run_async(scenario()) == (b"in db 3", None)
    finally:
        other.delete(key)


def test_a_password_redis_does_not_take_is_refused_at_connect() -> None:
    if _sync().config_get("requirepass").get("requirepass"):
        pytest.skip("this Redis has a password")
    client = PipelinedRedis.for_url(BASE.replace("redis://", "redis://:not-the-password@") + "/0")
    assert client is not None

    async def scenario() -> None:
        try:
            await client.execute("PING")
        finally:
            await client.close()

    with pytest.raises(ResponseError):
        run_async(scenario())


def test_urls_it_does_not_speak_are_left_to_redis_py() -> None:
    assert PipelinedRedis.for_url("rediss://127.0.0.1:6380/0") is None
    assert PipelinedRedis.for_url("redis://127.0.0.1:6379/2") is not None
    assert PipelinedRedis.for_url("unix:///run/redis.sock?db=1") is not None


def test_replies_split_anywhere_are_read_whole() -> None:
    reply = b"*3\r\n$5\r\nhello\r\n$-1\r\n:42\r\n"
    for cut in range(1, len(reply)):
        with pytest.raises(Exception) as incomplete:
            _parse(reply[:cut], 0)
        assert type(incomplete.value).__name__ == "_Incomplete"
    assert _parse(reply, 0) == ([b"hello", None, 42], len(reply))


@contextlib.contextmanager
def _private_redis() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A redis-server of this test's own (the Makefile's `redis` target installs it), so that it
    can be stopped (SIGSTOP) without stalling the Redis every other test shares."""
    binary = shutil.which("redis-server")
    assert binary, "redis-server is not installed: `make redis`"
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="test-resp-") as data:
        proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                 "--dir", data], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 20
            while True:
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
                assert time.monotonic() < deadline and proc.poll() is None, "the private redis-server did not start"
                time.sleep(0.05)
            yield f"redis://127.0.0.1:{port}/0", proc
        finally:
            proc.send_signal(signal.SIGCONT)
            proc.terminate()
            proc.wait(10)


async def _until_waiting(client: PipelinedRedis) -> None:
    """Until the client has written a command that is waiting for its reply."""
    deadline = time.monotonic() + 10
    while not (client._protocol is not None and client._protocol.waiting):
        assert time.monotonic() < deadline, "the command was never sent"
        await asyncio.sleep(0.005)


def test_a_redis_that_stops_answering_fails_the_waiting_commands_after_the_timeout() -> None:
    with _private_redis() as (url, server):
        quick = PipelinedRedis.for_url(url, timeout=0.5)
        patient = PipelinedRedis.for_url(url, timeout=30)
        assert quick is not None and patient is not None

        async def scenario() -> tuple[Any, ...]:
            try:
                await quick.execute("SET", "k", "before")
                await patient.execute("PING")
                first_id = await quick.execute("CLIENT", "ID")
                server.send_signal(signal.SIGSTOP)  # hung: the connection stays open, nothing answers
                # Control: while stopped, a command with a long timeout just waits, and gets its
                # reply once the server goes on; so it is the timeout that fails the quick one.
                held = asyncio.ensure_future(patient.execute("ECHO", "held"))
                await _until_waiting(patient)
                both = asyncio.gather(quick.execute("GET", "k"), quick.execute("ECHO", "also"), return_exceptions=True)
                overdue = await asyncio.wait_for(both, 10)
                waiting_after = len(patient._protocol.waiting) if patient._protocol else 0
                server.send_signal(signal.SIGCONT)
                held_reply = await asyncio.wait_for(held, 10)
                # The quick client connects afresh: the stale replies of the commands that timed out
                # (sent before the stop) cannot reach the callers that come after.
                after = await quick.execute("ECHO", "after")
                second_id = await quick.execute("CLIENT", "ID")
                return overdue, waiting_after, held_reply, after, first_id, second_id
            finally:
                await quick.close()
                await patient.close()

        overdue, waiting_after, held_reply, after, first_id, second_id = run_async(scenario())
    assert all(isinstance(e, RedisTimeoutError) for e in overdue), overdue
    assert waiting_after == 1 and held_reply == b"held"
    assert after == b"after" and second_id != first_id


def test_connecting_to_a_redis_that_does_not_answer_fails_after_the_timeout() -> None:
    with _private_redis() as (url, server):
        client = PipelinedRedis.for_url(url.replace("/0", "/2"), timeout=0.5)  # SELECT 2 is sent first
        assert client is not None
        server.send_signal(signal.SIGSTOP)

        async def scenario() -> Any:
            try:
                with pytest.raises(RedisTimeoutError):
                    await asyncio.wait_for(client.execute("PING"), 10)
                server.send_signal(signal.SIGCONT)
                return await client.execute("PING")  # control: the same client works once it answers
            finally:
                await client.close()

        assert run_async(scenario()) == "PONG"
