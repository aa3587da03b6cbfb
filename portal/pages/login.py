"""Sign-in page: password, then a code when the account has two-factor authentication."""

from __future__ import annotations

import reflex as rx

from portal.components.common import error_callout, form, label_for, notice_callout
from portal.components.sso import sso_login_block  # single sign-on (area: sso)
from portal.i18n import N_, t
from portal.layouts.shell import public_frame
from portal.state.session import LoginState
from portal.state.sso import SsoLoginState  # single sign-on (area: sso)


def field(label: str | rx.Var, name: str, *, type_: str = "text", autocomplete: str = "",
          placeholder: str | rx.Var = "",
          **props: object) -> rx.Component:
    return rx.vstack(
        label_for(label, name, size="2", weight="medium"),
        rx.input(id=name, name=name, type=type_, auto_complete=autocomplete, placeholder=placeholder,
                 required=True, width="100%", size="3", **props),
        spacing="1", width="100%",
    )


def _password_step() -> rx.Component:
    return form(
        rx.vstack(
            rx.heading(t("Sign in"), size="6"),
            rx.text(t("Track orders, manage returns and get help."), color_scheme="gray", size="2"),
            notice_callout(LoginState.notice),
            error_callout(LoginState.error),
            field(t("Email address"), "email", type_="email", autocomplete="username", placeholder="you@example.com"),
            field(t("Password"), "password", type_="password", autocomplete="current-password"),
            rx.button(t("Sign in"), type="submit", size="3", width="100%", data_testid="sign-in"),
            rx.hstack(
                rx.link(t("Forgot your password?"), href="/forgot", size="2"),
                rx.spacer(),
                rx.cond(LoginState.registration_open, rx.link(t("Create an account"), href="/register", size="2")),
                width="100%",
            ),
            spacing="4", width="100%",
        ),
        on_submit=LoginState.submit,
        reset_on_submit=False, secret=True,
    )


def _code_step() -> rx.Component:
    return form(
        rx.vstack(
            rx.heading(t("Two-factor authentication"), size="6"),
            rx.cond(
                LoginState.use_recovery,
                rx.text(t("Enter one of the recovery codes you saved when you set up two-factor authentication. "
                          "Each code works once."), color_scheme="gray", size="2"),
                rx.text(t("Enter the 6-digit code from your authenticator app."), color_scheme="gray", size="2"),
            ),
            error_callout(LoginState.error),
            rx.cond(
                LoginState.use_recovery,
                field(t("Recovery code"), "code", autocomplete="off", placeholder="xxxxx-xxxxx"),
                field(t("Code"), "code", autocomplete="one-time-code", placeholder="123456", input_mode="numeric"),
            ),
            rx.button(t("Verify"), type="submit", size="3", width="100%", data_testid="verify-code"),
            rx.hstack(
                rx.button(rx.cond(LoginState.use_recovery, t("Use a code from my app"), t("Use a recovery code")),
                          on_click=LoginState.toggle_recovery, size="2", variant="ghost", type="button",
                          data_testid="toggle-recovery"),
                rx.spacer(),
                rx.button(t("Cancel"), on_click=LoginState.cancel_mfa, size="2", variant="ghost", type="button",
                          color_scheme="gray"),
                width="100%",
            ),
            spacing="4", width="100%",
        ),
        on_submit=LoginState.submit_code,
        reset_on_submit=True, secret=True,
    )


def login_page() -> rx.Component:
    return public_frame(
        rx.card(rx.cond(LoginState.step == "mfa", _code_step(),
                        rx.fragment(_password_step(), sso_login_block())),  # sso_login_block: area sso
                size="4", width="100%"),
    )


def register(app: rx.App) -> None:
    app.add_page(login_page, route="/login", title=N_("Sign in"), on_load=[LoginState.on_load, SsoLoginState.on_load])
