"""Forgotten password, reset, registration and email verification pages."""

from __future__ import annotations

import reflex as rx

from portal.components.common import error_callout, form
from portal.i18n import N_, t
from portal.layouts.shell import public_frame
from portal.pages.login import field
from portal.state.recovery import ForgotState, RegisterState, ResetState, VerifyState

_PASSWORD_HINT = N_("At least 12 characters. A few unrelated words make a strong passphrase; "
                    "any language and symbols are welcome.")


def forgot_page() -> rx.Component:
    return public_frame(rx.card(rx.cond(
        ForgotState.sent,
        rx.vstack(
            rx.heading(t("Check your inbox"), size="6"),
            rx.text(t("If an account exists for that address, we have sent it a link to choose a new password. "
                      "The link works once, for 60 minutes."), data_testid="reset-sent"),
            rx.link(t("Back to sign in"), href="/login"),
            spacing="3",
        ),
        form(
            rx.vstack(
                rx.heading(t("Forgot your password?"), size="6"),
                rx.text(t("Enter the email address of your account and we will send you a link to choose a new "
                          "password."), color_scheme="gray", size="2"),
                error_callout(ForgotState.error),
                field(t("Email address"), "email", type_="email", autocomplete="username"),
                rx.button(t("Send the link"), type="submit", size="3", width="100%", data_testid="send-reset"),
                rx.link(t("Back to sign in"), href="/login", size="2"),
                spacing="4", width="100%",
            ),
            on_submit=ForgotState.submit, reset_on_submit=False,
        ),
    ), size="4", width="100%"))


def reset_page() -> rx.Component:
    return public_frame(rx.card(rx.cond(
        ResetState.valid,
        form(
            rx.vstack(
                rx.heading(t("Choose a new password"), size="6"),
                rx.text(t(_PASSWORD_HINT), color_scheme="gray", size="2"),
                error_callout(ResetState.error),
                field(t("New password"), "password", type_="password", autocomplete="new-password"),
                field(t("New password again"), "confirm", type_="password", autocomplete="new-password"),
                rx.button(t("Change password"), type="submit", size="3", width="100%", data_testid="save-password"),
                spacing="4", width="100%",
            ),
            on_submit=ResetState.submit, reset_on_submit=False, secret=True,
        ),
        rx.cond(ResetState.checked, rx.vstack(
            rx.heading(t("This link has expired"), size="6"),
            rx.text(t("Password links work once and for 60 minutes. Ask for a new one.")),
            rx.link(t("Send a new link"), href="/forgot"),
            spacing="3",
        ), rx.spinner()),
    ), size="4", width="100%"))


def register_page() -> rx.Component:
    return public_frame(rx.card(rx.cond(
        RegisterState.enabled,
        form(
            rx.vstack(
                rx.heading(t("Create your account"), size="6"),
                error_callout(RegisterState.error),
                field(t("Your name"), "name", autocomplete="name"),
                field(t("Email address"), "email", type_="email", autocomplete="email"),
                field(t("Password"), "password", type_="password", autocomplete="new-password"),
                rx.text(t(_PASSWORD_HINT), color_scheme="gray", size="1"),
                rx.button(t("Create account"), type="submit", size="3", width="100%", data_testid="register"),
                rx.link(t("I already have an account"), href="/login", size="2"),
                spacing="4", width="100%",
            ),
            on_submit=RegisterState.submit, reset_on_submit=False, secret=True,
        ),
        rx.vstack(rx.heading(t("Accounts are created by our team"), size="6"),
                  rx.text(t("Contact us and we will set one up for you.")), rx.link(t("Sign in"), href="/login"),
                  spacing="3"),
    ), size="4", width="100%"))


def verify_page() -> rx.Component:
    return public_frame(rx.card(rx.cond(
        VerifyState.done,
        rx.cond(VerifyState.ok,
                rx.vstack(rx.heading(t("Email confirmed"), size="6"), rx.link(t("Sign in"), href="/login?verified=1"),
                          spacing="3"),
                rx.vstack(rx.heading(t("This link has expired"), size="6"),
                          rx.text(t("Confirmation links work once, for 24 hours.")), spacing="3")),
        rx.spinner(),
    ), size="4", width="100%"))


def register(app: rx.App) -> None:
    app.add_page(forgot_page, route="/forgot", title=N_("Forgot your password"), on_load=ForgotState.on_load)
    app.add_page(reset_page, route="/reset", title=N_("Choose a new password"), on_load=ResetState.on_load)
    app.add_page(register_page, route="/register", title=N_("Create your account"), on_load=RegisterState.on_load)
    app.add_page(verify_page, route="/verify", title=N_("Confirm your email"), on_load=VerifyState.on_load)
