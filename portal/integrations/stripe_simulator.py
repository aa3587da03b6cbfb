"""A Stripe stand-in for the demo and the tests, served by the portal under /_simulator/stripe
outside production (loopback clients only).

It answers the subset of Stripe's REST API the adapter uses, in Stripe's shapes and with
Stripe's form encoding, bearer-key authentication, Idempotency-Key replay and error objects, so
the official `stripe` library talks to it unchanged (STRIPE_API_BASE / base_addresses["api"]):

    POST /v1/checkout/sessions (payment, setup)    GET /v1/checkout/sessions/{id}
    POST /v1/payment_intents (saved card, off-session)   GET /v1/payment_intents/{id}
    POST /v1/customers    GET /v1/setup_intents/{id}    GET /v1/payment_methods/{id}
    POST /v1/refunds      GET /v1/refunds/{id}

Its hosted checkout page (/_simulator/stripe/checkout/{id}) lets a tester pick what the bank
does: the payment succeeds, the card is declined, the bank asks for a 3-D Secure challenge (which
the tester completes or fails), or the customer pays by SEPA Direct Debit, which is "processing"
first and succeeds a while later. Then it sends Stripe's events, signed like Stripe's
(`Stripe-Signature: t=...,v1=...`, one v1 per configured secret while they are rotated), to the
portal's /api/webhooks/stripe, retrying until answered 2xx.

Objects live as JSON files under PORTAL_DATA_DIR/stripe-simulator, so every worker process of
one development portal sees the same ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import hmac
import html
import json
import logging
import os
import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import stripe
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from portal.integrations.http_input import BodyTooLarge, read_body
from portal.settings import get_settings

log = logging.getLogger(__name__)

MOUNT = "/_simulator/stripe"
MAX_FORM_BYTES = 16 * 1024
# How long the simulator waits before it confirms: a moment for webhooks, longer for SEPA Direct
# Debit (days at a real bank) and for refunds. Tests change these on the module.
WEBHOOK_DELAY_SECONDS = 0.3
SEPA_SETTLE_SECONDS = 20.0
REFUND_SETTLE_SECONDS = 2.0
_ID = re.compile(r"^[a-z]{2,4}_test_[0-9a-f]{24}$")
_tasks: set[asyncio.Task[Any]] = set()


# -- storage ---------------------------------------------------------------------------------------


def _dir() -> Path:
    path = get_settings().portal_data_dir / "stripe-simulator"
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    """One writer at a time across the portal's worker processes."""
    with open(_dir() / ".lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def load(object_id: str) -> dict[str, Any] | None:
    if not _ID.match(object_id):
        return None
    path = _dir() / f"{object_id}.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def save(obj: dict[str, Any]) -> dict[str, Any]:
    path = _dir() / f"{obj['id']}.json"
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(obj))
    os.replace(tmp, path)
    return obj


def new_id(prefix: str) -> str:
    return f"{prefix}_test_{secrets.token_hex(12)}"


def public(obj: dict[str, Any]) -> dict[str, Any]:
    """What Stripe shows: the simulator's own bookkeeping (keys starting with "_") stays inside."""
    return {k: v for k, v in obj.items() if not k.startswith("_")}


# -- Stripe's wire format ----------------------------------------------------------------------------


def decode_form(body: bytes) -> dict[str, Any]:
    """Stripe's encoding of nested parameters: `a[b][0][c]=v` → {"a": {"b": [{"c": "v"}]}}."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=200):
        parts = re.findall(r"[^\[\]]+", key)
        if not parts:
            continue
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ValueError(key)
        node[parts[-1]] = value
    return _lists(root)


def _lists(node: Any) -> Any:
    if isinstance(node, dict):
        fixed = {k: _lists(v) for k, v in node.items()}
        if fixed and all(k.isdigit() for k in fixed):
            return [fixed[k] for k in sorted(fixed, key=int)]
        return fixed
    return node


def error(status: int, message: str, *, param: str = "", code: str = "",
          kind: str = "invalid_request_error") -> JSONResponse:
    body: dict[str, Any] = {"type": kind, "message": message}
    if param:
        body["param"] = param
    if code:
        body["code"] = code
    return JSONResponse({"error": body}, status_code=status)


def _authorized(request: Request) -> bool:
    auth = request.headers.get("authorization", "")
    key = get_settings().stripe_secret_key
    return auth.startswith("Bearer ") and hmac.compare_digest(auth[7:].encode(), key.encode())


async def _api_call(request: Request, handler: Any) -> Response:
    """Authentication, form decoding and Idempotency-Key replay around one POST endpoint."""
    if not _authorized(request):
        return error(401, "Invalid API Key provided.", kind="invalid_request_error")
    try:
        raw = await read_body(request, MAX_FORM_BYTES)
        params = decode_form(raw)
    except BodyTooLarge:
        return error(413, "Request too large.")
    except ValueError:
        return error(400, "Invalid request parameters.")
    key = request.headers.get("idempotency-key", "")
    if not key:
        return await handler(request, params)
    digest = hashlib.sha256(raw).hexdigest()
    record_id = f"idk_test_{hashlib.sha256(key.encode()).hexdigest()[:24]}"
    with _locked():
        seen = load(record_id)
        if seen is None:
            response = await handler(request, params)
            assert isinstance(response, JSONResponse)
            save({"id": record_id, "_digest": digest, "_status": response.status_code,
                  "_body": json.loads(bytes(response.body))})
            return response
    if seen["_digest"] != digest:
        return error(400, "Keys for idempotent requests can only be used with the same parameters they were first "
                          "used with.", kind="idempotency_error")
    replay = JSONResponse(seen["_body"], status_code=int(seen["_status"]))
    replay.headers["idempotent-replayed"] = "true"
    return replay


def _get(kind: str) -> Any:
    async def endpoint(request: Request) -> Response:
        if not _authorized(request):
            return error(401, "Invalid API Key provided.")
        obj = load(request.path_params["id"])
        if obj is None or obj.get("object") != kind:
            return error(404, f"No such {kind}: '{request.path_params['id'][:60]}'", param="id",
                         code="resource_missing")
        return JSONResponse(public(obj))
    return endpoint


# -- API endpoints -------------------------------------------------------------------------------------


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, str) and value.isdigit() and len(value) < 12 else None


def _webhook_target(request: Request) -> str:
    # Registered in Stripe's dashboard for a real account; here: the portal that made the object.
    return f"{str(request.base_url).rstrip('/')}/api/webhooks/stripe"


async def _create_customer(request: Request, p: dict[str, Any]) -> Response:
    customer = save({"id": new_id("cus"), "object": "customer", "email": p.get("email"), "name": p.get("name"),
                     "metadata": p.get("metadata") if isinstance(p.get("metadata"), dict) else {},
                     "created": int(time.time()), "livemode": False})
    return JSONResponse(public(customer))


def _setup_session(request: Request, p: dict[str, Any]) -> Response:
    customer = load(str(p.get("customer", "")))
    if customer is None or customer.get("object") != "customer":
        return error(400, "No such customer.", param="customer", code="resource_missing")
    if not re.fullmatch(r"[a-z]{3}", str(p.get("currency", ""))):
        return error(400, "currency is required in setup mode.", param="currency")
    now, sid = int(time.time()), new_id("cs")
    intent_data = p.get("setup_intent_data") if isinstance(p.get("setup_intent_data"), dict) else {}
    session = save({
        "id": sid, "object": "checkout.session", "mode": "setup", "livemode": False, "created": now,
        "expires_at": now + 24 * 3600, "status": "open", "payment_status": "no_payment_required",
        "amount_subtotal": None, "amount_total": None, "currency": p["currency"], "customer": customer["id"],
        "client_reference_id": p.get("client_reference_id"),
        "metadata": p.get("metadata") if isinstance(p.get("metadata"), dict) else {}, "setup_intent": None,
        "payment_intent": None, "payment_method_types": ["card"], "success_url": p.get("success_url"),
        "cancel_url": p.get("cancel_url"), "url": f"{str(request.base_url).rstrip('/')}{MOUNT}/checkout/{sid}",
        "_names": ["Save a card"], "_intent_metadata": intent_data.get("metadata", {}) if intent_data else {},
        "_webhook_url": _webhook_target(request),
    })
    return JSONResponse(public(session))


async def _create_session(request: Request, p: dict[str, Any]) -> Response:
    for url in ("success_url", "cancel_url"):
        if not str(p.get(url, "")).startswith(("http://", "https://")):
            return error(400, f"Not a valid URL: {url}", param=url)
    if p.get("mode") == "setup":
        return _setup_session(request, p)
    if p.get("mode") != "payment":
        return error(400, "This simulator supports mode=payment and mode=setup.", param="mode")
    items = p.get("line_items")
    if not isinstance(items, list) or not items:
        return error(400, "Missing required param: line_items.", param="line_items")
    total, currency, names = 0, "", []
    for i, item in enumerate(items):
        price = item.get("price_data") if isinstance(item, dict) else None
        amount = _int(price.get("unit_amount")) if isinstance(price, dict) else None
        quantity = _int(item.get("quantity", "1")) if isinstance(item, dict) else None
        cur = str(price.get("currency", "")).lower() if isinstance(price, dict) else ""
        if amount is None or quantity is None or not re.fullmatch(r"[a-z]{3}", cur) or (currency and cur != currency):
            return error(400, "Invalid line item.", param=f"line_items[{i}]")
        total += amount * quantity
        currency = cur
        product = price.get("product_data") if isinstance(price, dict) else None
        names.append(str(product.get("name", "")) if isinstance(product, dict) else "")
    now = int(time.time())
    sid = new_id("cs")
    base = f"{str(request.base_url).rstrip('/')}{MOUNT}"
    intent_data = p.get("payment_intent_data") if isinstance(p.get("payment_intent_data"), dict) else {}
    session = save({
        "id": sid, "object": "checkout.session", "mode": "payment", "livemode": False, "created": now,
        "expires_at": now + 24 * 3600, "status": "open", "payment_status": "unpaid",
        "amount_subtotal": total, "amount_total": total, "currency": currency,
        "client_reference_id": p.get("client_reference_id"), "customer_email": p.get("customer_email"),
        "metadata": p.get("metadata") if isinstance(p.get("metadata"), dict) else {},
        "payment_intent": None, "payment_method_types": ["card", "sepa_debit"],
        "success_url": p["success_url"], "cancel_url": p["cancel_url"], "url": f"{base}/checkout/{sid}",
        "_names": names, "_intent_metadata": intent_data.get("metadata", {}) if intent_data else {},
        "_webhook_url": _webhook_target(request),
    })
    return JSONResponse(public(session))


async def _create_refund(request: Request, p: dict[str, Any]) -> Response:
    pi = load(str(p.get("payment_intent", "")))
    if pi is None or pi.get("object") != "payment_intent":
        return error(400, "No such payment_intent.", param="payment_intent", code="resource_missing")
    charge = load(str(pi.get("latest_charge") or ""))
    if pi.get("status") != "succeeded" or charge is None:
        return error(400, "This PaymentIntent has no successful charge to refund.", param="payment_intent",
                     code="charge_not_refundable")
    amount = _int(p.get("amount", str(charge["amount"] - charge["amount_refunded"])))
    if amount is None or amount <= 0:
        return error(400, "Invalid positive integer", param="amount")
    if amount > charge["amount"] - charge["amount_refunded"]:
        return error(400, f"Refund amount ({amount}) is greater than unrefunded amount on charge.", param="amount",
                     code="amount_too_large")
    refund = save({
        "id": new_id("re"), "object": "refund", "amount": amount, "currency": charge["currency"],
        "charge": charge["id"], "payment_intent": pi["id"], "created": int(time.time()), "status": "pending",
        "reason": p.get("reason"), "metadata": p.get("metadata") if isinstance(p.get("metadata"), dict) else {},
        "failure_reason": None, "_webhook_url": pi["_webhook_url"],
    })
    # The charge counts the refund at once (as Stripe's does); the refund settles a little later.
    charge["amount_refunded"] += amount
    charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
    charge.setdefault("_refunds", []).append(refund["id"])
    save(charge)
    _later(REFUND_SETTLE_SECONDS, settle_refund, refund["id"])
    return JSONResponse(public(refund))


async def _create_intent(request: Request, p: dict[str, Any]) -> Response:
    """Off-session confirmation of a saved card (what the portal uses PaymentIntents for directly)."""
    pm = load(str(p.get("payment_method", "")))
    amount = _int(p.get("amount"))
    if pm is None or pm.get("object") != "payment_method":
        return error(400, "No such PaymentMethod.", param="payment_method", code="resource_missing")
    if pm.get("customer") != p.get("customer"):
        return error(400, "The PaymentMethod does not belong to this customer.", param="customer")
    if amount is None or amount < 50 or not re.fullmatch(r"[a-z]{3}", str(p.get("currency", ""))):
        return error(400, "Invalid amount or currency.", param="amount")
    if p.get("off_session") != "true" or p.get("confirm") != "true":
        return error(400, "This simulator supports off_session=true with confirm=true only.", param="confirm")
    pi: dict[str, Any] = {
        "id": new_id("pi"), "object": "payment_intent", "amount": amount, "amount_received": 0,
        "currency": p["currency"], "status": "requires_payment_method", "created": int(time.time()), "livemode": False,
        "customer": pm["customer"], "metadata": p.get("metadata") if isinstance(p.get("metadata"), dict) else {},
        "latest_charge": None, "payment_method": pm["id"], "last_payment_error": None,
        "payment_method_types": ["card"], "_webhook_url": _webhook_target(request), "_session": None}
    last4 = (pm.get("card") or {}).get("last4")
    failure = {"3184": {**AUTH_REQUIRED}, "0002": {**DECLINED}}.get(str(last4))
    if failure:
        pi["last_payment_error"] = {**failure, "type": "card_error", "payment_method": public(pm)}
        save(pi)
        _later(WEBHOOK_DELAY_SECONDS, send, pi["_webhook_url"], [event("payment_intent.payment_failed", pi)])
        body = {"error": {**failure, "type": "card_error", "payment_intent": public(pi)}}
        return JSONResponse(body, status_code=402)
    _succeed(pi)
    save(pi)
    _later(WEBHOOK_DELAY_SECONDS, send, pi["_webhook_url"], [event("payment_intent.succeeded", pi)])
    return JSONResponse(public(pi))


def settle_refund(refund_id: str) -> None:
    with _locked():
        refund = load(refund_id)
        if refund is None or refund["status"] != "pending":
            return
        refund["status"] = "succeeded"
        save(refund)
        charge = load(refund["charge"])
    if charge is not None:
        send(refund["_webhook_url"], [event("refund.updated", refund), event("charge.refunded", charge_view(charge))])


def charge_view(charge: dict[str, Any]) -> dict[str, Any]:
    refunds = [public(r) for r in (load(rid) for rid in charge.get("_refunds", [])) if r]
    return {**public(charge), "refunds": {"object": "list", "data": refunds, "has_more": False,
                                          "url": f"/v1/charges/{charge['id']}/refunds"}}


# -- events ------------------------------------------------------------------------------------------


def event(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    return {"id": new_id("evt"), "object": "event", "api_version": stripe.api_version, "created": int(time.time()),
            "data": {"object": public(obj)}, "livemode": False, "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None}, "type": kind}


def signature(body: bytes, *, timestamp: int | None = None, secrets_: list[str] | None = None) -> str:
    """Stripe's header: one v1 per active endpoint secret (two while a secret is rolled)."""
    ts = int(time.time()) if timestamp is None else timestamp
    keys = get_settings().stripe_webhook_secrets if secrets_ is None else secrets_
    macs = [hmac.new(k.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest() for k in keys]
    return ",".join([f"t={ts}", *(f"v1={m}" for m in macs)])


def send(url: str, events: list[dict[str, Any]], *, attempts: int = 5) -> bool:
    """Deliver events one by one, each retried with backoff until the endpoint answers 2xx."""
    delivered = True
    with httpx.Client(timeout=httpx.Timeout(10.0)) as client:
        for ev in events:
            body = json.dumps(ev, separators=(",", ":")).encode()
            for attempt in range(attempts):
                headers = {"content-type": "application/json; charset=utf-8", "Stripe-Signature": signature(body),
                           "user-agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)"}
                try:
                    if client.post(url, content=body, headers=headers).status_code < 300:
                        break
                except httpx.HTTPError:
                    log.warning("stripe simulator: delivery of %s failed", ev["type"], exc_info=True)
                time.sleep(0.5 * 2**attempt)
            else:
                delivered = False
    return delivered


def _later(delay: float, fn: Any, *args: Any) -> None:
    async def run() -> None:
        await asyncio.sleep(delay)
        await asyncio.to_thread(fn, *args)

    task = asyncio.get_running_loop().create_task(run())
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


# -- the hosted checkout page ------------------------------------------------------------------------

CARDS = {"success": ("visa", "4242"), "3ds": ("visa", "3184"), "decline": ("visa", "0002")}
DECLINED = {"code": "card_declined", "decline_code": "generic_decline", "message": "Your card was declined."}
AUTH_REQUIRED = {"code": "authentication_required", "decline_code": "authentication_required",
                 "message": "Your card was declined. This transaction requires authentication."}
AUTH_FAILED = {"code": "payment_intent_authentication_failure",
               "message": "We are unable to authenticate your payment method. Please choose a different payment "
                          "method and try again."}


def _page(session: dict[str, Any], *, error_text: str = "", challenge: bool = False) -> str:
    amount = f"{(session['amount_total'] or 0) / 100:,.2f} {html.escape(session['currency'].upper())}"
    title = html.escape(", ".join(n for n in session.get("_names", []) if n) or "Payment")
    action = f"{MOUNT}/checkout/{session['id']}"
    err = f'<p role="alert" class="err" data-testid="stripe-error">{html.escape(error_text)}</p>' if error_text else ""
    if session["mode"] == "setup":
        body = f"""{err}<form method="post" action="{action}"><fieldset><legend>Save a card (test mode)</legend>
<button name="outcome" value="save" id="save-card">Visa •••• 4242</button>
<button name="outcome" value="save-3ds" id="save-card-3ds" class="alt">Visa •••• 3184: the bank asks for 3-D Secure
when charged later</button></fieldset></form>
<p><a href="{html.escape(session['cancel_url'])}" id="cancel">← Back (cancel)</a></p>"""
    elif challenge:
        body = f"""<h2>3-D Secure authentication</h2><p>Your bank asks you to confirm this payment of {amount}.</p>
<form method="post" action="{action}/3ds"><button name="result" value="complete" id="complete-3ds">Complete
authentication</button><button name="result" value="fail" id="fail-3ds" class="alt">Fail authentication</button>
</form>"""
    else:
        body = f"""{err}<form method="post" action="{action}">
<fieldset><legend>Card (test mode: choose what the bank does)</legend>
<button name="outcome" value="success" id="pay-success">Pay {amount}: Visa •••• 4242, succeeds</button>
<button name="outcome" value="decline" id="pay-decline" class="alt">Visa •••• 0002: declined</button>
<button name="outcome" value="3ds" id="pay-3ds" class="alt">Visa •••• 3184: 3-D Secure required</button>
</fieldset><fieldset><legend>SEPA Direct Debit</legend>
<button name="outcome" value="sepa" id="pay-sepa" class="alt">DE89 3704 0044 0532 0130 00: processing, then succeeds
</button></fieldset></form>
<p><a href="{html.escape(session['cancel_url'])}" id="cancel">← Back (cancel)</a></p>"""
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Pay {amount}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;background:#f6f9fc;margin:0;padding:2rem}}
main{{max-width:28rem;margin:auto;background:#fff;border-radius:10px;padding:1.5rem;box-shadow:0 1px 4px #0002}}
button{{display:block;margin:.5rem 0;width:100%;padding:.7rem;background:#635bff;color:#fff;border:0;
border-radius:6px;font-size:1rem;text-align:left}}button.alt{{background:#fff;color:#30313d;border:1px solid #ccd}}
fieldset{{border:0;padding:0;margin:1rem 0}}.err{{color:#b00020}}.muted{{color:#667;font-size:.85rem}}</style>
</head><body><main><p class="muted">Stripe simulator (test mode) · {session['id']}</p>
<h1 style="font-size:1.3rem">{title}</h1><p data-testid="stripe-amount">Amount: <strong>{amount}</strong></p>
{body}</main></body></html>"""


def _open_session(request: Request) -> dict[str, Any] | None:
    session = load(request.path_params["id"])
    return session if session and session.get("object") == "checkout.session" else None


async def checkout_page(request: Request) -> Response:
    session = _open_session(request)
    if session is None:
        return HTMLResponse("<h1>Unknown checkout session</h1>", status_code=404)
    if session["status"] != "open":
        return RedirectResponse(session["success_url"], status_code=303)
    return HTMLResponse(_page(session))


async def _form(request: Request) -> dict[str, str]:
    try:
        return dict(parse_qsl((await read_body(request, 1024)).decode("utf-8", "replace"), max_num_fields=5))
    except (BodyTooLarge, ValueError):
        return {}


def _intent(session: dict[str, Any]) -> dict[str, Any]:
    """The session's PaymentIntent, made on the first attempt (as Checkout does) and kept for retries."""
    pi = load(session["payment_intent"]) if session.get("payment_intent") else None
    if pi is None:
        pi = {"id": new_id("pi"), "object": "payment_intent", "amount": session["amount_total"], "amount_received": 0,
              "currency": session["currency"], "status": "requires_payment_method", "created": int(time.time()),
              "livemode": False, "metadata": session["_intent_metadata"], "latest_charge": None,
              "payment_method": None, "last_payment_error": None, "payment_method_types": ["card", "sepa_debit"],
              "_webhook_url": session["_webhook_url"], "_session": session["id"]}
        session["payment_intent"] = pi["id"]
    return pi


def _method(kind: str, last4: str, brand: str = "visa") -> dict[str, Any]:
    pm: dict[str, Any] = {"id": new_id("pm"), "object": "payment_method", "type": kind, "created": int(time.time()),
                          "livemode": False, "billing_details": {"email": None, "name": None}}
    if kind == "card":
        pm["card"] = {"brand": brand, "last4": last4, "exp_month": 12, "exp_year": time.gmtime().tm_year + 3,
                      "country": "US", "funding": "credit"}
    else:
        pm["sepa_debit"] = {"last4": last4, "bank_code": "37040044", "country": "DE"}
    return save(pm)


def _save_card(session: dict[str, Any], last4: str) -> list[dict[str, Any]]:
    pm = _method("card", last4)
    pm["customer"] = session["customer"]
    save(pm)
    seti = save({"id": new_id("seti"), "object": "setup_intent", "status": "succeeded", "usage": "off_session",
                 "customer": session["customer"], "payment_method": pm["id"], "created": int(time.time()),
                 "livemode": False, "metadata": session["_intent_metadata"], "payment_method_types": ["card"]})
    session.update(status="complete", setup_intent=seti["id"])
    save(session)
    return [event("setup_intent.succeeded", seti), event("checkout.session.completed", session)]


def _succeed(pi: dict[str, Any]) -> dict[str, Any]:
    charge = save({"id": new_id("ch"), "object": "charge", "amount": pi["amount"], "amount_captured": pi["amount"],
                   "amount_refunded": 0, "refunded": False, "captured": True, "paid": True, "status": "succeeded",
                   "currency": pi["currency"], "payment_intent": pi["id"], "payment_method": pi["payment_method"],
                   "created": int(time.time()), "livemode": False})
    pi.update(status="succeeded", amount_received=pi["amount"], latest_charge=charge["id"], last_payment_error=None)
    return charge


def _fail(session: dict[str, Any], pi: dict[str, Any], pm: dict[str, Any], err: dict[str, Any]) -> list[dict]:
    pi.update(status="requires_payment_method", payment_method=None,
              last_payment_error={**err, "type": "card_error", "payment_method": public(pm)})
    save(pi)
    save(session)
    return [event("payment_intent.payment_failed", pi)]


def _complete(session: dict[str, Any], pi: dict[str, Any], *, paid: bool) -> list[dict[str, Any]]:
    session.update(status="complete", payment_status="paid" if paid else "unpaid")
    save(pi)
    save(session)
    first = event("payment_intent.succeeded" if paid else "payment_intent.processing", pi)
    return [first, event("checkout.session.completed", session)]


async def checkout_submit(request: Request) -> Response:
    form = await _form(request)
    outcome = form.get("outcome", "")
    with _locked():
        session = _open_session(request)
        if session is None or session["status"] != "open":
            return HTMLResponse("<h1>This checkout session is no longer open</h1>", status_code=409)
        if session["mode"] == "setup":
            if outcome not in ("save", "save-3ds"):
                return HTMLResponse(_page(session, error_text="Choose a card."), status_code=400)
            events = _save_card(session, "3184" if outcome == "save-3ds" else "4242")
            _later(WEBHOOK_DELAY_SECONDS, send, session["_webhook_url"], events)
            return RedirectResponse(session["success_url"], status_code=303)
        pi = _intent(session)
        if outcome in ("success", "decline", "3ds"):
            brand, last4 = CARDS[outcome]
            pm = _method("card", last4, brand)
            pi["payment_method"] = pm["id"]
            if outcome == "decline":
                events = _fail(session, pi, pm, DECLINED)
            elif outcome == "3ds":
                pi.update(status="requires_action", next_action={"type": "use_stripe_sdk"})
                save(pi)
                save(session)
                return HTMLResponse(_page(session, challenge=True))
            else:
                _succeed(pi)
                events = _complete(session, pi, paid=True)
        elif outcome == "sepa":
            pm = _method("sepa_debit", "3000")
            pi.update(payment_method=pm["id"], status="processing")
            events = _complete(session, pi, paid=False)
            _later(SEPA_SETTLE_SECONDS, settle_sepa, pi["id"])
        else:
            return HTMLResponse(_page(session, error_text="Choose how to pay."), status_code=400)
    _later(WEBHOOK_DELAY_SECONDS, send, session["_webhook_url"], events)
    if pi["status"] == "requires_payment_method":
        return HTMLResponse(_page(session, error_text=DECLINED["message"]), status_code=402)
    return RedirectResponse(session["success_url"], status_code=303)


async def challenge_submit(request: Request) -> Response:
    form = await _form(request)
    with _locked():
        session = _open_session(request)
        pi = load(session["payment_intent"]) if session and session.get("payment_intent") else None
        if session is None or pi is None or pi["status"] != "requires_action":
            return HTMLResponse("<h1>No authentication is waiting</h1>", status_code=409)
        pi.pop("next_action", None)
        pm = load(pi["payment_method"]) or _method("card", "3184")
        if form.get("result") == "complete":
            _succeed(pi)
            events = _complete(session, pi, paid=True)
        else:
            events = _fail(session, pi, pm, AUTH_FAILED)
    _later(WEBHOOK_DELAY_SECONDS, send, session["_webhook_url"], events)
    if pi["status"] != "succeeded":
        return HTMLResponse(_page(session, error_text=AUTH_FAILED["message"]), status_code=402)
    return RedirectResponse(session["success_url"], status_code=303)


def settle_sepa(pi_id: str) -> bool:
    """The bank confirms the debit: the PaymentIntent succeeds and Checkout says so too."""
    with _locked():
        pi = load(pi_id)
        if pi is None or pi["status"] != "processing":
            return False
        _succeed(pi)
        save(pi)
        session = load(pi["_session"])
        if session is not None:
            session["payment_status"] = "paid"
            save(session)
    events = [event("payment_intent.succeeded", pi)]
    if session is not None:
        events.append(event("checkout.session.async_payment_succeeded", session))
    return send(pi["_webhook_url"], events)


async def create_session(request: Request) -> Response:
    return await _api_call(request, _create_session)


async def create_refund(request: Request) -> Response:
    return await _api_call(request, _create_refund)


async def create_customer(request: Request) -> Response:
    return await _api_call(request, _create_customer)


async def create_intent(request: Request) -> Response:
    return await _api_call(request, _create_intent)


routes = [
    Route(f"{MOUNT}/v1/checkout/sessions", create_session, methods=["POST"]),
    Route(f"{MOUNT}/v1/checkout/sessions/{{id:str}}", _get("checkout.session"), methods=["GET"]),
    Route(f"{MOUNT}/v1/payment_intents", create_intent, methods=["POST"]),
    Route(f"{MOUNT}/v1/payment_intents/{{id:str}}", _get("payment_intent"), methods=["GET"]),
    Route(f"{MOUNT}/v1/customers", create_customer, methods=["POST"]),
    Route(f"{MOUNT}/v1/setup_intents/{{id:str}}", _get("setup_intent"), methods=["GET"]),
    Route(f"{MOUNT}/v1/payment_methods/{{id:str}}", _get("payment_method"), methods=["GET"]),
    Route(f"{MOUNT}/v1/refunds", create_refund, methods=["POST"]),
    Route(f"{MOUNT}/v1/refunds/{{id:str}}", _get("refund"), methods=["GET"]),
    Route(f"{MOUNT}/checkout/{{id:str}}", checkout_page, methods=["GET"]),
    Route(f"{MOUNT}/checkout/{{id:str}}", checkout_submit, methods=["POST"]),
    Route(f"{MOUNT}/checkout/{{id:str}}/3ds", challenge_submit, methods=["POST"]),
]
