"""The customer's home: their own arrangement of widgets."""

from __future__ import annotations

import reflex as rx

from portal.components.common import empty_note, status_badge
from portal.i18n import N_, t, tn
from portal.layouts.shell import shell
from portal.pages.timeline import timeline_row
from portal.state.dashboard import (
    ArticleRow,
    DashboardState,
    DocumentRow,
    OfferRow,
    OrderRow,
    ShipmentRow,
    TicketRow,
    WidgetChoice,
    WidgetView,
)
from portal.state.notifications import NotificationRow

_ROW = {"width": "100%", "padding_y": "0.4rem", "border_bottom": f"1px solid {rx.color('gray', 4)}"}


def _order_row(o: OrderRow) -> rx.Component:
    return rx.hstack(
        rx.vstack(
            rx.link(o.number, href="/orders/" + o.id.to_string(), weight="medium", size="2"),
            rx.text(o.summary, size="1", color_scheme="gray"),
            spacing="0", align="start",
        ),
        rx.spacer(),
        rx.vstack(
            status_badge(o.status, o.status_label),
            rx.text(o.total, " · ", o.placed, size="1", color_scheme="gray"),
            spacing="1", align="end",
        ),
        data_testid="order-row", **_ROW,
    )


def _ticket_row(tk: TicketRow) -> rx.Component:
    return rx.hstack(
        rx.vstack(
            rx.text(tk.subject, weight="medium", size="2"),
            rx.text(t("{number} · updated {date}", number=tk.number, date=tk.updated), size="1", color_scheme="gray"),
            spacing="0", align="start",
        ),
        rx.spacer(),
        rx.badge(tk.status, variant="soft"),
        data_testid="ticket-row", **_ROW,
    )


def _shipment_row(s: ShipmentRow) -> rx.Component:
    return rx.hstack(
        rx.vstack(
            rx.link(s.carrier, " ", s.tracking_number, href="/shipments/" + s.id.to_string(), size="2"),
            rx.text(rx.cond(s.expected != "", t("Expected {date}", date=s.expected), ""), size="1",
                    color_scheme="gray"),
            spacing="0", align="start",
        ),
        rx.spacer(),
        rx.badge(s.status, variant="soft", color_scheme="indigo"),
        data_testid="shipment-row", **_ROW,
    )


def _document_row(d: DocumentRow) -> rx.Component:
    return rx.hstack(rx.icon("signature", size=16), rx.text(d.title, size="2"), rx.spacer(),
                     rx.text(d.added, size="1", color_scheme="gray"), data_testid="document-row", **_ROW)


def _note_row(n: NotificationRow) -> rx.Component:
    return rx.hstack(
        rx.icon(n.icon, size=16),
        rx.text(n.title, size="2", weight=rx.cond(n.read, "regular", "bold")),
        rx.spacer(),
        rx.text(n.when, size="1", color_scheme="gray"),
        data_testid="dashboard-note", **_ROW,
    )


def _offer_row(o: OfferRow) -> rx.Component:
    return rx.vstack(
        rx.text(o.title, size="2", weight="medium"),
        rx.text(o.reason, size="1", color_scheme="gray"),
        rx.text(t("Ends {date}", date=o.ends), size="1", color_scheme="gray"),
        spacing="0", align="start", data_testid="offer-row", **_ROW,
    )


def _article_row(a: ArticleRow) -> rx.Component:
    return rx.vstack(rx.link(a.title, href="/help/" + a.slug.to(str), size="2"),
                     rx.text(a.summary, size="1", color_scheme="gray"),
                     spacing="0", align="start", data_testid="article-row", **_ROW)


def _list(items: rx.Var, render: object, empty: str | rx.Var, test_id: str) -> rx.Component:
    return rx.cond(items.length() > 0,  # type: ignore[attr-defined]
                   rx.vstack(rx.foreach(items, render), spacing="0", width="100%", data_testid=test_id),  # type: ignore[arg-type]
                   empty_note(empty))


def _balance() -> rx.Component:
    b = DashboardState.balance
    return rx.vstack(
        rx.text(t("Due"), size="1", color_scheme="gray"),
        rx.heading(b.due, size="7", data_testid="balance-due"),
        rx.cond(b.has_overdue,
                rx.badge(rx.icon("triangle_alert", size=12), t("{amount} overdue", amount=b.overdue),
                         color_scheme="red"),
                rx.text(rx.cond(b.next_due != "", t("Next due {date}", date=b.next_due), t("Nothing due")),
                        size="1", color_scheme="gray")),
        rx.text(t("Store credit: {amount}", amount=b.store_credit), size="2"),
        spacing="1", align="start", data_testid="balance-card",
    )


_ICONS = {"recent_orders": "package", "shipments": "truck", "open_tickets": "life_buoy", "balance": "wallet",
          "documents": "signature", "notifications": "bell", "offers": "gift", "help": "book_open",
          "timeline": "history"}
_TEST_IDS = {"recent_orders": "recent-orders", "open_tickets": "open-tickets"}


def _body(kind: rx.Var) -> rx.Component:
    s = DashboardState
    return rx.match(
        kind,
        ("recent_orders", _list(s.orders, _order_row, t("You have no orders yet."), "recent-orders")),
        ("open_tickets", _list(s.tickets, _ticket_row, t("No open tickets. We are here if you need us."),
                               "open-tickets")),
        ("balance", _balance()),
        ("shipments", _list(s.shipments, _shipment_row, t("Nothing on its way right now."), "shipments")),
        ("documents", _list(s.documents, _document_row, t("No documents are waiting for your signature."),
                            "documents")),
        ("notifications", _list(s.notes, _note_row, t("No notifications."), "dashboard-notes")),
        ("offers", _list(s.offers, _offer_row, t("No offers for you right now."), "offers")),
        ("help", _list(s.articles, _article_row, t("No articles yet."), "help")),
        ("timeline", _list(s.activity, timeline_row, t("Nothing has happened on your account yet."), "activity")),
        rx.fragment(),
    )


def _controls(w: WidgetView) -> rx.Component:
    return rx.hstack(
        rx.icon_button(rx.icon("arrow_up", size=14), size="1", variant="soft", disabled=w.first,
                       on_click=DashboardState.move_widget(w.kind, -1), aria_label=t("Move up"),
                       data_testid="widget-up"),
        rx.icon_button(rx.icon("arrow_down", size=14), size="1", variant="soft", disabled=w.last,
                       on_click=DashboardState.move_widget(w.kind, 1), aria_label=t("Move down"),
                       data_testid="widget-down"),
        rx.select.root(
            rx.select.trigger(aria_label=t("Size"), data_testid="widget-size"),
            rx.select.content(rx.select.item(t("Small"), value="sm"), rx.select.item(t("Medium"), value="md"),
                              rx.select.item(t("Large"), value="lg")),
            value=w.size, size="1",
            on_change=lambda v: DashboardState.resize_widget(w.kind, v),
        ),
        rx.cond(w.has_limit,
                rx.select.root(
                    rx.select.trigger(aria_label=t("How many"), data_testid="widget-limit"),
                    rx.select.content(*[rx.select.item(tn("{n} items", "{n} items", n), value=str(n))
                                        for n in (1, 3, 5, 10)]),
                    value=w.limit.to_string(), size="1",
                    on_change=lambda v: DashboardState.set_limit(w.kind, v),
                )),
        rx.icon_button(rx.icon("x", size=14), size="1", variant="soft", color_scheme="red",
                       on_click=DashboardState.remove_widget(w.kind), aria_label=t("Remove"),
                       data_testid="widget-remove"),
        spacing="1", align="center", wrap="wrap",
    )


def _widget(w: WidgetView) -> rx.Component:
    header = rx.hstack(
        rx.match(w.kind, *[(k, rx.icon(i, size=18, color=rx.color("accent", 10))) for k, i in _ICONS.items()],
                 rx.icon("circle", size=18)),
        rx.heading(w.title, size="4", weight="medium"),
        rx.spacer(),
        rx.match(w.kind, ("notifications", rx.link(t("See all"), href="/notifications", size="1")),
                 ("offers", rx.link(t("See all"), href="/offers", size="1")),
                 ("timeline", rx.link(t("See all"), href="/timeline", size="1")), rx.fragment()),
        rx.cond(DashboardState.editing, _controls(w)),
        align="center", width="100%", wrap="wrap",
    )
    return rx.box(
        rx.card(rx.vstack(header, _body(w.kind), spacing="3", width="100%"), width="100%", height="100%"),
        grid_column=rx.breakpoints(initial="span 1",
                                   md=rx.match(w.size, ("sm", "span 1"), ("md", "span 2"), "span 3")),
        data_testid="widget-" + w.kind.to(str), data_size=w.size,
    )


def _add_choice(c: WidgetChoice) -> rx.Component:
    return rx.button(rx.icon("plus", size=14), c.title, size="1", variant="outline",
                     on_click=DashboardState.add_widget(c.kind), data_testid="add-" + c.kind.to(str))


def _toolbar() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.spacer(),
            rx.button(rx.cond(DashboardState.editing, t("Done"), t("Arrange")), variant="soft", size="2",
                      on_click=DashboardState.toggle_edit, data_testid="arrange"),
            width="100%",
        ),
        rx.cond(DashboardState.error != "",
                rx.callout(DashboardState.error, icon="triangle_alert", color_scheme="red", width="100%")),
        rx.cond(DashboardState.editing & (DashboardState.available.length() > 0),
                rx.hstack(rx.text(t("Add:"), size="2"), rx.foreach(DashboardState.available, _add_choice),
                          wrap="wrap", spacing="2", align="center")),
        width="100%", spacing="2",
    )


@shell(N_("Home"))
def dashboard_page() -> rx.Component:
    return rx.cond(
        DashboardState.loaded,
        rx.vstack(
            _toolbar(),
            rx.grid(
                rx.foreach(DashboardState.widgets, _widget),
                # The same breakpoint as the widgets' spans, so a wide widget never overflows.
                grid_template_columns=rx.breakpoints(initial="minmax(0, 1fr)", md="repeat(3, minmax(0, 1fr))"),
                spacing="4", width="100%", data_testid="dashboard-grid",
            ),
            width="100%", spacing="3",
        ),
        rx.center(rx.spinner(size="3"), padding="4rem"),
    )


def register(app: rx.App) -> None:
    app.add_page(dashboard_page, route="/dashboard", title=N_("Home"), on_load=DashboardState.load)
