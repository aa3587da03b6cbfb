"""What the kept views and the process's allocator cost per customer: shared answers are one
object, keys one string, and glibc's arenas are capped in a process of its own."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

from portal.live import views
from portal.live.runtime import view_key


def test_equal_answers_are_kept_once_and_different_ones_apart() -> None:
    a = [{"kind": "recent_orders", "size": "wide", "options": {"limit": 5}}]
    b = [{"kind": "recent_orders", "size": "wide", "options": {"limit": 5}}]
    other = [{"kind": "recent_orders", "size": "wide", "options": {"limit": 6}}]
    assert a == b and a is not b
    first = views.canonical(a)
    assert views.canonical(b) is first
    assert views.canonical(other) is other and other is not first


def test_a_customers_version_keys_are_one_string_each() -> None:
    one, two = view_key("orders", customer_id=7), view_key("orders", customer_id=int("7"))
    assert one == two == "v:c7:orders" and one is two
    assert view_key("orders", customer_id=8) != one


def _run(code: str, env: dict[str, str]) -> str:
    import os

    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                         env={**os.environ, **env}, timeout=60, check=True)
    return out.stdout.strip()


ARENAS = """
    import ctypes, threading
    from portal.memory import limit_arenas
    from portal.settings import get_settings
    print(limit_arenas(get_settings().portal_malloc_arenas))
    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    barrier = threading.Barrier(12)
    def work():
        barrier.wait()
        for _ in range(200):
            libc.malloc(4096)  # kept: every thread holds memory in its arena at once
    threads = [threading.Thread(target=work) for _ in range(12)]
    [t.start() for t in threads]; [t.join() for t in threads]
    # glibc's malloc_info lists each arena as <heap nr="...">
    import tempfile, os
    f = tempfile.TemporaryFile()
    libc.fdopen.restype = ctypes.c_void_p
    libc.fdopen.argtypes = [ctypes.c_int, ctypes.c_char_p]
    libc.malloc_info.argtypes = libc.fclose.argtypes = None
    fp = libc.fdopen(os.dup(f.fileno()), b"w")
    libc.malloc_info(0, ctypes.c_void_p(fp)); libc.fclose(ctypes.c_void_p(fp))
    f.seek(0)
    print(f.read().count(b"<heap nr="))
"""


def test_the_portal_caps_mallocs_arenas_and_zero_leaves_glibcs_default() -> None:
    capped = _run(ARENAS, {"PORTAL_MALLOC_ARENAS": "2"}).split()
    default = _run(ARENAS, {"PORTAL_MALLOC_ARENAS": "0"}).split()
    assert capped[0] == "True" and int(capped[1]) <= 2
    # (the control: without the cap, twelve busy threads get arenas of their own)
    assert default[0] == "False" and int(default[1]) > 2


def test_answers_nobody_read_for_a_while_are_swept_and_the_ones_read_since_stay() -> None:
    from portal.domain.principal import Principal

    cache = views.ViewCache()
    loads: list[int] = []

    def reader(customer: int) -> Principal:
        return Principal(user_id=9000 + customer, role="customer", email=f"c{customer}@example.com",
                         name="C", customer_id=9000 + customer)

    def read(customer: int) -> object:
        return cache.get(reader(customer), "orders", (), ("orders",),
                         lambda: loads.append(customer) or [f"order of {customer}"])

    for customer in range(5):
        read(customer)
    assert len(cache) == 5 and loads == [0, 1, 2, 3, 4]
    read(0)  # read again: kept, not loaded again
    assert loads == [0, 1, 2, 3, 4]
    now = time.monotonic()
    # (the control: nothing is swept while every answer was read within the idle time)
    assert cache.sweep(60, now=now) == 0 and len(cache) == 5
    # Seconds on, customer 3 reads again; a minute after the first reads, the other four's answers go.
    entry = cache._entries  # when each was read last, moved back for the test
    for key, (versions, expires, value, _read) in list(entry.items()):
        entry[key] = (versions, expires, value, now - 100)
    read(3)
    assert cache.sweep(60, now=now) == 4 and len(cache) == 1
    read(3)
    assert loads == [0, 1, 2, 3, 4]  # customer 3's answer is the one kept
    read(1)
    assert loads == [0, 1, 2, 3, 4, 1]  # customer 1's was dropped, so it is read anew
