"""Staff home: the support queue at a glance."""

from __future__ import annotations

import reflex as rx

from portal.components.common import card
from portal.layouts.shell import shell
from portal.state.staff import StaffHomeState


def _count(label: str, key: str, color: str) -> rx.Component:
    return rx.vstack(
        rx.text(label, size="1", color_scheme="gray"),
        rx.heading(StaffHomeState.counts.get(key, 0), size="6", color_scheme=color),  # type: ignore[arg-type]
        spacing="0", align="start",
    )


@shell("Agent console")
def staff_page() -> rx.Component:
    return card(
        "Open tickets",
        rx.text(StaffHomeState.total_open, " tickets are waiting.", data_testid="queue-total"),
        rx.hstack(_count("Urgent", "urgent", "red"), _count("High", "high", "orange"),
                  _count("Normal", "normal", "blue"), _count("Low", "low", "gray"), spacing="6"),
        icon="inbox",
    )


def register(app: rx.App) -> None:
    app.add_page(staff_page, route="/agent", title="Agent console", on_load=StaffHomeState.load)
