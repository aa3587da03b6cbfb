"""Customers' support pages: get help (new ticket), their tickets, one ticket's thread."""

from __future__ import annotations

from typing import Any

import reflex as rx

from portal.components.common import (
    card,
    download_link,
    empty_note,
    error_callout,
    for_this_page,
    label_for,
    notice_callout,
    upload_area,
)
from portal.domain.support import CATEGORIES, CATEGORY_LABELS, PRIORITIES
from portal.i18n import N_, t, tn
from portal.layouts.shell import shell
from portal.settings import get_settings
from portal.state.insights import TrackState
from portal.state.support import (
    FileRow,
    MessageRow,
    NewTicketState,
    SuggestionRow,
    TicketListRow,
    TicketListState,
    TicketThreadState,
)

ACCEPT = {"image/png": [".png"], "image/jpeg": [".jpg", ".jpeg"], "image/gif": [".gif"],
          "image/webp": [".webp"], "application/pdf": [".pdf"], "text/plain": [".txt", ".log", ".csv"]}
TICKET_STATUS_COLORS = {"new": "blue", "open": "blue", "pending": "amber", "resolved": "green", "closed": "gray"}
# What a category, a priority and a status are called in the selects (the values stay as they are).
CHOICE_LABELS = {
    **CATEGORY_LABELS,
    "low": N_("Low"), "normal": N_("Normal"), "high": N_("High"), "urgent": N_("Urgent"),
    "new": N_("New"), "open": N_("Open"), "pending": N_("Pending"), "resolved": N_("Resolved"),
    "closed": N_("Closed"),
}


def choice_label(value: str) -> Any:
    """A category, priority or status by its name, in the tab's language."""
    return t(CHOICE_LABELS.get(value, value.capitalize()))


def ticket_status_badge(status: rx.Var, label: rx.Var) -> rx.Component:
    return rx.badge(label, color_scheme=rx.match(status, *TICKET_STATUS_COLORS.items(), "gray"),  # type: ignore[arg-type]
                    variant="soft", radius="full", data_testid="ticket-status")


def staged_files(rows: rx.Var, remove: object) -> rx.Component:
    return rx.foreach(rows, lambda f: rx.hstack(
        rx.icon("paperclip", size=14), rx.text(f.name, size="2"), rx.text(f.size, size="1", color_scheme="gray"),
        rx.icon_button(rx.icon("x", size=12), size="1", variant="ghost", aria_label=t("Remove file"),
                       on_click=remove(f.id)),  # type: ignore[operator]
        align="center", data_testid="staged-file"))


def upload_zone(upload_id: str, handler: object, label: str = N_("Attach files")) -> rx.Component:
    # The label names Reflex's file input (which takes no attributes of ours) by the button's words
    return upload_area(rx.el.label(rx.upload(
        rx.button(rx.icon("paperclip", size=16), t(label), variant="soft", type="button"),
        id=upload_id, multiple=True, max_files=get_settings().support_attachments_per_message,
        max_size=get_settings().support_attachment_max_bytes, accept=ACCEPT, on_drop=handler,
        border="none", padding="0", data_testid=f"{upload_id}-upload",
    )))


def file_link(f: FileRow) -> rx.Component:
    return download_link(rx.hstack(rx.icon("paperclip", size=14), rx.text(f.name, size="2"),
                                   rx.text(f.size, color_scheme="gray", size="2"), spacing="1", align="center",
                                   color=rx.color("accent", 11)),
                         f.url, test_id="attachment-link")


def thread_message(m: MessageRow) -> rx.Component:
    return rx.box(
        rx.hstack(
            rx.text(m.author, weight="bold", size="2"),
            rx.cond(m.author_kind == "agent", rx.badge(t("Support"), size="1", variant="soft")),
            rx.cond(m.internal, rx.badge(t("Internal note"), size="1", color_scheme="amber")),
            rx.cond(m.via_email, rx.badge(rx.icon("mail", size=12), t("By email"), size="1", variant="outline",
                                          data_testid="via-email")),
            rx.cond(m.undelivered, rx.badge(t("Not delivered"), size="1", color_scheme="red",
                                            data_testid="undelivered")),
            rx.spacer(), rx.text(m.when, size="1", color_scheme="gray"), width="100%", align="center",
        ),
        rx.text(m.body, size="2", white_space="pre-wrap", data_testid="message-body"),
        rx.foreach(m.files, file_link),
        padding="0.75rem", border_radius="8px", width="100%",
        background_color=rx.cond(m.internal, rx.color("amber", 3),
                                 rx.cond(m.author_kind == "customer", rx.color("gray", 2), rx.color("accent", 2))),
        data_testid="thread-message",
    )


def _suggestion(s: SuggestionRow) -> rx.Component:
    return rx.box(
        rx.text(s.title, weight="medium", size="2"),
        rx.text(s.summary, size="1", color_scheme="gray"),
        rx.button(t("This solved my problem"), size="1", variant="soft", margin_top="0.25rem",
                  on_click=NewTicketState.solved_by(s.id)),
        padding_y="0.4rem", border_bottom=f"1px solid {rx.color('gray', 4)}", width="100%",
        data_testid="suggestion",
    )


def _select(value: rx.Var, options: tuple[str, ...], on_change: object, test_id: str, label: str) -> rx.Component:
    return rx.select.root(
        rx.select.trigger(data_testid=test_id, aria_label=label),
        rx.select.content(*[rx.select.item(choice_label(o), value=o) for o in options]),
        value=value, on_change=on_change,
    )


@shell(N_("Get help"))
def new_ticket_page() -> rx.Component:
    s = NewTicketState
    return rx.grid(
        card(
            t("Describe your problem"),
            error_callout(s.error),
            notice_callout(s.notice),
            rx.cond(s.context_label != "", rx.badge(t("About {topic}", topic=s.context_label), size="2",
                                                    data_testid="ticket-context")),
            label_for(t("Subject"), "ticket-subject", size="2", weight="medium"),
            # on_focus: which field was touched last, for "forms abandoned" insights; never the value.
            rx.input(value=s.subject, on_change=s.update_subject, debounce_timeout=400, max_length=200,
                     placeholder=t("In a few words"), id="ticket-subject", width="100%",
                     on_focus=TrackState.form_field("ticket", "subject")),
            label_for(t("What happened?"), "ticket-body", size="2", weight="medium"),
            rx.text_area(value=s.body, on_change=s.update_body, debounce_timeout=400, rows="6",
                         id="ticket-body", width="100%", on_focus=TrackState.form_field("ticket", "body")),
            rx.hstack(
                rx.vstack(rx.text(t("Category"), size="2"), _select(s.category, CATEGORIES, s.update_category,
                                                                      "ticket-category", t("Category")), spacing="1"),
                rx.vstack(rx.text(t("Priority"), size="2"), _select(s.priority, PRIORITIES, s.update_priority,
                                                                      "ticket-priority", t("Priority")), spacing="1"),
                rx.vstack(label_for(t("Tags (comma separated)"), "ticket-tags", size="2"),
                          rx.input(value=s.tags, on_change=s.update_tags, id="ticket-tags"), spacing="1"),
                wrap="wrap", spacing="4",
            ),
            upload_zone("ticket_files", s.handle_upload),
            error_callout(s.upload_error),
            staged_files(s.staged, s.remove_file),
            rx.button(t("Send to support"), on_click=s.submit, data_testid="submit-ticket"),
            icon="life_buoy",
        ),
        card(t("These articles may already answer it"),
             rx.cond(s.suggestions.length() > 0, rx.foreach(s.suggestions, _suggestion),
                     empty_note(t("Start typing and we'll suggest help articles."))),
             icon="book_open", test_id="suggestions"),
        columns=rx.breakpoints(initial="1", md="3fr 2fr"), spacing="4", width="100%",
    )


def _list_row(tk: TicketListRow) -> rx.Component:
    return rx.hstack(
        rx.vstack(rx.link(tk.subject, href="/tickets/" + tk.id.to_string(), weight="medium", size="2"),
                  rx.text(tk.number, " · ", tk.priority, " · ", t("updated {date}", date=tk.updated), size="1",
                          color_scheme="gray"),
                  spacing="0", align="start"),
        rx.spacer(), ticket_status_badge(tk.status, tk.status_label),
        width="100%", padding_y="0.4rem", border_bottom=f"1px solid {rx.color('gray', 4)}",
        data_testid="support-ticket-row",
    )


@shell(N_("Support"))
def tickets_page() -> rx.Component:
    s = TicketListState
    return rx.vstack(
        rx.link(rx.button(rx.icon("plus", size=16), t("Get help")), href="/support/new"),
        card(t("Open tickets"), rx.cond(s.open_rows.length() > 0, rx.foreach(s.open_rows, _list_row),
                                     empty_note(t("No open tickets."))), icon="inbox", test_id="open-ticket-list"),
        card(t("Resolved"), rx.cond(s.resolved_rows.length() > 0, rx.foreach(s.resolved_rows, _list_row),
                                 empty_note(t("Nothing resolved yet."))), icon="circle_check",
             test_id="resolved-ticket-list"),
        spacing="4", width="100%",
    )


def _stars() -> rx.Component:
    return rx.hstack(*[
        rx.icon_button(rx.icon("star", size=16), size="1",
                       variant=rx.cond(TicketThreadState.rating >= n, "solid", "outline"),  # type: ignore[arg-type]
                       aria_label=tn("{n} stars", "{n} stars", n), on_click=TicketThreadState.update_rating(n))
        for n in range(1, 6)
    ])


@shell(N_("Ticket"))
def ticket_page() -> rx.Component:
    s = TicketThreadState
    tk = s.ticket
    return rx.vstack(
        error_callout(s.error),
        notice_callout(s.notice),
        for_this_page(s.form_path, rx.cond(
            tk.number != "",
            rx.vstack(
                rx.hstack(rx.heading(tk.subject, size="5", data_testid="ticket-subject"),
                          ticket_status_badge(tk.status, tk.status_label), align="center", wrap="wrap"),
                rx.text(tk.number, " · ", tk.category, " · ", t("{priority} priority", priority=tk.priority), " · ",
                        t("opened {date}", date=tk.opened),
                        rx.cond(tk.assignee != "", rx.fragment(" · ", t("handled by {name}", name=tk.assignee))),
                        size="2", color_scheme="gray", data_testid="ticket-number"),
                rx.cond(tk.context != "", rx.badge(t("About {topic}", topic=tk.context), size="2")),
                rx.cond(tk.merged_into != "",
                        rx.callout(t("This ticket was merged into {number}.", number=tk.merged_into), icon="merge",
                                   width="100%")),
                rx.vstack(rx.foreach(s.messages, thread_message), spacing="2", width="100%",
                          data_testid="thread"),
                rx.cond(
                    tk.can_reply,
                    card(t("Reply"),
                         rx.text_area(value=s.draft, on_change=s.update_draft, rows="4", id="reply-body", width="100%"),
                         error_callout(s.reply_error),
                         upload_zone("reply_files", s.handle_upload),
                         error_callout(s.upload_error),
                         staged_files(s.staged, s.remove_file),
                         rx.button(t("Send reply"), on_click=s.send_reply, data_testid="send-reply"),
                         icon="reply"),
                ),
                rx.cond(tk.can_reopen, rx.button(t("Reopen this ticket"), variant="soft", on_click=s.reopen,
                                                data_testid="reopen")),
                rx.cond(
                    tk.can_rate,
                    card(t("How did we do?"), _stars(),
                         rx.text_area(value=s.rating_comment, on_change=s.update_rating_comment, rows="2",
                                      placeholder=t("Anything to add? (optional)"), width="100%"),
                         rx.button(t("Send rating"), on_click=s.rate, data_testid="send-rating"), icon="star"),
                ),
                rx.cond(tk.rating > 0, rx.text(t("You rated this {rating} of 5.", rating=tk.rating), size="2",
                                              data_testid="rated")),
                spacing="3", width="100%",
            ),
        )),
        rx.link(t("← All your tickets"), href="/support", size="2"),
        spacing="4", width="100%",
    )


def register(app: rx.App) -> None:
    app.add_page(tickets_page, route="/support", title=N_("Support"), on_load=TicketListState.load)
    app.add_page(new_ticket_page, route="/support/new", title=N_("Get help"), on_load=NewTicketState.load)
    app.add_page(ticket_page, route="/tickets/[id]", title=N_("Ticket"), on_load=TicketThreadState.load)
