"""The notification center: everything the portal told you, newest first."""

from __future__ import annotations

import reflex as rx

from portal.components.common import card, error_callout
from portal.components.notifications import notification_item
from portal.i18n import N_, t
from portal.layouts.shell import shell
from portal.state.notifications import NotificationState


@shell(N_("Notifications"))
def notifications_page() -> rx.Component:
    return card(
        t("All notifications"),
        error_callout(NotificationState.error),
        rx.cond(NotificationState.items.length() > 0,
                rx.vstack(rx.foreach(NotificationState.items, notification_item), spacing="0", width="100%",
                          data_testid="notification-list"),
                rx.text(t("You have no notifications."), size="2", color_scheme="gray")),
        rx.link(t("Choose which ones also come by email"), href="/account/profile#email", size="2"),
        icon="bell",
        action=rx.button(t("Mark all read"), size="1", variant="soft", on_click=NotificationState.mark_all_read),
    )


def register(app: rx.App) -> None:
    app.add_page(notifications_page, route="/notifications", title=N_("Notifications"), on_load=NotificationState.load)
