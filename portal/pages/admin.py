"""Admin pages: audit trail, security policy, the support mailbox's log."""

from __future__ import annotations

import reflex as rx

from portal.components.common import card, empty_note, error_callout, form, named_select, notice_callout
from portal.i18n import N_, t, tn
from portal.layouts.shell import shell
from portal.state.admin import AdminAuditState, AdminMailState, AdminUsersState, AuditView, InboundView, UserView


def _outcome_labels() -> dict[str, object]:
    return {"any": t("any"), "ok": t("ok"), "failed": t("failed"), "denied": t("denied")}


def _role_labels() -> dict[str, object]:
    return {"customer": t("customer"), "agent": t("agent"), "admin": t("admin")}


def _row(r: AuditView) -> rx.Component:
    return rx.table.row(
        rx.table.cell(r.at, white_space="nowrap"),
        rx.table.cell(rx.code(r.action)),
        rx.table.cell(r.actor, " ", rx.cond(r.actor_kind != "user", rx.badge(r.actor_kind))),
        rx.table.cell(r.target, display=["none", "table-cell"]),
        rx.table.cell(rx.badge(rx.match(r.outcome, *_outcome_labels().items(), r.outcome),
                               color_scheme=rx.match(r.outcome, ("ok", "green"), ("denied", "red"),
                                                     ("failed", "orange"), "gray"))),
        rx.table.cell(r.ip_address, display=["none", "none", "table-cell"]),
        data_testid="audit-row",
    )


@shell(N_("Audit trail"))
def audit_page() -> rx.Component:
    s = AdminAuditState
    return rx.vstack(
        card(t("Security policy"),
             rx.hstack(rx.switch(checked=s.staff_mfa_required, on_change=s.set_staff_mfa,
                                 data_testid="staff-mfa-switch", aria_label=t("Require two-factor authentication")),
                       rx.text(t("Require two-factor authentication for agents and admins")), align="center"),
             icon="shield"),
        form(
            rx.hstack(
                rx.input(name="action", placeholder=t("Action, e.g. auth."), default_value=s.action),
                rx.input(name="actor", placeholder=t("Who (email)"), default_value=s.actor),
                named_select(["any", "ok", "failed", "denied"], t("Outcome"), _outcome_labels(), name="outcome",
                             default_value="any"),
                rx.button(t("Filter"), type="submit"),
                wrap="wrap", spacing="2",
            ),
            on_submit=s.filter, reset_on_submit=False,
        ),
        rx.text(tn("{n} events", "{n} events", s.total), size="2", color_scheme="gray"),
        # Wider than a phone: the box scrolls, and takes focus so the keyboard can scroll it too
        rx.box(rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in (t("When"), t("Action"), t("Who"))],
                                         rx.table.column_header_cell(t("Target"), display=["none", "table-cell"]),
                                         rx.table.column_header_cell(t("Outcome")),
                                         rx.table.column_header_cell(t("Address"), display=["none", "none",
                                                                                         "table-cell"]))),
            rx.table.body(rx.foreach(s.rows, _row)),
            min_width="100%", width="max-content",
        ), overflow_x="auto", width="100%", tab_index=0, role="region", aria_label=t("Audit events")),
        rx.hstack(
            rx.button(t("Previous"), on_click=s.go(s.page - 1), disabled=s.page <= 1, variant="soft"),
            rx.text(t("Page {page} of {pages}", page=s.page, pages=s.pages), size="2"),
            rx.button(t("Next"), on_click=s.go(s.page + 1), disabled=s.page >= s.pages, variant="soft"),
            align="center",
        ),
        spacing="4", width="100%",
    )


def _user_row(u: UserView) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.vstack(rx.text(u.name, weight="medium"), rx.text(u.email, size="1", color_scheme="gray"),
                                spacing="0")),
        rx.table.cell(rx.cond(u.mfa, rx.badge(t("MFA"), color_scheme="green"),
                              rx.badge(t("no MFA"), color_scheme="gray"))),
        rx.table.cell(rx.vstack(
            named_select(
                rx.cond(u.can_be_customer, ["customer", "agent", "admin"], ["agent", "admin"]), t("Role"),
                _role_labels(),
                value=u.role, on_change=lambda role: AdminUsersState.change_role(u.id, role), size="1",
                data_testid="role-select",
            ),
            rx.cond(AdminUsersState.confirm_user_id == u.id, _confirm_role()),
            spacing="2",
        )),
        data_testid="user-row",
    )


def _confirm_role() -> rx.Component:
    s = AdminUsersState
    return rx.vstack(
        rx.text(s.confirm_text, size="2"),
        rx.hstack(rx.button(t("Change role"), size="1", color_scheme="red", on_click=s.confirm_role,
                            data_testid="confirm-role"),
                  rx.button(t("Keep"), size="1", variant="soft", color_scheme="gray", on_click=s.cancel_role),
                  spacing="2"),
        spacing="1", role="alertdialog", data_testid="role-confirm",
    )


@shell(N_("People"))
def users_page() -> rx.Component:
    s = AdminUsersState
    return rx.vstack(
        notice_callout(s.notice),
        error_callout(s.error),
        form(rx.hstack(rx.input(name="query", placeholder=t("Name or email")),
                          named_select(["customer", "agent", "admin"], t("Role"), _role_labels(), name="role",
                                       placeholder=t("Any role")),
                          rx.button(t("Search"), type="submit"), wrap="wrap"),
                on_submit=s.search, reset_on_submit=False),
        rx.table.root(
            rx.table.header(rx.table.row(rx.table.column_header_cell(t("Person")),
                                         rx.table.column_header_cell(t("Sign-in")),
                                         rx.table.column_header_cell(t("Role")))),
            rx.table.body(rx.foreach(s.users, _user_row)),
            width="100%",
        ),
        spacing="4", width="100%",
    )


def _inbound_row(r: InboundView) -> rx.Component:
    return rx.table.row(
        rx.table.cell(r.at),
        rx.table.cell(rx.vstack(rx.text(r.subject, weight="medium"), rx.text(r.sender, size="1", color_scheme="gray"),
                                spacing="0")),
        rx.table.cell(rx.badge(r.status, color_scheme=rx.cond(r.status == "failed", "red", "gray"))),
        rx.table.cell(rx.text(r.ticket, " ", r.reason, size="2")),
        data_testid="inbound-row",
    )


@shell(N_("Support mailbox"))
def mail_page() -> rx.Component:
    s = AdminMailState
    return rx.vstack(
        rx.text(t("Messages read from the support mailbox (SUPPORT_IMAP_*). Failures stay in the mailbox's failure "
                  "folder; move one back to the inbox to have it read again."), size="2", color_scheme="gray"),
        rx.hstack(rx.switch(checked=s.failures_only, on_change=s.update_failures_only, data_testid="failures-only"),
                  rx.text(t("Failures only"), size="2"), align="center"),
        rx.cond(s.rows.length() > 0,
                rx.table.root(
                    rx.table.header(rx.table.row(rx.table.column_header_cell(t("Received")),
                                                 rx.table.column_header_cell(t("Message")),
                                                 rx.table.column_header_cell(t("Outcome")),
                                                 rx.table.column_header_cell(t("Ticket / reason")))),
                    rx.table.body(rx.foreach(s.rows, _inbound_row)), width="100%"),
                empty_note(t("Nothing read from the mailbox yet."))),
        spacing="4", width="100%",
    )


def register(app: rx.App) -> None:
    app.add_page(audit_page, route="/admin/audit", title=N_("Audit trail"), on_load=AdminAuditState.load)
    app.add_page(users_page, route="/admin/users", title=N_("People"), on_load=AdminUsersState.load)
    app.add_page(mail_page, route="/admin/mail", title=N_("Support mailbox"), on_load=AdminMailState.load)
