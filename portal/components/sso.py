"""Single sign-on pieces: the login button and the account card (also for the security page)."""

from __future__ import annotations

import reflex as rx

from portal.components.common import card, empty_note, error_callout, notice_callout
from portal.i18n import t
from portal.state.sso import IdentityRow, SsoAccountState, SsoLoginState


def sso_login_block() -> rx.Component:
    """Under the password form; shown only when a provider is configured."""
    return rx.vstack(
        error_callout(SsoLoginState.error),
        rx.cond(
            SsoLoginState.enabled,
            rx.vstack(
                rx.hstack(rx.separator(size="4"), rx.text(t("or"), size="2", color_scheme="gray"),
                          rx.separator(size="4"), align="center", width="100%"),
                rx.button(
                    rx.icon("key_round", size=18), t("Sign in with {provider}", provider=SsoLoginState.provider_name),
                    on_click=SsoLoginState.start, variant="outline", size="3", width="100%",
                    type="button", data_testid="sso-sign-in",
                ),
                spacing="3", width="100%",
            ),
        ),
        spacing="3", width="100%", margin_top="1rem",
    )


def _identity_row(row: IdentityRow) -> rx.Component:
    return rx.hstack(
        rx.vstack(
            rx.text(row.email, weight="medium", size="2"),
            rx.text(row.issuer, size="1", color_scheme="gray"),
            rx.text(t("Linked {linked} · last used {last_used}", linked=row.linked, last_used=row.last_used),
                    size="1", color_scheme="gray"),
            spacing="0",
        ),
        rx.spacer(),
        rx.button(t("Remove"), variant="soft", color_scheme="red", size="1",
                  on_click=SsoAccountState.unlink(row.id), data_testid="sso-unlink"),
        width="100%", align="center", data_testid="sso-identity",
    )


def sso_account_card() -> rx.Component:
    """Linked sign-ins and the link button (expects SsoAccountState.load to have run)."""
    return card(
        t("Single sign-on"),
        notice_callout(SsoAccountState.notice),
        error_callout(SsoAccountState.error),
        rx.cond(
            SsoAccountState.enabled,
            rx.vstack(
                rx.cond(
                    SsoAccountState.identities.length() > 0,
                    rx.vstack(rx.foreach(SsoAccountState.identities, _identity_row), width="100%", spacing="3"),
                    empty_note(t("No single sign-on is linked to your account yet.")),
                ),
                rx.button(t("Link {provider}", provider=SsoAccountState.provider_name), on_click=SsoAccountState.link,
                          variant="outline", data_testid="sso-link"),
                spacing="3", width="100%",
            ),
            empty_note(t("Single sign-on is not set up for this portal.")),
        ),
        icon="key_round", test_id="sso-card",
    )
