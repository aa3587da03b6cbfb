"""Profile: details, addresses, language and time zone, email preferences."""

from __future__ import annotations

import reflex as rx

from portal.components.common import card, error_callout, form, label_for, notice_callout
from portal.domain.profile import EMAIL_KINDS, LANGUAGES
from portal.i18n import N_, t
from portal.layouts.shell import shell
from portal.state.insights import TrackState
from portal.state.profile import AddressRow, ProfileState

_EMAIL_LABELS = {"shipping": N_("Shipping updates"), "support": N_("Replies to my tickets"),
                 "billing": N_("Invoices and payments"), "offers": N_("Offers chosen for me")}


def _input(label: str, name: str, value: rx.Var, *, field_var: rx.Var, required: bool = False,
           hint: str = "", autocomplete: str = "", form: str = "details", **props: object) -> rx.Component:
    # `label` and `hint` are English texts marked with N_ by the caller, shown translated.
    # A refused field is marked invalid and described by the form's message (which names it), so a
    # screen reader says what is wrong when the field has the focus; a hint describes it otherwise.
    hint_id = f"p-{name}-hint" if hint else ""
    return rx.vstack(
        label_for(t(label), f"p-{name}", size="2", weight="medium"),
        rx.input(id=f"p-{name}", name=name, default_value=value, required=required, width="100%",
                 auto_complete=autocomplete, aria_invalid=rx.cond(field_var == name, "true", "false"),
                 aria_describedby=rx.cond(field_var == name, f"{form}-error", hint_id),
                 color_scheme=rx.cond(field_var == name, "red", "gray"),
                 # Which field was touched last, for "forms abandoned" insights; never the value.
                 on_focus=TrackState.form_field(form, name), **props),
        rx.text(t(hint), size="1", color_scheme="gray", id=hint_id) if hint else rx.fragment(),
        spacing="1", width="100%",
    )


def _details() -> rx.Component:
    s = ProfileState
    f = s.details_field
    return card(
        t("Your details"),
        notice_callout(s.details_notice),
        error_callout(s.details_error, id="details-error"),
        rx.text(t("Sign-in email:"), " ", rx.code(s.email), size="2"),
        rx.text(t("Your sign-in email cannot be changed here; ask us and we will verify the new address with you."),
                size="1", color_scheme="gray"),
        form(
            rx.vstack(
                _input(N_("Full name"), "full_name", s.full_name, field_var=f, required=True, autocomplete="name"),
                rx.grid(
                    _input(N_("Phone"), "phone", s.phone, field_var=f, autocomplete="tel", type="tel"),
                    _input(N_("Company"), "company", s.company, field_var=f, autocomplete="organization"),
                    _input(N_("VAT number"), "vat_number", s.vat_number, field_var=f, hint=N_("e.g. GB123456789")),
                    columns=rx.breakpoints(initial="1", sm="3"), spacing="3", width="100%",
                ),
                rx.grid(
                    rx.vstack(
                        rx.text(t("Language"), as_="label", size="2", weight="medium"),
                        rx.select.root(
                            rx.select.trigger(width="100%", data_testid="locale", aria_label=t("Language")),
                            rx.select.content(*[rx.select.item(v, value=k) for k, v in LANGUAGES.items()]),
                            name="locale", default_value=s.locale,
                        ),
                        spacing="1", width="100%",
                    ),
                    _input(N_("Time zone"), "timezone", s.timezone, field_var=f, required=True,
                           hint=N_("A place name such as Europe/London or America/New_York.")),
                    columns=rx.breakpoints(initial="1", sm="2"), spacing="3", width="100%",
                ),
                rx.button(t("Save details"), type="submit", data_testid="save-details"),
                spacing="3", width="100%",
            ),
            on_submit=[ProfileState.save_details, TrackState.form_submit("details")],
            key=s.email,
        ),
        icon="user_round", test_id="details-card",
    )


def _address_row(a: AddressRow) -> rx.Component:
    return rx.hstack(
        rx.vstack(
            rx.hstack(rx.text(a.label, weight="medium", size="2"),
                      rx.cond(a.is_default_shipping, rx.badge(t("Default shipping"), variant="soft")),
                      rx.cond(a.is_default_billing,
                              rx.badge(t("Default billing"), variant="soft", color_scheme="green")),
                      spacing="2", wrap="wrap"),
            rx.text(a.lines, size="1", color_scheme="gray", data_testid="address-lines"),
            spacing="1", align="start", flex="1",
        ),
        rx.hstack(
            rx.button(t("Edit"), size="1", variant="soft", on_click=ProfileState.edit_address(a.id),
                      data_testid="address-edit"),
            rx.cond(~a.is_default_shipping,
                    rx.button(t("Ship here by default"), size="1", variant="ghost",
                              on_click=ProfileState.make_default(a.id, "shipping"))),
            rx.cond(~a.is_default_billing,
                    rx.button(t("Bill here by default"), size="1", variant="ghost",
                              on_click=ProfileState.make_default(a.id, "billing"))),
            rx.alert_dialog.root(
                rx.alert_dialog.trigger(rx.button(t("Remove"), size="1", variant="ghost", color_scheme="red",
                                                  data_testid="address-delete")),
                rx.alert_dialog.content(
                    rx.alert_dialog.title(t("Remove this address?")),
                    rx.alert_dialog.description(a.lines, size="2"),
                    rx.hstack(
                        rx.alert_dialog.cancel(rx.button(t("Keep it"), variant="soft", color_scheme="gray")),
                        rx.alert_dialog.action(rx.button(t("Remove"), color_scheme="red",
                                                         on_click=ProfileState.delete_address(a.id),
                                                         data_testid="address-delete-confirm")),
                        justify="end", spacing="2", margin_top="1rem",
                    ),
                ),
            ),
            spacing="1", wrap="wrap",
        ),
        width="100%", padding_y="0.5rem", border_bottom=f"1px solid {rx.color('gray', 4)}", wrap="wrap",
        data_testid="address-row",
    )


def _address_editor() -> rx.Component:
    s = ProfileState
    f = s.address_field
    v = s.form
    return form(
        rx.vstack(
            rx.heading(rx.cond(s.editing_existing, t("Edit address"), t("New address")), size="3"),
            error_callout(s.address_error, id="address-error"),
            rx.grid(
                _input(N_("Label"), "label", v.label, field_var=f, form="address", placeholder=t("Home, Office…")),
                _input(N_("Name"), "name", v.name, field_var=f, form="address", required=True, autocomplete="name"),
                _input(N_("Company"), "company", v.company, field_var=f, form="address"),
                _input(N_("Address line 1"), "line1", v.line1, field_var=f, form="address", required=True,
                       autocomplete="address-line1"),
                _input(N_("Address line 2"), "line2", v.line2, field_var=f, form="address",
                       autocomplete="address-line2"),
                _input(N_("City"), "city", v.city, field_var=f, form="address", required=True,
                       autocomplete="address-level2"),
                _input(N_("Region"), "region", v.region, field_var=f, form="address"),
                _input(N_("Postal code"), "postal_code", v.postal_code, field_var=f, form="address", required=True,
                       autocomplete="postal-code"),
                _input(N_("Country code"), "country", v.country, field_var=f, form="address", required=True,
                       hint=N_("e.g. GB, DE"), max_length=2),
                _input(N_("Phone"), "phone", v.phone, field_var=f, form="address", type="tel"),
                columns=rx.breakpoints(initial="1", sm="2"), spacing="3", width="100%",
            ),
            rx.hstack(
                rx.button(t("Save address"), type="submit", data_testid="save-address"),
                rx.button(t("Cancel"), type="button", variant="soft", color_scheme="gray",
                          on_click=ProfileState.cancel_address),
            ),
            spacing="3", width="100%",
        ),
        on_submit=[ProfileState.save_address, TrackState.form_submit("address")],
        key=s.form_key.to_string(), width="100%",
        data_testid="address-form",
    )


def _addresses() -> rx.Component:
    return card(
        t("Addresses"),
        notice_callout(ProfileState.address_notice),
        rx.cond(~ProfileState.editing, error_callout(ProfileState.address_error)),
        rx.cond(ProfileState.addresses.length() > 0,
                rx.vstack(rx.foreach(ProfileState.addresses, _address_row), spacing="0", width="100%"),
                rx.text(t("No addresses yet."), size="2", color_scheme="gray")),
        rx.cond(ProfileState.editing, _address_editor(),
                rx.button(rx.icon("plus", size=14), t("Add an address"), variant="soft",
                          on_click=ProfileState.new_address, data_testid="add-address")),
        icon="map_pin", test_id="addresses-card",
    )


def _email_prefs() -> rx.Component:
    return card(
        t("Email me about"),
        rx.text(t("You always see notifications in the portal; choose which also come by email."), size="2",
                color_scheme="gray"),
        notice_callout(ProfileState.prefs_notice),
        rx.vstack(*[
            rx.hstack(
                rx.switch(checked=ProfileState.email_prefs[k].bool(),
                          on_change=lambda value, k=k: ProfileState.set_email_pref(k, value),
                          data_testid=f"email-{k}", id=f"email-{k}", aria_label=t(label)),
                label_for(t(label), f"email-{k}", size="2"),
                align="center",
            )
            for k, label in _EMAIL_LABELS.items() if k in EMAIL_KINDS
        ], spacing="2"),
        icon="mail", test_id="email-prefs",
    )


@shell(N_("Profile"))
def profile_page() -> rx.Component:
    return rx.cond(
        ProfileState.loaded,
        rx.vstack(_details(), _addresses(), rx.box(_email_prefs(), id="email", width="100%"),
                  spacing="4", width="100%"),
        rx.center(rx.spinner(size="3"), padding="4rem"),
    )


def register(app: rx.App) -> None:
    app.add_page(profile_page, route="/account/profile", title=N_("Profile"), on_load=ProfileState.load)
