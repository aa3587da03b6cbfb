"""Security page: password, two-factor authentication, active sessions."""

from __future__ import annotations

import reflex as rx

from portal.components.common import card, error_callout, form, notice_callout, secret_panel
from portal.components.sso import sso_account_card  # single sign-on (area: sso)
from portal.i18n import N_, t, tn
from portal.layouts.shell import shell
from portal.pages.login import field
from portal.state.security import RECOVERY_CODES, TOTP_QR, TOTP_SECRET, SecurityState, SessionRow
from portal.state.shown_once import conceal
from portal.state.sso import SsoAccountState  # single sign-on (area: sso)


def _password_card() -> rx.Component:
    return card(
        t("Password"),
        notice_callout(SecurityState.pw_notice),
        error_callout(SecurityState.pw_error),
        form(
            rx.vstack(
                field(t("Current password"), "current", type_="password", autocomplete="current-password"),
                field(t("New password"), "new", type_="password", autocomplete="new-password"),
                field(t("New password again"), "confirm", type_="password", autocomplete="new-password"),
                rx.text(t("At least 12 characters; a few unrelated words make a strong passphrase."), size="1",
                        color_scheme="gray"),
                rx.checkbox(t("Sign out my other sessions"), name="end_others", default_checked=True),
                rx.button(t("Change password"), type="submit", data_testid="change-password"),
                spacing="3", width="100%", max_width="26rem",
            ),
            on_submit=SecurityState.change_password, reset_on_submit=True, secret=True,
        ),
        icon="key_round",
    )


def _codes() -> rx.Component:
    # Empty and hidden until the handler that made the codes reveals them (never a state var).
    return secret_panel(
        rx.vstack(
            rx.code(id=RECOVERY_CODES, data_testid=RECOVERY_CODES, size="3",
                    style={"white_space": "pre", "column_count": "2", "display": "block"}),
            rx.button(t("I have saved them"), on_click=conceal(RECOVERY_CODES), variant="soft"),
            spacing="2",
        ),
    )


def _mfa_card() -> rx.Component:
    enroll = rx.vstack(
        rx.text(t("1. Scan this code with an authenticator app (or type the key)."), size="2"),
        # The QR code and the key are written in by the handler that made them (never state vars).
        rx.image(id=TOTP_QR, width="200px", height="200px", alt=t("QR code for your authenticator app"),
                 background="white", padding="8px", border_radius="8px"),
        rx.text(t("Key:"), " ", rx.code(id=TOTP_SECRET, data_testid=TOTP_SECRET), size="2"),
        rx.text(t("2. Enter the 6-digit code it shows."), size="2"),
        form(
            rx.hstack(
                rx.input(name="code", placeholder="123456", input_mode="numeric", auto_complete="one-time-code",
                         required=True, data_testid="confirm-code-input"),
                rx.button(t("Turn on"), type="submit", data_testid="confirm-mfa"),
                rx.button(t("Cancel"), type="button", variant="soft", color_scheme="gray",
                          on_click=SecurityState.cancel_enrollment),
            ),
            on_submit=SecurityState.confirm_mfa, reset_on_submit=True, secret=True,
        ),
        spacing="2",
    )
    enabled = rx.vstack(
        rx.badge(t("On"), color_scheme="green", data_testid="mfa-on"),
        rx.text(tn("{n} recovery codes left.", "{n} recovery codes left.", SecurityState.codes_left), size="2"),
        form(
            rx.hstack(rx.input(name="code", placeholder=t("Code from your app"), required=True),
                      rx.button(t("New recovery codes"), type="submit", variant="soft")),
            on_submit=SecurityState.regenerate_codes, reset_on_submit=True, secret=True,
        ),
        rx.cond(
            SecurityState.mfa_required,
            rx.text(t("Your role requires two-factor authentication, so it cannot be turned off."), size="2",
                    color_scheme="gray"),
            form(
                rx.vstack(
                    rx.text(t("To turn it off, confirm with your password and a code."), size="2"),
                    rx.hstack(
                        rx.input(name="password", type="password", placeholder=t("Password"), required=True,
                                 auto_complete="current-password"),
                        rx.input(name="code", placeholder=t("Code or recovery code"), required=True),
                        rx.button(t("Turn off"), type="submit", color_scheme="red", variant="soft",
                                  data_testid="disable-mfa"),
                        wrap="wrap",
                    ),
                    spacing="2",
                ),
                on_submit=SecurityState.disable_mfa, reset_on_submit=True, secret=True,
            ),
        ),
        spacing="3",
    )
    return card(
        t("Two-factor authentication"),
        rx.text(t("A code from an app on your phone, asked for after your password."), size="2", color_scheme="gray"),
        notice_callout(SecurityState.mfa_notice),
        error_callout(SecurityState.mfa_error),
        _codes(),
        rx.cond(SecurityState.mfa_enabled, enabled,
                rx.cond(SecurityState.enrolling, enroll,
                        rx.button(t("Set up two-factor authentication"), on_click=SecurityState.start_mfa,
                                  data_testid="start-mfa"))),
        icon="shield_check",
    )


def _session_row(s: SessionRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.vstack(rx.text(s.device, weight="medium"),
                                rx.cond(s.current, rx.badge(t("This device"), color_scheme="green")), spacing="1")),
        rx.table.cell(s.ip_address),
        rx.table.cell(rx.text(s.last_active, title=s.last_seen, data_testid="session-last-active"),
                      display=["none", "table-cell"]),
        rx.table.cell(s.started, display=["none", "none", "table-cell"]),
        rx.table.cell(rx.button(rx.cond(s.current, t("Sign out"), t("End")), size="1", variant="soft",
                                color_scheme="red", on_click=SecurityState.revoke(s.id))),
        data_testid="session-row",
    )


def _sessions_card() -> rx.Component:
    return card(
        t("Where you're signed in"),
        notice_callout(SecurityState.sessions_notice),
        rx.cond(SecurityState.offer_end_others,
                rx.callout(rx.hstack(rx.text(t("Sign out your other sessions too?")),
                                     rx.button(t("Sign them out"), size="1", on_click=SecurityState.revoke_others)),
                           icon="info")),
        rx.table.root(
            rx.table.header(rx.table.row(
                rx.table.column_header_cell(t("Device")), rx.table.column_header_cell(t("Address")),
                rx.table.column_header_cell(t("Last active"), display=["none", "table-cell"]),
                rx.table.column_header_cell(t("Signed in"), display=["none", "none", "table-cell"]),
                rx.table.column_header_cell(""))),
            rx.table.body(rx.foreach(SecurityState.sessions, _session_row),
                          rx.cond(SecurityState.show_older, rx.foreach(SecurityState.older_sessions, _session_row))),
            width="100%",
        ),
        rx.cond(SecurityState.older_sessions.length() > 0,
                rx.button(rx.cond(SecurityState.show_older, t("Show fewer"),
                                  tn("Show {n} older sessions", "Show {n} older sessions",
                                     SecurityState.older_sessions.length())),
                          variant="ghost", size="1", on_click=SecurityState.toggle_older,
                          data_testid="older-sessions")),
        rx.button(t("Sign out all other sessions"), variant="soft", on_click=SecurityState.revoke_others,
                  data_testid="end-others"),
        icon="monitor_smartphone",
    )


@shell(N_("Security"))
def security_page() -> rx.Component:
    return rx.cond(
        SecurityState.loaded,
        rx.vstack(_mfa_card(), sso_account_card(), _password_card(), _sessions_card(), spacing="4", width="100%"),
        rx.center(rx.spinner(size="3"), padding="4rem"),
    )


def register(app: rx.App) -> None:
    app.add_page(security_page, route="/account/security", title=N_("Security"),
                 on_load=[SecurityState.load, SsoAccountState.load])
