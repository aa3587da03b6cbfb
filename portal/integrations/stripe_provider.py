"""The Stripe adapter: hosted Checkout Sessions, refunds, and Stripe's signed webhooks.

It speaks to Stripe through the official `stripe` library (StripeClient). With the public
development key and no STRIPE_API_BASE it talks to the bundled simulator instead
(portal.integrations.stripe_simulator, served under /_simulator/stripe outside production),
which answers the same REST endpoints, so the demo and the tests run this very code.

Objects and fields used (Stripe API):
- Checkout Session (POST /v1/checkout/sessions, GET /v1/checkout/sessions/{id}): mode, line_items
  [price_data{currency, unit_amount, product_data{name}}, quantity], client_reference_id, metadata,
  payment_intent_data{metadata}, success_url, cancel_url, customer_email; read back id, url,
  status, payment_status, amount_total, currency, payment_intent, client_reference_id, metadata.
- PaymentIntent (events): id, amount, amount_received, currency, status, metadata, latest_charge,
  payment_method, last_payment_error{code, decline_code, message}.
- PaymentMethod (GET /v1/payment_methods/{id}): type, card{brand, last4, exp_month, exp_year},
  sepa_debit{last4}, customer.
- Customer (POST /v1/customers): email, name, metadata.
- Checkout Session in setup mode: customer, currency, payment_method_types, setup_intent_data
  {metadata}; read back setup_intent. SetupIntent (GET /v1/setup_intents/{id}): status,
  payment_method, customer.
- PaymentIntent, off-session (POST /v1/payment_intents): amount, currency, customer,
  payment_method, off_session, confirm, metadata; error codes card_declined, authentication_required.
- Refund (POST /v1/refunds): payment_intent, amount, reason, metadata; read id, status,
  amount, currency, failure_reason, payment_intent, metadata.
- Charge (charge.refunded): id, payment_intent, amount, amount_refunded, refunded, currency,
  refunds{data[Refund]}.
- Dispute (charge.dispute.created): id, charge, payment_intent, amount, currency, reason, status.
- Event: id, type, created, data.object.
Every create sends an Idempotency-Key derived from the portal's own row id, so a retried
request never creates (or charges) twice.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import stripe

from portal.integrations.payments import CheckoutSession, WebhookError

SIGNATURE_HEADER = "Stripe-Signature"
# Currencies Stripe takes in whole units (no minor unit): amounts are sent as they are.
ZERO_DECIMAL = frozenset({"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd",
                          "vuv", "xaf", "xof", "xpf"})


def minor_units(cents: int, currency: str) -> int:
    """The portal keeps hundredths; Stripe wants the currency's smallest unit."""
    return cents // 100 if currency.lower() in ZERO_DECIMAL else cents


def portal_cents(amount: int, currency: str) -> int:
    return amount * 100 if currency.lower() in ZERO_DECIMAL else amount


@dataclasses.dataclass(frozen=True, slots=True)
class RefundResult:
    id: str
    status: str
    failure_reason: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class MethodDetails:
    label: str  # "Visa •••• 4242", "SEPA Direct Debit •••• 3000"
    brand: str = ""
    last4: str = ""
    exp_month: int = 0
    exp_year: int = 0


class StripeProvider:
    name = "stripe"

    def __init__(self, *, api_key: str, api_base: str = "", timeout: float = 20.0) -> None:
        self.api_base = api_base.rstrip("/")
        self.client = stripe.StripeClient(
            api_key, base_addresses={"api": self.api_base} if self.api_base else None,
            http_client=stripe.RequestsClient(timeout=timeout), max_network_retries=2)

    def create_checkout(self, *, amount_cents: int, currency: str, reference: str, description: str,
                        return_url: str, idempotency_key: str = "", customer_email: str = "") -> CheckoutSession:
        cur = currency.lower()
        params: dict[str, Any] = {
            "mode": "payment",
            "line_items": [{"quantity": 1, "price_data": {
                "currency": cur, "unit_amount": minor_units(amount_cents, cur),
                "product_data": {"name": description[:200]}}}],
            "client_reference_id": reference,
            "metadata": {"portal_ref": reference},
            "payment_intent_data": {"metadata": {"portal_ref": reference}},
            "success_url": _with_query(return_url, "checkout=done"),
            "cancel_url": _with_query(return_url, "checkout=cancelled"),
        }
        if customer_email:
            params["customer_email"] = customer_email
        session = self.client.v1.checkout.sessions.create(
            params=params,  # type: ignore[arg-type]
            options={"idempotency_key": idempotency_key or f"checkout-{reference}"})
        if not session.url:
            raise WebhookError("Stripe returned a checkout session without a URL")
        return CheckoutSession(id=session.id, url=session.url)

    def create_customer(self, *, email: str, name: str, reference: str, idempotency_key: str) -> str:
        customer = self.client.v1.customers.create(
            params={"email": email, "name": name[:200], "metadata": {"portal_ref": reference}},
            options={"idempotency_key": idempotency_key})
        return customer.id

    def create_card_setup(self, *, reference: str, return_url: str, customer: str = "",
                          idempotency_key: str = "", currency: str = "EUR") -> CheckoutSession:
        """Checkout in setup mode: Stripe's page saves a card (a SetupIntent for off-session use)."""
        params: dict[str, Any] = {
            "mode": "setup", "customer": customer, "currency": currency.lower(), "payment_method_types": ["card"],
            "client_reference_id": reference, "metadata": {"portal_ref": reference},
            "setup_intent_data": {"metadata": {"portal_ref": reference}},
            "success_url": _with_query(return_url, "checkout=done"),
            "cancel_url": _with_query(return_url, "checkout=cancelled")}
        session = self.client.v1.checkout.sessions.create(
            params=params,  # type: ignore[arg-type]
            options={"idempotency_key": idempotency_key or f"setup-{reference}"})
        if not session.url:
            raise WebhookError("Stripe returned a checkout session without a URL")
        return CheckoutSession(id=session.id, url=session.url)

    def saved_method(self, setup_intent: str) -> tuple[str, str, MethodDetails] | None:
        """(payment method id, its customer, brand/last four/expiry) of a succeeded SetupIntent."""
        try:
            seti = self.client.v1.setup_intents.retrieve(setup_intent)
            pm_id = seti.payment_method if isinstance(seti.payment_method, str) else ""
            if seti.status != "succeeded" or not pm_id:
                return None
            pm = self.client.v1.payment_methods.retrieve(pm_id)
        except stripe.StripeError:
            return None
        data = json.loads(str(pm))
        return pm_id, str(data.get("customer") or ""), method_details(data)

    def charge_saved(self, *, amount_cents: int, currency: str, customer: str, payment_method: str, reference: str,
                     idempotency_key: str) -> str:
        """Charge a saved card without the customer present (off-session). Raises stripe.CardError when
        declined, with code "authentication_required" when the bank wants the customer to confirm."""
        intent = self.client.v1.payment_intents.create(
            params={"amount": minor_units(amount_cents, currency), "currency": currency.lower(),
                    "customer": customer, "payment_method": payment_method, "off_session": True, "confirm": True,
                    "metadata": {"portal_ref": reference}},
            options={"idempotency_key": idempotency_key})
        return intent.id

    def create_refund(self, *, payment_intent: str, amount_cents: int, currency: str, reference: str,
                      idempotency_key: str) -> RefundResult:
        refund = self.client.v1.refunds.create(
            params={"payment_intent": payment_intent, "amount": minor_units(amount_cents, currency),
                    "reason": "requested_by_customer", "metadata": {"portal_ref": reference}},
            options={"idempotency_key": idempotency_key})
        return RefundResult(id=refund.id, status=str(refund.status or "pending"),
                            failure_reason=str(getattr(refund, "failure_reason", "") or ""))

    def describe_payment_method(self, payment_method: str) -> MethodDetails | None:
        """Brand and last four of what paid (never the number): for the receipt and the invoice page."""
        try:
            pm = self.client.v1.payment_methods.retrieve(payment_method)
        except stripe.StripeError:
            return None
        return method_details(json.loads(str(pm)))


def method_details(pm: dict[str, Any]) -> MethodDetails:
    kind = str(pm.get("type") or "")
    card = pm.get("card") or {}
    if kind == "card" and isinstance(card, dict):
        brand = str(card.get("brand") or "card")[:20]
        last4 = str(card.get("last4") or "")[-4:]
        return MethodDetails(label=f"{brand.capitalize()} •••• {last4}", brand=brand, last4=last4,
                             exp_month=int(card.get("exp_month") or 0), exp_year=int(card.get("exp_year") or 0))
    sepa = pm.get("sepa_debit") or {}
    if kind == "sepa_debit" and isinstance(sepa, dict):
        return MethodDetails(label=f"SEPA Direct Debit •••• {str(sepa.get('last4') or '')[-4:]}")
    return MethodDetails(label=kind.replace("_", " ").title()[:60])


def _with_query(url: str, query: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{query}"


def verify_event(body: bytes, header: str | None, *, secrets: list[str], tolerance: int) -> dict[str, Any]:
    """Stripe's scheme, by the library's own check: `t=<unix>,v1=<hex>[,v1=...]`, HMAC-SHA256 with the
    endpoint secret over "<t>.<raw body>", refused when older than the tolerance. While a secret is
    rolled, events are signed with both and either verifies. Returns the parsed event."""
    if not secrets:
        raise WebhookError("no webhook secret configured")
    if not header or len(header) > 2000:
        raise WebhookError("missing signature")
    last: Exception | None = None
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(body, header, secret, tolerance)
            break
        except stripe.SignatureVerificationError as err:
            last = err
    else:
        raise WebhookError(str(last) if last else "signature mismatch")
    try:
        event = json.loads(body)
    except ValueError as err:
        raise WebhookError("malformed event") from err
    if not isinstance(event, dict) or not isinstance(event.get("id"), str) or not isinstance(event.get("type"), str) \
            or not isinstance((event.get("data") or {}).get("object"), dict):
        raise WebhookError("malformed event")
    return event
