"""Carrier webhooks (AfterShip Tracking): signature on the raw body first, then store once and apply.

An unsigned or wrongly signed request gets 401 and changes nothing; a body that is not a
tracking webhook gets 400. Anything else is acknowledged with 200 once stored, including
duplicates and retries (they change nothing), so the carrier stops retrying.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from portal import metrics
from portal.db import session_scope
from portal.domain import tracking
from portal.integrations import aftership
from portal.integrations.http_input import BodyTooLarge, read_body
from portal.settings import get_settings

log = logging.getLogger(__name__)
MAX_BODY = 1_000_000
PATH = "/api/carrier/webhooks/aftership"


def _secret() -> str:
    s = get_settings()
    # The development secret is public: only development on loopback accepts a webhook signed with it.
    if not s.accepts_development_secret(s.aftership_webhook_secret):
        return ""
    return s.aftership_webhook_secret


def _apply(event: aftership.WebhookEvent) -> str:
    try:
        with session_scope() as db:
            return tracking.record_webhook(db, event_id=event.event_id, tracking=event.tracking).outcome
    except IntegrityError:
        # The same event was stored by a concurrent delivery a moment ago.
        return "duplicate"


async def aftership_webhook(request: Request) -> Response:
    try:
        body = await read_body(request, MAX_BODY)
    except BodyTooLarge as exc:
        return JSONResponse({"error": "too large", "detail": str(exc)}, status_code=413)
    # The signature covers the exact bytes received, so it is checked before any parsing.
    if not aftership.verify_signature(body, request.headers.get(aftership.SIGNATURE_HEADER), _secret()):
        log.warning("refused a carrier webhook with a missing or wrong signature")
        return JSONResponse({"error": "invalid signature"}, status_code=401)
    try:
        event = aftership.parse_webhook(body)
    except aftership.MalformedPayload as exc:
        return JSONResponse({"error": "malformed", "detail": str(exc)[:200]}, status_code=400)
    outcome = await asyncio.to_thread(_apply, event)
    return JSONResponse({"event_id": event.event_id, "outcome": outcome})


routes = [Route(PATH, metrics.counted_webhook("aftership")(aftership_webhook), methods=["POST"])]
