"""The bell in the header: unread count, the latest notifications, mark read, open the link."""

from __future__ import annotations

import reflex as rx

from portal.i18n import t, tc
from portal.state.notifications import NotificationRow, NotificationState


def notification_item(n: NotificationRow, *, compact: bool = False) -> rx.Component:
    return rx.hstack(
        rx.icon(n.icon, size=16, color=rx.color("accent", 10), flex_shrink="0", margin_top="0.2rem"),
        rx.vstack(
            rx.text(n.title, size="2", weight=rx.cond(n.read, "regular", "bold")),
            rx.text(n.body, size="1", color_scheme="gray") if not compact else rx.fragment(),
            rx.text(n.kind_label, " · ", n.when, size="1", color_scheme="gray"),
            rx.cond(n.help_link != "",
                    rx.link(rx.hstack(rx.icon("life_buoy", size=14), rx.text(t("Get help with this"), size="1"),
                                      spacing="1", align="center"),
                            href=n.help_link, data_testid="notification-help")),
            spacing="0", align="start", flex="1",
        ),
        rx.vstack(
            rx.cond(n.link != "",
                    rx.button(tc("button", "Open"), size="1", variant="soft",
                              on_click=NotificationState.open_notification(n.id), data_testid="notification-open")),
            rx.cond(~n.read,
                    rx.button(t("Mark read"), size="1", variant="ghost",
                              on_click=NotificationState.mark_read(n.id), data_testid="notification-mark-read")),
            spacing="1", align="end",
        ),
        width="100%", align="start", padding_y="0.5rem",
        border_bottom=f"1px solid {rx.color('gray', 4)}",
        data_testid="notification-item", data_read=n.read.to_string(),
    )


def bell() -> rx.Component:
    return rx.popover.root(
        # The button itself opens the panel (a wrapping box would be an unnamed, unfocusable trigger)
        rx.popover.trigger(
            rx.icon_button(
                rx.icon("bell", size=18),
                rx.cond(NotificationState.unread > 0,
                        rx.badge(NotificationState.badge, color_scheme="red", variant="solid", radius="full",
                                 size="1", position="absolute", top="-6px", right="-8px", pointer_events="none",
                                 aria_hidden="true", data_testid="unread-count")),
                variant="ghost", position="relative", data_testid="bell",
                aria_label=rx.cond(NotificationState.unread > 0,
                                   t("Notifications, {count} unread", count=NotificationState.badge),
                                   t("Notifications")),
            ),
        ),
        rx.popover.content(
            rx.vstack(
                rx.hstack(
                    rx.heading(t("Notifications"), size="3"), rx.spacer(),
                    rx.cond(NotificationState.unread > 0,
                            rx.button(t("Mark all read"), size="1", variant="ghost",
                                      on_click=NotificationState.mark_all_read, data_testid="mark-all-read")),
                    width="100%", align="center",
                ),
                rx.cond(NotificationState.items.length() > 0,
                        rx.scroll_area(
                            rx.vstack(rx.foreach(NotificationState.items[:8],
                                                 lambda n: notification_item(n, compact=True)),
                                      spacing="0", width="100%"),
                            max_height="24rem", type="auto", scrollbars="vertical",
                        ),
                        rx.text(t("Nothing new."), size="2", color_scheme="gray")),
                rx.link(t("See all notifications"), href="/notifications", size="2"),
                spacing="2", width="22rem", max_width="90vw",
            ),
            data_testid="bell-panel",
        ),
    )


def bell_mount() -> rx.Component:
    """The bell in the header. It is loaded with the navigation's own first event
    (state/arrival.py), not by an event of its own, and then updates live."""
    return rx.box(
        bell(),
        # A notification pushed while the page is open is announced, politely: it never takes the focus.
        rx.el.div(NotificationState.announce, role="status", aria_live="polite", aria_atomic="true",
                  class_name="sr-only", data_testid="notification-announce"),
    )
