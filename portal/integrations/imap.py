"""IMAP adapter for the support mailbox (the standard library's imaplib): any provider, over
TLS, STARTTLS or (loopback only, checked by the settings) plain.

Messages are read by UID without marking them seen, and moved once handled: MOVE where the server
has it (RFC 6851), else COPY, flag deleted and expunge that one UID (UIDPLUS).
"""

from __future__ import annotations

import contextlib
import imaplib
import re
import ssl
from collections.abc import Iterator

from portal.settings import Settings, get_settings


class ImapError(Exception):
    """The mailbox could not be reached or refused a command (the text says which)."""


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Mailbox:
    def __init__(self, imap: imaplib.IMAP4, folder: str) -> None:
        self._imap = imap
        self.folder = folder
        self._made: set[str] = set()

    def _ok(self, what: str, result: tuple[str, list[object]]) -> list[object]:
        typ, data = result
        if typ != "OK":
            raise ImapError(f"{what}: {typ} {data!r}"[:300])
        return data

    def uids(self, limit: int) -> list[str]:
        data = self._ok("search", self._imap.uid("SEARCH", "ALL"))
        raw = data[0] if data and isinstance(data[0], bytes) else b""
        return [u.decode() for u in raw.split()][:limit]

    def size(self, uid: str) -> int:
        data = self._ok("fetch size", self._imap.uid("FETCH", uid, "(RFC822.SIZE)"))
        for item in data:
            text = item.decode() if isinstance(item, bytes) else str(item)
            m = re.search(r"RFC822\.SIZE (\d+)", text)
            if m:
                return int(m.group(1))
        raise ImapError(f"no size for message {uid}")

    def _fetch(self, uid: str, section: str) -> bytes:
        data = self._ok("fetch", self._imap.uid("FETCH", uid, f"({section})"))
        for item in data:
            if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], bytes):
                return item[1]
        raise ImapError(f"message {uid} has gone")

    def fetch(self, uid: str) -> bytes:
        return self._fetch(uid, "BODY.PEEK[]")

    def headers(self, uid: str) -> bytes:
        return self._fetch(uid, "BODY.PEEK[HEADER]")

    def _ensure(self, folder: str) -> None:
        if folder in self._made:
            return
        typ, _ = self._imap.create(_quote(folder))
        # NO with ALREADYEXISTS (or a server that only says NO) means it is there; check by STATUS.
        if typ != "OK":
            self._ok(f"folder {folder}", self._imap.status(_quote(folder), "(MESSAGES)"))
        self._made.add(folder)

    def move(self, uid: str, folder: str) -> None:
        self._ensure(folder)
        caps = {str(c).upper() for c in self._imap.capabilities}
        if "MOVE" in caps:
            self._ok(f"move to {folder}", self._imap.uid("MOVE", uid, _quote(folder)))
            return
        self._ok(f"copy to {folder}", self._imap.uid("COPY", uid, _quote(folder)))
        self._ok("flag", self._imap.uid("STORE", uid, "+FLAGS.SILENT", r"(\Deleted)"))
        if "UIDPLUS" in caps:
            self._ok("expunge", self._imap.uid("EXPUNGE", uid))
        else:
            self._ok("expunge", self._imap.expunge())


def _connect(s: Settings) -> imaplib.IMAP4:
    timeout = s.support_imap_timeout_seconds
    if s.support_imap_security == "ssl":
        return imaplib.IMAP4_SSL(s.support_imap_host, s.imap_port, ssl_context=ssl.create_default_context(),
                                 timeout=timeout)
    imap = imaplib.IMAP4(s.support_imap_host, s.imap_port, timeout=timeout)
    if s.support_imap_security == "starttls":
        imap.starttls(ssl_context=ssl.create_default_context())
    return imap


@contextlib.contextmanager
def open_mailbox(settings: Settings | None = None) -> Iterator[Mailbox]:
    """The configured folder, selected read-write; ImapError when it cannot be reached."""
    s = settings or get_settings()
    try:
        imap = _connect(s)
    except (OSError, imaplib.IMAP4.error, ssl.SSLError) as exc:
        raise ImapError(f"cannot reach {s.support_imap_host}:{s.imap_port}: {exc}") from exc
    try:
        try:
            imap.login(s.support_imap_username, s.support_imap_password)
        except imaplib.IMAP4.error as exc:
            raise ImapError(f"login refused for {s.support_imap_username}: {exc}") from exc
        typ, data = imap.select(_quote(s.support_imap_folder))
        if typ != "OK":
            raise ImapError(f"folder {s.support_imap_folder!r} cannot be opened: {data!r}")
        yield Mailbox(imap, s.support_imap_folder)
    except (OSError, imaplib.IMAP4.error) as exc:
        raise ImapError(f"mailbox error: {exc}") from exc
    finally:
        with contextlib.suppress(Exception):
            imap.logout()
