"""The customer's profile page: details, addresses, language, time zone, email preferences."""

from __future__ import annotations

import dataclasses
from typing import Any

import reflex as rx

from portal.db import session_scope
from portal.domain import profile
from portal.domain.errors import DomainError, Invalid
from portal.domain.events import Topic
from portal.i18n import N_, tr
from portal.live.push import listens
from portal.models import AddressPublic
from portal.state.base import FAILED, PortalState, on_loop
from portal.state.guard import Access, access, request_info_of
from portal.state.messages import message_for, message_for_error

_FORM_FIELDS = ("full_name", "phone", "company", "vat_number", "locale", "timezone")
# The labels the form shows, so a message names the field it is about.
_FIELD_LABELS = {"full_name": N_("Full name"), "phone": N_("Phone"), "company": N_("Company"),
                 "vat_number": N_("VAT number"), "locale": N_("Language"), "timezone": N_("Time zone")}


@dataclasses.dataclass
class AddressRow:
    id: int
    label: str
    lines: str
    is_default_shipping: bool
    is_default_billing: bool


@dataclasses.dataclass
class AddressForm:
    label: str = ""
    name: str = ""
    company: str = ""
    line1: str = ""
    line2: str = ""
    city: str = ""
    region: str = ""
    postal_code: str = ""
    country: str = ""
    phone: str = ""


def _row(a: AddressPublic) -> AddressRow:
    parts = [a.name, a.company, a.line1, a.line2, f"{a.postal_code} {a.city}".strip(), a.region, a.country]
    return AddressRow(id=a.id, label=a.label or tr("Address"), lines=", ".join(p for p in parts if p),
                      is_default_shipping=a.is_default_shipping, is_default_billing=a.is_default_billing)


def _strings(form: Any, names: tuple[str, ...]) -> dict[str, str]:
    if not isinstance(form, dict):
        raise Invalid(tr("Fill in the form."), field="form")
    out = {}
    for n in names:
        v = form.get(n, "")
        if not isinstance(v, str):
            raise Invalid(tr("Enter text."), field=n)
        if len(v) > 500:
            raise Invalid(tr("Use at most 500 characters."), field=n)
        out[n] = v
    return out


@access(Access.CUSTOMER)
@listens(Topic.PROFILE)
class ProfileState(PortalState, rx.State):
    loaded: bool = False
    email: str = ""
    full_name: str = ""
    phone: str = ""
    company: str = ""
    vat_number: str = ""
    locale: str = "en"
    timezone: str = ""
    email_prefs: dict[str, bool] = {}
    addresses: list[AddressRow] = []
    details_error: str = ""
    details_field: str = ""
    details_notice: str = ""
    prefs_notice: str = ""
    # Address editor
    editing: bool = False
    editing_existing: bool = False
    form: AddressForm = AddressForm()
    form_key: int = 0
    address_error: str = ""
    address_field: str = ""
    address_notice: str = ""
    _editing_id: int | None = None

    @rx.event
    def load(self) -> None:
        self._reload(keep_form=False)

    def _reload(self, *, keep_form: bool = True) -> None:
        """A live refresh keeps the details form as typed; the page's load and a save fill it."""
        principal = self._me()
        with session_scope() as db:
            prof = profile.get_profile(db, principal=principal)
            addresses = profile.list_addresses(db, principal=principal)
        self.email = prof.email
        if not keep_form:
            self.full_name, self.phone, self.company = prof.full_name, prof.phone, prof.company
            self.vat_number, self.locale, self.timezone = prof.vat_number, prof.locale, prof.timezone
        self.email_prefs = prof.email_prefs
        self.addresses = [_row(a) for a in addresses]
        self.loaded = True

    @rx.event
    def save_details(self, form: dict[str, Any]) -> None:
        self.details_notice = ""
        try:
            values = _strings(form, _FORM_FIELDS)
            # What was typed stays on the page whatever happens next.
            for k, v in values.items():
                setattr(self, k, v)
            with session_scope() as db:
                profile.update_profile(db, principal=self._me(), request=request_info_of(self), **values)
        except DomainError as err:
            self.details_field = str(err.data.get("field", ""))
            label = _FIELD_LABELS.get(self.details_field)
            self.details_error = tr("{label}: {value}", label=tr(label), value=message_for_error(err)) if label \
                else message_for_error(err)
            return
        self.details_error = self.details_field = ""
        self.details_notice = tr("Saved.")
        self._reload(keep_form=False)

    @rx.event
    def set_email_pref(self, kind: str, value: bool) -> None:
        if not isinstance(kind, str) or kind not in profile.EMAIL_KINDS or not isinstance(value, bool):
            return
        with session_scope() as db:
            self.email_prefs = profile.set_email_preferences(db, principal=self._me(), prefs={kind: value},
                                                             request=request_info_of(self))
        self.prefs_notice = tr("Saved.")

    # --- addresses -------------------------------------------------------------------------

    @rx.event
    def new_address(self) -> None:
        self._editing_id = None
        self.editing_existing = False
        self.form = AddressForm()
        self._open_editor()

    @rx.event
    def edit_address(self, address_id: int) -> None:
        if not isinstance(address_id, int) or isinstance(address_id, bool):
            return
        with session_scope() as db:
            # Only the caller's own addresses are listed, so someone else's id finds nothing.
            found = next((a for a in profile.list_addresses(db, principal=self._me()) if a.id == address_id), None)
        if found is None:
            self.address_error = message_for("not_found")
            return
        self._editing_id = found.id
        self.editing_existing = True
        self.form = AddressForm(**{f.name: getattr(found, f.name) for f in dataclasses.fields(AddressForm)})
        self._open_editor()

    def _open_editor(self) -> None:
        self.address_error = self.address_field = self.address_notice = ""
        self.form_key += 1
        self.editing = True

    @rx.event
    @on_loop
    def cancel_address(self) -> None:
        self.editing = False
        self._editing_id = None
        self.address_error = self.address_field = ""

    @rx.event
    def save_address(self, form: dict[str, Any]) -> None:
        names = tuple(f.name for f in dataclasses.fields(AddressForm))
        try:
            values = _strings(form, names)
            self.form = AddressForm(**values)  # keep what was typed
            with session_scope() as db:
                profile.save_address(db, principal=self._me(), address_id=self._editing_id, data=values,
                                     request=request_info_of(self))
        except DomainError as err:
            self.address_error = message_for_error(err)
            self.address_field = str(err.data.get("field", ""))
            return
        self.editing = False
        self._editing_id = None
        self.address_error = self.address_field = ""
        self.address_notice = tr("Address saved.")
        self._reload()

    @rx.event
    def delete_address(self, address_id: int) -> None:
        self._address_action(address_id, profile.delete_address, tr("Address removed."))

    @rx.event
    def make_default(self, address_id: int, purpose: str) -> None:
        if purpose not in ("shipping", "billing"):
            return
        notice = tr("Default shipping address changed.") if purpose == "shipping" \
            else tr("Default billing address changed.")
        self._address_action(address_id, profile.set_default_address, notice, purpose=purpose)

    def _address_action(self, address_id: Any, action: Any, notice: str, **kwargs: Any) -> None:
        if not isinstance(address_id, int) or isinstance(address_id, bool):
            return
        if self._call(action, into="address_error", address_id=address_id, request=request_info_of(self),
                      **kwargs) is FAILED:
            return
        self.address_error = ""
        self.address_notice = notice
        self._reload()
