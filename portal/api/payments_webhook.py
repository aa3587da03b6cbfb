"""The payment provider's signed webhook: the only way an invoice becomes paid online."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from portal.db import session_scope
from portal.domain import billing
from portal.integrations import payments
from portal.settings import get_settings

log = logging.getLogger(__name__)
MAX_BODY = 64 * 1024


async def payment_webhook(request: Request) -> Response:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        return JSONResponse({"error": "too large"}, status_code=413)
    body = await request.body()
    if len(body) > MAX_BODY:
        return JSONResponse({"error": "too large"}, status_code=413)
    s = get_settings()
    if s.portal_env == "production" and s.payments_webhook_secret == "whsec_sim_development":
        # The development secret is public: in production it verifies nothing.
        return JSONResponse({"error": "payments are not configured"}, status_code=404)
    try:
        # The signature covers the raw bytes: verify before parsing anything.
        payments.verify(body, request.headers.get(payments.SIGNATURE_HEADER), secret=s.payments_webhook_secret,
                        tolerance=s.payments_webhook_tolerance_seconds)
        event = payments.parse_event(body)
    except payments.WebhookError as err:
        log.warning("refused payment webhook: %s", err)
        return JSONResponse({"error": "invalid webhook"}, status_code=400)
    with session_scope() as db:
        outcome = billing.apply_payment_event(db, event=event)
    # 200 for duplicates too: the provider stops retrying, and nothing changed.
    return JSONResponse({"received": True, "outcome": outcome})


routes = [Route("/api/webhooks/payments", payment_webhook, methods=["POST"])]
