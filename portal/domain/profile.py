"""A customer's own profile: name, contact details, addresses, language, time zone and
communication preferences. Every change is audited and announced to the business (outbox).

The sign-in email is deliberately read-only here: changing it safely needs the password and a
verification of the new address, which belongs with the identity work.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from sqlmodel import Session, col, select

from portal import i18n
from portal.db import utcnow
from portal.domain import audit, events, outbox
from portal.domain.errors import Invalid, NotFound
from portal.domain.events import DomainEvent, Topic
from portal.domain.principal import Principal, require_customer, require_principal
from portal.i18n import tr
from portal.models import Address, AddressPublic, Customer, User, UserPreference

# The languages a profile may choose: those the portal is translated into (portal.i18n).
LANGUAGES = dict(i18n.NAMES)
EMAIL_KINDS = ("shipping", "support", "billing", "offers")

_PHONE = re.compile(r"^\+?[0-9 ()./-]{5,40}$")
_VAT = re.compile(r"^[A-Z]{2}[A-Z0-9]{2,30}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")


@dataclasses.dataclass(frozen=True, slots=True)
class Profile:
    email: str
    full_name: str
    phone: str
    company: str
    vat_number: str
    locale: str
    timezone: str
    email_prefs: dict[str, bool]


def _user_and_customer(session: Session, principal: Principal) -> tuple[User, Customer]:
    customer_id = require_customer(principal)
    user = session.get(User, principal.user_id)
    customer = session.get(Customer, customer_id)
    if user is None or customer is None or user.customer_id != customer_id:
        raise NotFound("profile")
    return user, customer


def preferences_of(session: Session, user_id: int) -> UserPreference:
    pref = session.get(UserPreference, user_id)
    if pref is None:
        pref = UserPreference(user_id=user_id)
        session.add(pref)
    return pref


def get_profile(session: Session, *, principal: Principal) -> Profile:
    user, customer = _user_and_customer(session, principal)
    pref = session.get(UserPreference, user.id) or UserPreference(user_id=user.id or 0)
    return Profile(email=user.email, full_name=user.full_name, phone=customer.phone, company=customer.company,
                   vat_number=customer.vat_number, locale=user.locale, timezone=user.timezone,
                   email_prefs={k: bool(getattr(pref, f"email_{k}")) for k in EMAIL_KINDS})


def valid_timezone(name: str) -> bool:
    if not name or len(name) > 64 or name not in available_timezones():
        return False
    try:
        ZoneInfo(name)
    except Exception:  # noqa: BLE001 - any failure means "not a time zone we can use"
        return False
    return True


def _clean(value: Any, *, field: str, max_len: int, required: bool = False) -> str:
    if not isinstance(value, str):
        raise Invalid(tr("Enter text."), field=field)
    text = " ".join(value.split())
    if required and not text:
        raise Invalid(tr("This is required."), field=field)
    if len(text) > max_len:
        raise Invalid(tr("Use at most {max_len} characters.", max_len=max_len), field=field)
    return text


def update_profile(session: Session, *, principal: Principal, full_name: Any, phone: Any, company: Any,
                   vat_number: Any, locale: Any, timezone: Any,
                   request: audit.RequestInfo = audit.NO_REQUEST) -> Profile:
    user, customer = _user_and_customer(session, principal)
    name = _clean(full_name, field="full_name", max_len=200, required=True)
    phone_s = _clean(phone, field="phone", max_len=40)
    if phone_s and not _PHONE.match(phone_s):
        raise Invalid(tr("Enter a phone number with digits, spaces and an optional leading +."), field="phone")
    company_s = _clean(company, field="company", max_len=200)
    vat = _clean(vat_number, field="vat_number", max_len=32).replace(" ", "").upper()
    if vat and not _VAT.match(vat):
        raise Invalid(tr("A VAT number starts with the two-letter country code, e.g. GB123456789."),
                      field="vat_number")
    if not isinstance(locale, str) or locale not in LANGUAGES:
        raise Invalid(tr("Choose one of the languages offered."), field="locale")
    if not isinstance(timezone, str) or not valid_timezone(timezone):
        raise Invalid(tr("Choose a time zone from the list, e.g. Europe/London."), field="timezone")

    before = {"full_name": user.full_name, "phone": customer.phone, "company": customer.company,
              "vat_number": customer.vat_number, "locale": user.locale, "timezone": user.timezone}
    after = {"full_name": name, "phone": phone_s, "company": company_s, "vat_number": vat,
             "locale": locale, "timezone": timezone}
    changed = sorted(k for k in after if after[k] != before[k])
    if changed:
        user.full_name, user.locale, user.timezone = name, locale, timezone
        customer.phone, customer.company, customer.vat_number = phone_s, company_s, vat
        customer.updated_at = utcnow()
        session.add(user)
        session.add(customer)
        # Field names only: the audit trail says what changed, not the personal values.
        audit.record(session, action="profile.updated", principal=principal, target_type="customer",
                     target_id=customer.id or "", request=request, fields=changed)
        outbox.enqueue(session, kind="profile.changed", customer_id=customer.id,
                       payload={"customer_number": customer.number, "changed": {k: after[k] for k in changed}})
        events.emit(session, DomainEvent(topic=Topic.PROFILE, customer_id=customer.id))
    return get_profile(session, principal=principal)


def set_language(session: Session, *, principal: Principal, lang: str,
                 request: audit.RequestInfo = audit.NO_REQUEST) -> None:
    """The language menu of the shell: the person's language, kept in their profile."""
    if lang not in LANGUAGES:
        raise Invalid(tr("Choose one of the languages offered."), field="locale")
    user = session.get(User, principal.user_id)
    if user is None or user.locale == lang:
        return
    user.locale = lang
    session.add(user)
    audit.record(session, action="profile.updated", principal=principal, target_type="user",
                 target_id=user.id or "", request=request, fields=["locale"])
    if principal.customer_id is not None:
        events.emit(session, DomainEvent(topic=Topic.PROFILE, customer_id=principal.customer_id))


def set_email_preferences(session: Session, *, principal: Principal, prefs: dict[str, Any],
                          request: audit.RequestInfo = audit.NO_REQUEST) -> dict[str, bool]:
    p = require_principal(principal)
    if not isinstance(prefs, dict) or set(prefs) - set(EMAIL_KINDS):
        raise Invalid(tr("Unknown kind of notification."), field="prefs")
    pref = preferences_of(session, p.user_id)
    changed = {}
    for kind, value in prefs.items():
        if not isinstance(value, bool):
            raise Invalid(tr("Choose on or off."), field=kind)
        if getattr(pref, f"email_{kind}") != value:
            setattr(pref, f"email_{kind}", value)
            changed[kind] = value
    if changed:
        pref.updated_at = utcnow()
        session.add(pref)
        audit.record(session, action="profile.preferences_changed", principal=p, target_type="user",
                     target_id=p.user_id, request=request, email=changed)
        if p.customer_id is not None:
            outbox.enqueue(session, kind="profile.changed", customer_id=p.customer_id,
                           payload={"user_id": p.user_id, "email_preferences": changed})
        events.emit(session, DomainEvent(topic=Topic.PROFILE, user_ids=(p.user_id,)))
    return {k: bool(getattr(pref, f"email_{k}")) for k in EMAIL_KINDS}


# --- addresses -------------------------------------------------------------------------------

_ADDRESS_FIELDS: dict[str, tuple[int, bool]] = {  # field -> (max length, required)
    "label": (60, False), "name": (200, True), "company": (200, False), "line1": (200, True),
    "line2": (200, False), "city": (100, True), "region": (100, False), "postal_code": (20, True),
    "country": (2, True), "phone": (40, False),
}


def _address_values(data: dict[str, Any]) -> dict[str, str]:
    if not isinstance(data, dict):
        raise Invalid(tr("Fill in the address."), field="address")
    out: dict[str, str] = {}
    for name, (max_len, required) in _ADDRESS_FIELDS.items():
        out[name] = _clean(data.get(name, ""), field=name, max_len=max_len if name != "country" else 10,
                           required=required)
    out["country"] = out["country"].upper()
    if not _COUNTRY.match(out["country"]):
        raise Invalid(tr("Use the two-letter country code, e.g. GB or DE."), field="country")
    if out["phone"] and not _PHONE.match(out["phone"]):
        raise Invalid(tr("Enter a phone number with digits, spaces and an optional leading +."), field="phone")
    if not re.match(r"^[A-Za-z0-9 -]{2,20}$", out["postal_code"]):
        raise Invalid(tr("Enter the postal code with letters, digits, spaces or hyphens."), field="postal_code")
    return out


def list_addresses(session: Session, *, principal: Principal) -> list[AddressPublic]:
    customer_id = require_customer(principal)
    rows = session.exec(select(Address).where(Address.customer_id == customer_id)
                        .order_by(col(Address.created_at), col(Address.id))).all()
    return [AddressPublic.model_validate(a, from_attributes=True) for a in rows]


def _own_address(session: Session, principal: Principal, address_id: Any) -> Address:
    customer_id = require_customer(principal)
    if not isinstance(address_id, int) or isinstance(address_id, bool):
        raise NotFound("address")
    address = session.get(Address, address_id)
    if address is None or address.customer_id != customer_id:
        raise NotFound("address")
    return address


def _announce_address(session: Session, principal: Principal, address: Address, change: str,
                      request: audit.RequestInfo) -> None:
    audit.record(session, action=f"address.{change}", principal=principal, target_type="address",
                 target_id=address.id or "", request=request)
    outbox.enqueue(session, kind="address.changed", customer_id=address.customer_id,
                   payload={"change": change, "address_id": address.id,
                            "address": AddressPublic.model_validate(address, from_attributes=True).model_dump()})
    events.emit(session, DomainEvent(topic=Topic.PROFILE, customer_id=address.customer_id))


def save_address(session: Session, *, principal: Principal, address_id: int | None, data: dict[str, Any],
                 request: audit.RequestInfo = audit.NO_REQUEST) -> AddressPublic:
    """Add (address_id None) or edit one of the customer's own addresses."""
    customer_id = require_customer(principal)
    values = _address_values(data)
    if address_id is None:
        count = len(session.exec(select(Address.id).where(Address.customer_id == customer_id)).all())
        if count >= 20:
            raise Invalid(tr("You can keep up to 20 addresses. Remove one first."), field="address")
        address = Address.model_validate({**values, "customer_id": customer_id,
                                          "is_default_shipping": count == 0, "is_default_billing": count == 0})
        session.add(address)
        session.flush()
        change = "created"
    else:
        address = _own_address(session, principal, address_id)
        for k, v in values.items():
            setattr(address, k, v)
        session.add(address)
        change = "updated"
    _announce_address(session, principal, address, change, request)
    return AddressPublic.model_validate(address, from_attributes=True)


def delete_address(session: Session, *, principal: Principal, address_id: int,
                   request: audit.RequestInfo = audit.NO_REQUEST) -> None:
    address = _own_address(session, principal, address_id)
    _announce_address(session, principal, address, "deleted", request)
    was_ship, was_bill = address.is_default_shipping, address.is_default_billing
    session.delete(address)
    session.flush()
    if was_ship or was_bill:
        # Another address takes over the default, so there is always one when any exist.
        nxt = session.exec(select(Address).where(Address.customer_id == address.customer_id)
                           .order_by(col(Address.id))).first()
        if nxt is not None:
            nxt.is_default_shipping = nxt.is_default_shipping or was_ship
            nxt.is_default_billing = nxt.is_default_billing or was_bill
            session.add(nxt)


def set_default_address(session: Session, *, principal: Principal, address_id: int, purpose: str,
                        request: audit.RequestInfo = audit.NO_REQUEST) -> None:
    if purpose not in ("shipping", "billing"):
        raise Invalid(tr("Choose shipping or billing."), field="purpose")
    address = _own_address(session, principal, address_id)
    attr = f"is_default_{purpose}"
    for other in session.exec(select(Address).where(Address.customer_id == address.customer_id)).all():
        setattr(other, attr, other.id == address.id)
        session.add(other)
    _announce_address(session, principal, address, f"default_{purpose}", request)
