"""Sign-in page."""

from __future__ import annotations

import reflex as rx

from portal.components.common import error_callout, notice_callout
from portal.layouts.shell import public_frame
from portal.state.session import LoginState


def login_page() -> rx.Component:
    return public_frame(
        rx.card(
            rx.form(
                rx.vstack(
                    rx.heading("Sign in", size="6"),
                    rx.text("Track orders, manage returns and get help.", color_scheme="gray", size="2"),
                    notice_callout(LoginState.notice),
                    error_callout(LoginState.error),
                    rx.vstack(
                        rx.text("Email address", as_="label", html_for="email", size="2", weight="medium"),
                        rx.input(id="email", name="email", type="email", placeholder="you@example.com",
                                 auto_complete="username", required=True, width="100%", size="3"),
                        spacing="1", width="100%",
                    ),
                    rx.vstack(
                        rx.text("Password", as_="label", html_for="password", size="2", weight="medium"),
                        rx.input(id="password", name="password", type="password",
                                 auto_complete="current-password", required=True, width="100%", size="3"),
                        spacing="1", width="100%",
                    ),
                    rx.button("Sign in", type="submit", size="3", width="100%", data_testid="sign-in"),
                    spacing="4", width="100%",
                ),
                on_submit=LoginState.submit,
                reset_on_submit=False,
            ),
            size="4", width="100%",
        ),
    )


def register(app: rx.App) -> None:
    app.add_page(login_page, route="/login", title="Sign in", on_load=LoginState.on_load)
