"""The payment providers' signed webhooks: the only way an invoice becomes paid online.

/api/webhooks/payments is the bundled card simulator's; /api/webhooks/stripe is Stripe's (and the
Stripe simulator's): register it in Stripe's dashboard with the events in
portal.domain.stripe_payments.EVENT_TYPES.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from portal import metrics
from portal.api.common import request_info
from portal.db import session_scope
from portal.domain import billing, stripe_payments, throttle
from portal.integrations import payments, stripe_provider
from portal.integrations.http_input import BodyTooLarge, read_body
from portal.settings import get_settings

log = logging.getLogger(__name__)
MAX_BODY = 64 * 1024


def _apply(event: payments.PaymentEvent) -> str:
    with session_scope() as db:
        return billing.apply_payment_event(db, event=event)


async def payment_webhook(request: Request) -> Response:
    try:
        body = await read_body(request, MAX_BODY)
    except BodyTooLarge as exc:
        return JSONResponse({"error": "too large", "detail": str(exc)}, status_code=413)
    s = get_settings()
    if not s.accepts_development_secret(s.payments_webhook_secret):
        # The development secret is public: outside development on loopback it verifies nothing.
        return JSONResponse({"error": "payments are not configured"}, status_code=404)
    try:
        # The signature covers the raw bytes: verify before parsing anything.
        payments.verify(body, request.headers.get(payments.SIGNATURE_HEADER), secret=s.payments_webhook_secret,
                        tolerance=s.payments_webhook_tolerance_seconds)
        event = payments.parse_event(body)
    except payments.WebhookError as err:
        log.warning("refused payment webhook: %s", err)
        return JSONResponse({"error": "invalid webhook"}, status_code=400)
    outcome = await run_in_threadpool(_apply, event)
    # 200 for duplicates too: the provider stops retrying, and nothing changed.
    return JSONResponse({"received": True, "outcome": outcome})


def _apply_stripe(event: dict[str, Any], base_url: str) -> str:
    method, saved = None, None
    obj = event["data"]["object"]
    pm, seti = obj.get("payment_method"), obj.get("setup_intent")
    # What paid (brand, last four) or which card was saved, asked of Stripe before any transaction is open.
    try:
        if event["type"].startswith("payment_intent.") and isinstance(pm, str) and pm:
            method = billing.stripe_provider(base_url).describe_payment_method(pm)
        elif event["type"] == "checkout.session.completed" and obj.get("mode") == "setup" and isinstance(seti, str):
            saved = billing.stripe_provider(base_url).saved_method(seti)
    except billing.DomainError:
        pass
    try:
        with session_scope() as db:
            return stripe_payments.apply_event(db, event=event, method=method, saved=saved)
    except IntegrityError:
        # This event id is already applied (a retry, or a copy delivered at the same moment).
        return "duplicate"


# Deliveries failing the signature check, per address: Stripe's own never fail (unless misconfigured,
# which blocks nothing that would have been accepted); someone guessing the secret is slowed down.
WEBHOOK_GUESSES = throttle.Rule(free_failures=30, window=timedelta(minutes=15), first_block=timedelta(minutes=1),
                                max_block=timedelta(minutes=15))


def _blocked(ip: str) -> bool:
    with session_scope() as db:
        return throttle.is_blocked(db, throttle.address_key(ip))


def _refused(reason: str, request: Request) -> None:
    info = request_info(request)
    throttle.failed_check(throttles=((throttle.address_key(info.ip_address), WEBHOOK_GUESSES),),
                          action="billing.webhook_refused", request=info, target_type="webhook", target_id="stripe",
                          reason=reason[:120])


async def stripe_webhook(request: Request) -> Response:
    try:
        body = await read_body(request, MAX_BODY)
    except BodyTooLarge as exc:
        return JSONResponse({"error": "too large", "detail": str(exc)}, status_code=413)
    s = get_settings()
    secrets = s.stripe_webhook_secrets
    if s.payments_provider != "stripe" or not secrets:
        return JSONResponse({"error": "payments are not configured"}, status_code=404)
    if await run_in_threadpool(_blocked, request_info(request).ip_address):
        return JSONResponse({"error": "too many invalid webhooks"}, status_code=429)
    try:
        # The signature covers the raw bytes: verify before parsing anything.
        event = stripe_provider.verify_event(body, request.headers.get(stripe_provider.SIGNATURE_HEADER),
                                             secrets=secrets, tolerance=s.payments_webhook_tolerance_seconds)
    except payments.WebhookError as err:
        log.warning("refused Stripe webhook: %s", err)
        await run_in_threadpool(_refused, str(err), request)
        return JSONResponse({"error": "invalid webhook"}, status_code=400)
    outcome = await run_in_threadpool(_apply_stripe, event, str(request.base_url))
    # 200 for duplicates and types we do not use: Stripe stops retrying, and nothing changed.
    return JSONResponse({"received": True, "outcome": outcome})


routes = [Route("/api/webhooks/payments", metrics.counted_webhook("payments")(payment_webhook), methods=["POST"]),
          Route("/api/webhooks/stripe", metrics.counted_webhook("stripe")(stripe_webhook), methods=["POST"])]
