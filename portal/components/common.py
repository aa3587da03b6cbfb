"""Small presentational building blocks."""

from __future__ import annotations

import reflex as rx

STATUS_COLORS = {
    "placed": "gray", "paid": "blue", "packed": "iris", "shipped": "indigo",
    "out_for_delivery": "amber", "delivered": "green", "returned": "orange", "cancelled": "red",
}


def status_badge(status: rx.Var, label: rx.Var) -> rx.Component:
    return rx.badge(
        label,
        color_scheme=rx.match(status, *[(k, v) for k, v in STATUS_COLORS.items()], "gray"),
        variant="soft", radius="full",
    )


def card(title: str, *children: rx.Component, icon: str = "", action: rx.Component | None = None,
         test_id: str = "") -> rx.Component:
    header = rx.hstack(
        rx.cond(icon != "", rx.icon(icon or "circle", size=18, color=rx.color("accent", 10))),
        rx.heading(title, size="4", weight="medium"),
        rx.spacer(),
        action if action is not None else rx.fragment(),
        align="center", width="100%",
    )
    return rx.card(rx.vstack(header, *children, spacing="3", width="100%"), width="100%",
                   data_testid=test_id or None)


def empty_note(text: str) -> rx.Component:
    return rx.text(text, color_scheme="gray", size="2")


def error_callout(message: rx.Var) -> rx.Component:
    return rx.cond(
        message != "",
        rx.callout(message, icon="triangle_alert", color_scheme="red", role="alert", width="100%"),
    )


def notice_callout(message: rx.Var) -> rx.Component:
    return rx.cond(
        message != "",
        rx.callout(message, icon="info", color_scheme="blue", width="100%"),
    )


def download_link(child: rx.Component | str, href: rx.Var | str, test_id: str = "", **props: object) -> rx.Component:
    """A link to a file served by an api/ route. Reflex renders anchors as router links; a document
    navigation makes the browser fetch the file (with the session cookie) instead of the client-side
    router looking for a page of that name."""
    from reflex_components_core.react_router.dom import ReactRouterLink

    return ReactRouterLink.create(child, to=href, reload_document=True, download="", data_testid=test_id or None,
                                  **props)
