"""Reflex's upload endpoint attacked over real HTTP: a client token alone (read from a log, say)
lets nobody act in someone else's tab, and nothing is read before the caller is known and the
size checked."""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlmodel import Session

from portal.models import Document, DocumentKind, DocumentStatus
from portal.state.documents import DocumentsState
from portal.state.uploads import request_limit
from tests.browser.test_forged_events import cookie_for
from tests.factories import make_customer
from tests.factories_billing import make_document
from tests.support.aio import run_async as run
from tests.support.reflex_client import ReflexClient, handler_name

pytestmark = pytest.mark.browser

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
HANDLER = handler_name(DocumentsState.handle_upload)


def _multipart(data: bytes, filename: str = "id-scan.pdf") -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{filename}\"\r\n"
            f"Content-Type: application/pdf\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


async def _post_upload(backend_url: str, token: str, cookie: str | None) -> httpx.Response:
    body, ctype = _multipart(PDF)
    headers = {"reflex-client-token": token, "reflex-event-handler": HANDLER, "content-type": ctype}
    if cookie:
        headers["cookie"] = cookie
    async with httpx.AsyncClient(timeout=30) as http:
        return await http.post(f"{backend_url}/_upload", content=body, headers=headers)


def _requested(db: Session) -> tuple[str, Document]:
    ua, ca = make_customer(db, name="Alice")
    ask = make_document(db, ca, kind=DocumentKind.UPLOAD, status=DocumentStatus.REQUESTED, title="ID scan",
                        with_file=False)
    return cookie_for(db, ua), ask


def test_a_token_alone_does_not_upload_in_someone_elses_tab(db: Session, harness: Any, backend_url: str) -> None:
    alice, ask = _requested(db)
    bob_user, _ = make_customer(db, name="Bob")
    bob = cookie_for(db, bob_user)

    async def attack() -> list[int]:
        # Given Alice's tab, waiting for her upload
        async with ReflexClient(backend_url, cookie=alice) as tab:
            await tab.send(handler_name(DocumentsState.start_upload), {"document_id": ask.id}, path="/documents")
            # When a stranger and then Bob send a file into it with her tab's token
            stranger = await _post_upload(backend_url, tab.token, None)
            other = await _post_upload(backend_url, tab.token, bob)
            return [stranger.status_code, other.status_code]

    # Then both are refused and her request still waits for her file
    assert run(attack()) == [403, 403]
    db.expire_all()
    doc = db.get(Document, ask.id)
    assert doc is not None and doc.status == DocumentStatus.REQUESTED and doc.storage_key is None

    async def own() -> int:
        async with ReflexClient(backend_url, cookie=alice) as tab:
            await tab.send(handler_name(DocumentsState.start_upload), {"document_id": ask.id}, path="/documents")
            return (await _post_upload(backend_url, tab.token, alice)).status_code

    # And Alice herself, with her own cookie in her own tab, uploads it
    assert run(own()) == 200
    db.expire_all()
    doc = db.get(Document, ask.id)
    assert doc is not None and doc.status == DocumentStatus.AVAILABLE and doc.size_bytes == len(PDF)


async def _answer_before_body(backend_url: str, head: dict[str, str], declared: int, sent: bytes) -> bytes:
    """Send the headers and only `sent` of the declared body, then wait for an answer: a server
    that reads the body before deciding never answers (the rest never comes)."""
    parts = urlsplit(backend_url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    lines = ["POST /_upload HTTP/1.1", f"Host: {parts.netloc}", f"Content-Length: {declared}",
             *(f"{k}: {v}" for k, v in head.items())]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + sent)
    await writer.drain()
    try:
        return await asyncio.wait_for(reader.readline(), 10)
    except TimeoutError:
        return b""
    finally:
        writer.close()


def test_nothing_is_read_before_the_caller_is_known_and_the_size_checked(
        db: Session, harness: Any, backend_url: str) -> None:
    alice, ask = _requested(db)
    huge = 4 * 1024**3  # a stranger announces gigabytes and starts sending them
    start = b"--b\r\nContent-Disposition: form-data; name=\"files\"; filename=\"big.bin\"\r\n\r\n" + b"x" * 65536
    head = {"reflex-event-handler": HANDLER, "content-type": "multipart/form-data; boundary=b"}

    async def attack() -> list[bytes]:
        async with ReflexClient(backend_url, cookie=alice) as tab:
            await tab.send(handler_name(DocumentsState.start_upload), {"document_id": ask.id}, path="/documents")
            # A stranger with her tab's token: refused at once, the gigabytes never read
            stranger = await _answer_before_body(backend_url, {**head, "reflex-client-token": tab.token}, huge, start)
            # Alice herself announcing more than any upload may be: refused at once too
            too_big = await _answer_before_body(backend_url, {**head, "reflex-client-token": tab.token,
                                                              "cookie": alice}, request_limit() + 1, start)
            return [stranger, too_big]

    stranger, too_big = run(attack())
    assert stranger.startswith(b"HTTP/1.1 403")
    assert too_big.startswith(b"HTTP/1.1 413")


def test_a_closed_tabs_token_never_reaches_the_log(db: Session, harness: Any, backend_url: str) -> None:
    from reflex.istate.manager.token import BaseStateToken

    from portal.live.push import runtime as live
    from portal.state.session import SessionState

    alice, _ = _requested(db)

    async def open_and_close() -> str:
        async with ReflexClient(backend_url, cookie=alice) as tab:
            await tab.send(handler_name(DocumentsState.load), {}, path="/documents")
            return tab.token

    token = run(open_and_close())

    async def closed() -> bool:
        app: Any = live.app
        return app.event_namespace._token_manager.token_to_socket.get(token) is None

    # The server learns of the close on its own time: wait until it has forgotten the socket
    assert live.loop is not None
    deadline = time.monotonic() + 20
    while not asyncio.run_coroutine_threadsafe(closed(), live.loop).result(timeout=20):
        assert time.monotonic() < deadline, "the server never noticed the tab closed"
        time.sleep(0.05)  # the poll's pace; the wait ends when the server has forgotten it

    async def change_closed_tab() -> None:
        # What a live refresh racing the tab's close does: Reflex then warns about the closed tab
        assert live.app is not None
        async with live.app.modify_state(BaseStateToken(ident=token, cls=SessionState)) as root:
            sess: Any = await root.get_state(SessionState)
            sess.user_name = "Alice (refreshed)"

    seen: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: seen.append(record.getMessage())  # type: ignore[method-assign]
    reflex_log = logging.getLogger("reflex")
    reflex_log.addHandler(handler)
    try:
        assert live.loop is not None
        asyncio.run_coroutine_threadsafe(change_closed_tab(), live.loop).result(timeout=20)
        if os.environ.get("REFLEX_REDIS_URL"):
            # With Redis, Reflex hands a closed tab's delta to the lost-and-found channel and writes
            # no line; its one-process line, as Reflex words it, goes through the same loggers.
            reflex_log.warning(f"Attempting to send delta to disconnected client {token!r}")
    finally:
        reflex_log.removeHandler(handler)
    # The warning is there (positive control), naming the tab only by a digest
    assert any("disconnected client" in m for m in seen), seen
    assert not any(token in m for m in seen)
