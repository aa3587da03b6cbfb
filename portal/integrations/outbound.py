"""Where the portal may send requests that an admin chose (outbound webhooks): public addresses only.

An address on this machine or inside the network (loopback, private ranges, link-local such as
the cloud metadata service 169.254.169.254, unique-local IPv6, IPv4 mapped into IPv6, ...) is
refused unless WEBHOOKS_ALLOW_PRIVATE_TARGETS is on. A name is checked by what it resolves to,
every address of it, and the caller connects to the address that was checked (`pin`), so a DNS
answer that changes between the check and the connection (rebinding) cannot move the request.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import socket
from urllib.parse import urlsplit, urlunsplit

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class BlockedTarget(Exception):
    """The target is not a public address (or cannot be resolved)."""


def is_public(ip: IpAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None:
            return is_public(embedded)
    return ip.is_global and not ip.is_multicast and not ip.is_reserved


def _literal(host: str) -> IpAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def resolve(host: str, port: int) -> list[IpAddress]:
    """Every address `host` stands for (an IP literal stands for itself)."""
    literal = _literal(host)
    if literal is not None:
        return [literal]
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise BlockedTarget(f"{host} could not be resolved") from exc
    out: list[IpAddress] = []
    for *_, sockaddr in infos:
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if ip not in out:
            out.append(ip)
    if not out:
        raise BlockedTarget(f"{host} could not be resolved")
    return out


def check_host(host: str, port: int) -> list[IpAddress]:
    """The public addresses of `host`, or BlockedTarget if any of them is not public."""
    if host.rstrip(".").lower() == "localhost" or host.rstrip(".").lower().endswith(".localhost"):
        raise BlockedTarget(f"{host} is this machine")
    addresses = resolve(host, port)
    for ip in addresses:
        if not is_public(ip):
            raise BlockedTarget(f"{host} resolves to {ip}, which is not a public address")
    return addresses


@dataclasses.dataclass(frozen=True, slots=True)
class Pinned:
    """A request to `url` sent to the checked address: connect to `connect_url`, say `host_header`,
    and verify TLS against `sni_hostname`."""

    connect_url: str
    host_header: str
    sni_hostname: str


def _port_of(url: str) -> int:
    parts = urlsplit(url)
    return parts.port or (443 if parts.scheme == "https" else 80)


def pin(url: str) -> Pinned:
    """Resolves and checks the URL's host (BlockedTarget if not public) and pins the first address."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not host:
        raise BlockedTarget("the URL has no host")
    ip = check_host(host, _port_of(url))[0]
    shown = f"[{ip}]" if ip.version == 6 else str(ip)
    userinfo = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    netloc = userinfo + shown + (f":{parts.port}" if parts.port else "")
    return Pinned(connect_url=urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, "")),
                  host_header=parts.netloc.rsplit("@", 1)[-1], sni_hostname=host)


def check_url(url: str) -> None:
    """BlockedTarget unless every address of the URL's host is public (at creation time)."""
    parts = urlsplit(url)
    check_host(parts.hostname or "", _port_of(url))
