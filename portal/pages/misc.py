"""Index redirect and the 404 page."""

from __future__ import annotations

import reflex as rx

from portal.i18n import N_, t
from portal.layouts.shell import public_frame
from portal.state.session import IndexState


def index_page() -> rx.Component:
    return rx.center(rx.spinner(size="3"), min_height="100vh")


def not_found_page() -> rx.Component:
    return public_frame(
        rx.card(
            rx.vstack(
                rx.heading(t("Page not found"), size="6"),
                rx.text(t("The page you asked for does not exist or has moved."), color_scheme="gray"),
                rx.link(rx.button(t("Go to your home page")), href="/"),
                spacing="3",
            ),
            size="4", width="100%",
        ),
    )


def register(app: rx.App) -> None:
    app.add_page(index_page, route="/", title=N_("Customer portal"), on_load=IndexState.route)
    app.add_page(not_found_page, route="404", title=N_("Page not found"))
