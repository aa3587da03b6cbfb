"""Admin pages: API keys (/admin/api-keys) and outbound webhooks (/admin/webhooks)."""

from __future__ import annotations

import reflex as rx

from portal.components.common import card, empty_note, error_callout, form, notice_callout, secret_panel
from portal.domain.api.keys import RESOURCES
from portal.domain.api.webhooks import KNOWN_KINDS
from portal.i18n import N_, t
from portal.layouts.shell import shell
from portal.state.admin_api import (
    NEW_KEY,
    NEW_KEY_NAME,
    NEW_WEBHOOK_SECRET,
    AdminApiKeysState,
    AdminWebhooksState,
    DeliveryView,
    EndpointView,
    KeyView,
)
from portal.state.shown_once import conceal


def _shown_once(message: str | rx.Var, slot: str, *extra: str) -> rx.Component:
    """Empty and hidden until the handler that made the secret reveals it (never a state var)."""
    return secret_panel(
        rx.callout(
            rx.vstack(
                rx.text(message),
                *[rx.text(t("For:"), " ", rx.text.span(id=e, weight="medium"), size="2") for e in extra],
                rx.code(id=slot, data_testid=slot, size="3", style={"word_break": "break-all"}),
                rx.button(t("I have copied it"), on_click=conceal(slot, *extra), size="1", variant="soft"),
                spacing="2",
            ),
            icon="key_round", color_scheme="amber", width="100%",
        ),
        test_id=f"{slot}-panel",
    )


def _scope_select(resource: str) -> rx.Component:
    return rx.select.root(
        rx.select.trigger(data_testid=f"scope-{resource}", aria_label=t("{resource} access", resource=resource)),
        rx.select.content(*[rx.select.item(t(label), value=level)
                             for level, label in (("none", N_("none")), ("read", N_("read")), ("write", N_("write")))]),
        name=f"scope_{resource}", default_value="none", size="1",
    )


def _key_row(k: KeyView) -> rx.Component:
    s = AdminApiKeysState
    return rx.table.row(
        rx.table.cell(rx.vstack(rx.text(k.name, weight="medium"), rx.code(k.prefix, size="1"), spacing="1")),
        rx.table.cell(rx.text(k.scopes, size="1")),
        rx.table.cell(rx.text(k.created, size="1"), display=["none", "table-cell"]),
        rx.table.cell(rx.text(k.last_used, size="1"), display=["none", "table-cell"]),
        rx.table.cell(rx.cond(
            k.revoked, rx.badge(t("revoked"), color_scheme="gray"),
            rx.hstack(rx.button(t("Rotate"), size="1", variant="soft", on_click=s.rotate(k.id),
                                data_testid="rotate-key"),
                      rx.button(t("Revoke"), size="1", color_scheme="red", variant="soft", on_click=s.revoke(k.id),
                                data_testid="revoke-key")),
        )),
        data_testid="api-key-row",
    )


@shell(N_("API keys"))
def api_keys_page() -> rx.Component:
    s = AdminApiKeysState
    return rx.vstack(
        _shown_once(t("Copy this key now: it is shown only once and cannot be retrieved later."),
                    NEW_KEY, NEW_KEY_NAME),
        error_callout(s.error),
        card(t("New key"),
             form(
                 rx.vstack(
                     rx.input(name="name", placeholder=t("Who uses it, e.g. ERP"), max_length=100,
                              data_testid="key-name"),
                     rx.grid(*[rx.hstack(rx.text(res, size="2", width="7em"),
                                         _scope_select(res), align="center")
                               for res in RESOURCES], columns=rx.breakpoints(initial="1", sm="2"), spacing="2"),
                     rx.button(t("Create key"), type="submit", data_testid="create-key"),
                     spacing="3",
                 ),
                 on_submit=s.create, reset_on_submit=False,
             ),
             rx.text(t("Systems authenticate with 'Authorization: Bearer <key>'. Only a hash of the key is "
                       "stored. The API is described at /api/v1/openapi.json."), size="1", color_scheme="gray"),
             icon="key_round"),
        rx.cond(s.keys.length() > 0,
                rx.table.root(
                    rx.table.header(rx.table.row(
                        rx.table.column_header_cell(t("Key")), rx.table.column_header_cell(t("Scopes")),
                        rx.table.column_header_cell(t("Created"), display=["none", "table-cell"]),
                        rx.table.column_header_cell(t("Last used"), display=["none", "table-cell"]),
                        rx.table.column_header_cell(""))),
                    rx.table.body(rx.foreach(s.keys, _key_row)), width="100%"),
                empty_note(t("No API keys yet."))),
        spacing="4", width="100%",
    )


def _endpoint_row(e: EndpointView) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.vstack(rx.text(e.url, size="2", style={"word_break": "break-all"}),
                                rx.text(e.description, size="1", color_scheme="gray"), spacing="1")),
        rx.table.cell(rx.text(e.kinds, size="1")),
        rx.table.cell(rx.text(t("{pending} pending, {failed} failed", pending=e.pending, failed=e.failed), size="1")),
        rx.table.cell(rx.switch(checked=e.active, aria_label=t("Active"),
                                on_change=lambda v: AdminWebhooksState.set_active(e.id, v))),
        data_testid="webhook-endpoint-row",
    )


def _delivery_row(d: DeliveryView) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.vstack(rx.code(d.kind, size="1"), rx.text(d.event_id, size="1", color_scheme="gray"),
                                spacing="1")),
        rx.table.cell(rx.badge(d.status, color_scheme=rx.match(d.status, ("succeeded", "green"),
                                                               ("failed", "red"), "amber"))),
        rx.table.cell(rx.text(d.attempts, size="1")),
        rx.table.cell(rx.vstack(rx.text(d.code, size="1"), rx.text(d.response, size="1", color_scheme="gray"),
                                spacing="1")),
        rx.table.cell(rx.text(d.next_attempt, size="1"), display=["none", "table-cell"]),
        rx.table.cell(rx.button(t("Replay"), size="1", variant="soft", on_click=AdminWebhooksState.replay(d.id),
                                data_testid="replay-delivery")),
        data_testid="webhook-delivery-row",
    )


@shell(N_("Webhooks"))
def webhooks_page() -> rx.Component:
    s = AdminWebhooksState
    return rx.vstack(
        _shown_once(t("Copy this signing secret now: it is shown only once and cannot be retrieved later."),
                    NEW_WEBHOOK_SECRET),
        notice_callout(s.notice),
        error_callout(s.error),
        card(t("New endpoint"),
             form(
                 rx.vstack(
                     rx.input(name="url", placeholder="https://erp.example.com/hooks/portal", max_length=500,
                              data_testid="webhook-url"),
                     rx.input(name="description", placeholder=t("Description (optional)"), max_length=200),
                     rx.input(name="kinds",
                              placeholder=t("Kinds, e.g. order.cancel_requested, ticket.*; empty for all"),
                              data_testid="webhook-kinds"),
                     rx.text(t("Kinds sent today: {kinds}", kinds=", ".join(KNOWN_KINDS)), size="1",
                             color_scheme="gray"),
                     rx.button(t("Add endpoint"), type="submit", data_testid="create-webhook"),
                     spacing="2", width="100%",
                 ),
                 on_submit=s.create, reset_on_submit=False,
             ),
             rx.text(t("Each delivery carries X-Portal-Event-Id, X-Portal-Timestamp and X-Portal-Signature: "
                       "v1=hex(HMAC-SHA256(secret, timestamp + '.' + body)). Refuse timestamps older than five "
                       "minutes."), size="1", color_scheme="gray"),
             icon="webhook"),
        rx.table.root(rx.table.body(rx.foreach(s.endpoints, _endpoint_row)), width="100%"),
        card(t("Recent deliveries"),
             rx.cond(s.deliveries.length() > 0,
                     rx.table.root(
                         rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in
                                                        (t("Event"), t("Status"), t("Attempts"), t("Last response"))],
                                                      rx.table.column_header_cell(t("Next attempt"),
                                                                                  display=["none", "table-cell"]),
                                                      rx.table.column_header_cell(""))),
                         rx.table.body(rx.foreach(s.deliveries, _delivery_row)), width="100%"),
                     empty_note(t("Nothing delivered yet."))),
             icon="send", action=rx.button(t("Refresh"), size="1", variant="soft", on_click=s.refresh)),
        spacing="4", width="100%",
    )


def register(app: rx.App) -> None:
    app.add_page(api_keys_page, route="/admin/api-keys", title=N_("API keys"), on_load=AdminApiKeysState.load)
    app.add_page(webhooks_page, route="/admin/webhooks", title=N_("Webhooks"), on_load=AdminWebhooksState.load)
