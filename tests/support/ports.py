"""Ports for the servers the tests start, picked where nothing else will take them meanwhile.

A port that `bind(("127.0.0.1", 0))` hands out comes from the kernel's ephemeral range, the same
range from which every outgoing connection (to PostgreSQL, Redis, the browser's to a server) takes
its local port. A server that binds it many seconds later (after a frontend compile) may then find
it taken by such a connection: "Address already in use". So these come from below that range,
at random (each pytest-xdist worker picks apart), and free when picked.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

_LOWEST = 10000
_rng = random.SystemRandom()


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_ports(n: int = 1, *, consecutive: bool = False) -> list[int]:
    """`n` ports free now, outside the ephemeral range (`consecutive`: base, base + 1, ...)."""
    high = _ephemeral_low() - n
    if high > _LOWEST:
        for _ in range(500):
            if consecutive:
                base = _rng.randrange(_LOWEST, high)
                ports = list(range(base, base + n))
            else:
                ports = list({_rng.randrange(_LOWEST, high) for _ in range(n)})
            if len(ports) == n and all(is_free(p) for p in ports):
                return ports
    raise RuntimeError(f"no {n} free ports below the ephemeral range")


def free_port() -> int:
    return free_ports(1)[0]
