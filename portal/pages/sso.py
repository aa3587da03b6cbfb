"""The account's single sign-on links."""

from __future__ import annotations

import reflex as rx

from portal.components.sso import sso_account_card
from portal.layouts.shell import shell
from portal.state.sso import ACCOUNT_PATH, SsoAccountState


@shell("Single sign-on")
def sso_account_page() -> rx.Component:
    return rx.vstack(sso_account_card(), width="100%", max_width="40rem")


def register(app: rx.App) -> None:
    app.add_page(sso_account_page, route=ACCOUNT_PATH, title="Single sign-on", on_load=SsoAccountState.load)
