"""Payment-provider adapter: hosted checkout sessions and signed webhooks.

The shipped provider is the card-processor simulator (portal.integrations.payments_simulator),
used by the demo and the tests. Its scheme follows the big processors: the portal creates a
checkout session, the customer pays on the provider's hosted page (card data never reaches the
portal), and the provider confirms the result with a webhook signed with HMAC-SHA256 over
"<timestamp>.<raw body>", sent in the `Sim-Signature: t=<unix>,v1=<hex>` header.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import secrets
import time
from typing import Any, Protocol

from portal.integrations.http_input import parse_json

SIGNATURE_HEADER = "Sim-Signature"


class WebhookError(Exception):
    """The webhook is not signed by the provider, too old, or not one we understand."""


@dataclasses.dataclass(frozen=True, slots=True)
class CheckoutSession:
    id: str
    url: str


@dataclasses.dataclass(frozen=True, slots=True)
class CardDetails:
    brand: str
    last4: str
    exp_month: int
    exp_year: int


@dataclasses.dataclass(frozen=True, slots=True)
class PaymentEvent:
    """A provider's confirmation of what happened to a checkout session."""

    id: str
    type: str  # "checkout.succeeded", "checkout.failed", "setup.succeeded" or "setup.failed"
    created: int
    session_id: str
    reference: str
    amount_cents: int
    currency: str
    card: CardDetails | None
    failure_code: str = ""
    failure_message: str = ""
    payment_method: str = ""  # the provider's token of a saved card (setup events)

    @property
    def succeeded(self) -> bool:
        return self.type in ("checkout.succeeded", "setup.succeeded")

    @property
    def is_setup(self) -> bool:
        return self.type.startswith("setup.")


class PaymentProvider(Protocol):
    name: str

    def create_checkout(self, *, amount_cents: int, currency: str, reference: str, description: str,
                        return_url: str) -> CheckoutSession: ...

    def create_card_setup(self, *, reference: str, return_url: str) -> CheckoutSession: ...


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def seal(payload: dict[str, Any], key: str) -> str:
    """A tamper-proof token carrying the payload (the simulator keeps no server-side sessions)."""
    body = _b64(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode())
    mac = hmac.new(key.encode(), body.encode(), hashlib.sha256).digest()
    return f"{body}.{_b64(mac)}"


def unseal(token: str, key: str) -> dict[str, Any] | None:
    body, _, mac = token.partition(".")
    if not body or not mac or len(token) > 4000:
        return None
    expected = _b64(hmac.new(key.encode(), body.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(expected, mac):
        return None
    try:
        data = json.loads(_unb64(body))
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


class SimulatorProvider:
    """The simulator's API, spoken in process: a checkout session is a sealed token in its URL."""

    name = "simulator"

    def __init__(self, *, base_url: str, api_key: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key

    def create_checkout(self, *, amount_cents: int, currency: str, reference: str, description: str,
                        return_url: str) -> CheckoutSession:
        session_id = f"cs_sim_{secrets.token_hex(12)}"
        token = seal({"id": session_id, "amount": amount_cents, "currency": currency, "reference": reference,
                      "description": description[:200], "return_url": return_url}, self.api_key)
        return CheckoutSession(id=session_id, url=f"{self.base_url}/_simulator/pay/{token}")

    def create_card_setup(self, *, reference: str, return_url: str) -> CheckoutSession:
        """A hosted page that tokenizes a card: the portal later receives only the token and the
        card's brand, last four digits and expiry."""
        session_id = f"seti_sim_{secrets.token_hex(12)}"
        token = seal({"id": session_id, "mode": "setup", "amount": 0, "currency": "EUR", "reference": reference,
                      "description": "Save a card", "return_url": return_url}, self.api_key)
        return CheckoutSession(id=session_id, url=f"{self.base_url}/_simulator/pay/{token}")


def sign(body: bytes, *, secret: str, timestamp: int | None = None) -> str:
    ts = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


def verify(body: bytes, header: str | None, *, secret: str, tolerance: int, now: int | None = None) -> None:
    """Raise WebhookError unless the header carries a valid, fresh signature of exactly this body."""
    if not header or len(header) > 1000:
        raise WebhookError("missing signature")
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        parts.setdefault(key, []).append(value)
    try:
        ts = int(parts.get("t", [""])[0])
    except ValueError as err:
        raise WebhookError("bad timestamp") from err
    current = int(time.time()) if now is None else now
    # An old (replayed) delivery is refused even with a valid signature.
    if abs(current - ts) > tolerance:
        raise WebhookError("timestamp outside tolerance")
    expected = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, candidate) for candidate in parts.get("v1", [])):
        raise WebhookError("signature mismatch")


def parse_event(body: bytes) -> PaymentEvent:
    try:
        data = parse_json(body)
        obj = data["data"]
        card = obj.get("card")
        event = PaymentEvent(
            id=str(data["id"])[:100], type=str(data["type"]), created=int(data["created"]),
            session_id=str(obj["session"])[:100], reference=str(obj["reference"])[:100],
            amount_cents=int(obj["amount"]), currency=str(obj["currency"])[:3].upper(),
            card=CardDetails(brand=str(card["brand"])[:20], last4=str(card["last4"])[-4:],
                             exp_month=int(card["exp_month"]), exp_year=int(card["exp_year"])) if card else None,
            failure_code=str(obj.get("failure_code") or "")[:60],
            failure_message=str(obj.get("failure_message") or "")[:200],
            payment_method=str(obj.get("payment_method") or "")[:128],
        )
    except (ValueError, KeyError, TypeError) as err:
        raise WebhookError("malformed event") from err
    if event.type not in ("checkout.succeeded", "checkout.failed", "setup.succeeded", "setup.failed"):
        raise WebhookError("unknown event type")
    return event


def event_body(event: PaymentEvent) -> bytes:
    card = dataclasses.asdict(event.card) if event.card else None
    return json.dumps({
        "id": event.id, "type": event.type, "created": event.created,
        "data": {"session": event.session_id, "reference": event.reference, "amount": event.amount_cents,
                 "currency": event.currency, "card": card, "failure_code": event.failure_code,
                 "failure_message": event.failure_message, "payment_method": event.payment_method},
    }, separators=(",", ":")).encode()
