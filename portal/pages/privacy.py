"""Your data: download an archive of everything, or close the account."""

from __future__ import annotations

import reflex as rx

from portal.components.common import card, download_link, error_callout, form, label_for
from portal.i18n import N_, t
from portal.layouts.shell import shell
from portal.state.privacy import PrivacyState


@shell(N_("Your data"))
def privacy_page() -> rx.Component:
    return rx.vstack(
        card(
            t("Download your data"),
            rx.text(t("One zip file with your profile, addresses, orders, shipments, returns, tickets, invoices, "
                      "payments, documents (with their files), notifications, offers and the audit trail of your "
                      "account."), size="2"),
            # The browser itself fetches the route (with the session cookie). Until the page has loaded
            # its address, the button is shown disabled: an empty href reloads the page.
            rx.cond(PrivacyState.export_url != "",
                    download_link(rx.button(rx.icon("download", size=14), t("Download everything"), as_child=False),
                                  PrivacyState.export_url, test_id="export-data"),
                    rx.button(rx.icon("download", size=14), t("Download everything"), disabled=True)),
            icon="archive",
        ),
        card(
            t("Close your account"),
            rx.text(t("Closing signs out every session of your account and nobody can sign in to it again. We are "
                      "told, and keep only what the law requires (such as invoices)."), size="2"),
            error_callout(PrivacyState.close_error),
            form(
                rx.vstack(
                    label_for(t("Your password"), "close-password", size="2"),
                    rx.input(id="close-password", name="password", type="password",
                             auto_complete="current-password", required=True, width="100%"),
                    label_for(t("Type CLOSE to confirm"), "close-confirm", size="2"),
                    rx.input(id="close-confirm", name="confirm", required=True, width="100%", auto_complete="off"),
                    rx.button(t("Close my account"), type="submit", color_scheme="red", data_testid="close-account"),
                    spacing="2", width="100%", max_width="26rem",
                ),
                on_submit=PrivacyState.close_account, secret=True,
            ),
            icon="user_x",
        ),
        width="100%", spacing="4",
    )


def register(app: rx.App) -> None:
    app.add_page(privacy_page, route="/account/privacy", title=N_("Your data"), on_load=PrivacyState.load)
