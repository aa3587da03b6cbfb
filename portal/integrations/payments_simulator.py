"""A card processor for the demo and the tests, served by the portal outside production.

It behaves like a hosted checkout: the portal sends the customer to /_simulator/pay/<session>,
the customer types a card there (the portal never sees it), and the simulator answers the
portal with a signed webhook a moment later, as a real processor would, then sends the
customer back. Test cards:

    4242 4242 4242 4242  Visa, succeeds          5555 5555 5555 4444  Mastercard, succeeds
    4000 0000 0000 0002  declined (card_declined)
    4000 0000 0000 9995  declined (insufficient_funds)
"""

from __future__ import annotations

import asyncio
import html
import logging
import secrets
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from portal.integrations.http_input import BodyTooLarge, read_body
from portal.integrations.payments import CardDetails, PaymentEvent, event_body, sign, unseal
from portal.settings import get_settings

log = logging.getLogger(__name__)

SUCCESS_CARDS = {"4242424242424242": "visa", "5555555555554444": "mastercard"}
DECLINE_CARDS = {
    "4000000000000002": ("card_declined", "Your card was declined."),
    "4000000000009995": ("insufficient_funds", "Your card has insufficient funds."),
}
WEBHOOK_DELAY_SECONDS = 0.5
# The hosted page's form is four short fields.
MAX_FORM_BYTES = 4096
_tasks: set[asyncio.Task[Any]] = set()


def luhn_ok(number: str) -> bool:
    digits = [int(d) for d in number]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return len(digits) >= 12 and total % 10 == 0


def _page(session: dict[str, Any], token: str, error: str = "", card: str = "", exp: str = "", name: str = "") -> str:
    setup = session.get("mode") == "setup"
    amount = f"{session['amount'] / 100:,.2f} {html.escape(str(session['currency']))}"
    action = "Save card" if setup else f"Pay {amount}"
    err = f'<p role="alert" class="err" data-testid="sim-error">{html.escape(error)}</p>' if error else ""
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{action}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;background:#f4f6f8;margin:0;padding:2rem}}
main{{max-width:26rem;margin:auto;background:#fff;border-radius:10px;padding:1.5rem;box-shadow:0 1px 4px #0002}}
label{{display:block;margin:.8rem 0 .2rem;font-size:.9rem}}
input{{width:100%;padding:.5rem;font-size:1rem;box-sizing:border-box}}
button{{margin-top:1.2rem;width:100%;padding:.7rem;background:#635bff;color:#fff;border:0;border-radius:6px;font-size:1rem}}
.err{{color:#b00020}}.muted{{color:#667;font-size:.85rem}}</style></head><body><main>
<p class="muted">Card payment simulator (test mode)</p>
<h1 style="font-size:1.3rem">{html.escape(str(session['description']))}</h1>
{"" if setup else f'<p data-testid="sim-amount">Amount: <strong>{amount}</strong></p>'}{err}
<form method="post" action="/_simulator/pay/{html.escape(token)}">
<label for="card">Card number</label><input id="card" name="card" inputmode="numeric" autocomplete="off"
 value="{html.escape(card)}" placeholder="4242 4242 4242 4242" required>
<label for="exp">Expiry (MM/YY)</label>
<input id="exp" name="exp" value="{html.escape(exp)}" placeholder="12/30" required>
<label for="cvc">CVC</label><input id="cvc" name="cvc" inputmode="numeric" placeholder="123" required>
<label for="name">Name on card</label><input id="name" name="name" value="{html.escape(name)}">
<button type="submit" id="pay">{action}</button></form>
<p class="muted">Test cards: 4242 4242 4242 4242 succeeds; 4000 0000 0000 0002 is declined.</p>
<p><a href="{html.escape(with_query(str(session['return_url']), checkout="cancelled"))}" id="cancel">Cancel and go
back</a></p>
</main></body></html>"""


def with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = "&".join(p for p in (parts.query, urlencode(params)) if p)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def _session(token: str) -> dict[str, Any] | None:
    data = unseal(token, get_settings().payments_api_key)
    if data is None or not {"id", "amount", "currency", "reference", "return_url"} <= data.keys():
        return None
    return data


async def pay_page(request: Request) -> Response:
    token = request.path_params["token"]
    session = _session(token)
    if session is None:
        return HTMLResponse("<h1>Unknown checkout session</h1>", status_code=404)
    return HTMLResponse(_page(session, token))


def _parse_expiry(text: str) -> tuple[int, int] | None:
    month_s, _, year_s = text.strip().partition("/")
    if not (month_s.strip().isdigit() and year_s.strip().isdigit()):
        return None
    month, year = int(month_s), int(year_s)
    year = year + 2000 if year < 100 else year
    return (month, year) if 1 <= month <= 12 else None


async def pay_submit(request: Request) -> Response:
    token = request.path_params["token"]
    session = _session(token)
    if session is None:
        return HTMLResponse("<h1>Unknown checkout session</h1>", status_code=404)
    try:
        form = dict(parse_qsl((await read_body(request, MAX_FORM_BYTES)).decode("utf-8", "replace"),
                              max_num_fields=20))
    except BodyTooLarge as exc:
        return HTMLResponse(f"<h1>{html.escape(str(exc))}</h1>", status_code=413)
    except ValueError:
        return HTMLResponse("<h1>Too many form fields</h1>", status_code=400)
    card = "".join(ch for ch in str(form.get("card", "")) if ch.isdigit())[:19]
    exp_text = str(form.get("exp", ""))[:7]
    cvc = str(form.get("cvc", "")).strip()
    name = str(form.get("name", ""))[:100]

    def again(error: str) -> Response:
        return HTMLResponse(_page(session, token, error, str(form.get("card", ""))[:23], exp_text, name),
                            status_code=402)

    if not luhn_ok(card):
        return again("Your card number is invalid.")
    expiry = _parse_expiry(exp_text)
    now = time.gmtime()
    if expiry is None:
        return again("Enter the expiry date as MM/YY.")
    if (expiry[1], expiry[0]) < (now.tm_year, now.tm_mon):
        return again("Your card has expired.")
    if not (cvc.isdigit() and len(cvc) in (3, 4)):
        return again("Your card's security code is invalid.")
    if card not in SUCCESS_CARDS and card not in DECLINE_CARDS:
        return again("This is a test-mode simulator: use one of the test cards.")

    brand = SUCCESS_CARDS.get(card, "visa")
    failure = DECLINE_CARDS.get(card)
    kind = "setup" if session.get("mode") == "setup" else "checkout"
    event = PaymentEvent(
        id=f"evt_sim_{secrets.token_hex(12)}", type=f"{kind}.failed" if failure else f"{kind}.succeeded",
        created=int(time.time()), session_id=str(session["id"]), reference=str(session["reference"]),
        amount_cents=int(session["amount"]), currency=str(session["currency"]),
        card=CardDetails(brand=brand, last4=card[-4:], exp_month=expiry[0], exp_year=expiry[1]),
        failure_code=failure[0] if failure else "", failure_message=failure[1] if failure else "",
        # Tokenization: the card number stays here; the portal gets a token for it.
        payment_method="" if failure else f"pm_sim_{secrets.token_hex(12)}",
    )
    url = get_settings().payments_webhook_url or f"{str(request.base_url).rstrip('/')}/api/webhooks/payments"
    task = asyncio.get_running_loop().create_task(deliver_webhook(url, event))
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)
    return RedirectResponse(with_query(str(session["return_url"]), checkout="done"), status_code=303)


async def deliver_webhook(url: str, event: PaymentEvent, *, delay: float | None = None, attempts: int = 4) -> bool:
    """Like a processor: a moment after the payment, then retried with backoff until answered 2xx."""
    body = event_body(event)
    secret = get_settings().payments_webhook_secret
    await asyncio.sleep(WEBHOOK_DELAY_SECONDS if delay is None else delay)
    async with httpx.AsyncClient(timeout=httpx.Timeout(10.0)) as client:
        for attempt in range(attempts):
            headers = {"content-type": "application/json", "Sim-Signature": sign(body, secret=secret)}
            try:
                resp = await client.post(url, content=body, headers=headers)
                if resp.status_code < 300:
                    return True
                log.warning("payment webhook answered %s", resp.status_code)
            except httpx.HTTPError:
                log.warning("payment webhook delivery failed", exc_info=True)
            await asyncio.sleep(0.5 * 2**attempt)
    return False


routes = [
    Route("/_simulator/pay/{token:str}", pay_page, methods=["GET"]),
    Route("/_simulator/pay/{token:str}", pay_submit, methods=["POST"]),
]
