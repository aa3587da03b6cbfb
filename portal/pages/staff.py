"""The agent console: queue with SLA timers and figures, one ticket, one live chat."""

from __future__ import annotations

import reflex as rx

from portal.components.common import card, empty_note, error_callout, for_this_page, notice_callout
from portal.domain.support import CHANNELS, PRIORITIES, STATUSES, UNRESOLVED
from portal.i18n import N_, t, tc, tn
from portal.layouts.shell import shell
from portal.pages.support import CHOICE_LABELS, choice_label, thread_message, ticket_status_badge
from portal.state.staff import (
    AgentChatState,
    AgentConsoleState,
    AgentTicketState,
    ChatLine,
    ChatRow,
    ContextRow,
    FigureView,
    HeldRow,
    Option,
    QueueRowView,
)
from portal.state.support import MessageRow

CHANNEL_LABELS = {"web": N_("Portal"), "chat": N_("Live chat"), "assistant": N_("Assistant"), "email": N_("Email"),
                  "api": N_("API")}
STATUS_ONLY = {"new": N_("New only"), "open": N_("Open only"), "pending": N_("Pending only"),
               "resolved": N_("Resolved only"), "closed": N_("Closed only")}
PRIORITY_COLORS = {"urgent": "red", "high": "orange", "normal": "blue", "low": "gray"}


def _priority_badge(p: rx.Var) -> rx.Component:
    # The queue shows the priority as it is stored (lower case), named in the tab's language.
    name = rx.match(p, ("urgent", t("urgent")), ("high", t("high")), ("normal", t("normal")), ("low", t("low")), p)
    return rx.badge(name, color_scheme=rx.match(p, *PRIORITY_COLORS.items(), "gray"), variant="soft")  # type: ignore[arg-type]


def _count(label: str, key: str, color: str) -> rx.Component:
    return rx.vstack(
        rx.text(label, size="1", color_scheme="gray"),
        rx.heading(AgentConsoleState.counts.get(key, 0), size="6", color_scheme=color),  # type: ignore[arg-type]
        spacing="0", align="start",
    )


def _figures(title: str, f: FigureView, test_id: str) -> rx.Component:
    return rx.vstack(
        rx.text(title, weight="medium", size="2"),
        rx.text(t("Open tickets: {value}", value=f.open_tickets), size="2"),
        rx.text(t("Avg first response: {value}", value=f.first_response), size="2"),
        rx.text(t("Avg resolution: {value}", value=f.resolution), size="2"),
        rx.text(t("Satisfaction: {value}", value=f.satisfaction), size="2"),
        spacing="1", align="start", data_testid=test_id,
    )


def _opt_select(value: rx.Var, fixed: list[tuple[str, str]], dynamic: rx.Var | None, on_change: object,
                test_id: str, label: str) -> rx.Component:
    # The texts of `fixed` and `label` are English texts marked with N_ by the caller, shown translated.
    items = [rx.select.item(t(text), value=v) for v, text in fixed]
    dyn = [rx.foreach(dynamic, lambda o: rx.select.item(o.label, value=o.value))] if dynamic is not None else []
    return rx.select.root(rx.select.trigger(data_testid=test_id, aria_label=t(label)), rx.select.content(*items, *dyn),
                          value=rx.cond(value == "", "any", value), on_change=on_change)


def _str_select(value: rx.Var, fixed: list[tuple[str, str]], dynamic: rx.Var, on_change: object,
                test_id: str, label: str) -> rx.Component:
    items = [rx.select.item(t(text), value=v) for v, text in fixed]
    return rx.select.root(rx.select.trigger(data_testid=test_id, aria_label=t(label)),
                          rx.select.content(*items, rx.foreach(dynamic, lambda o: rx.select.item(o, value=o))),
                          value=rx.cond(value == "", "any", value), on_change=on_change)


def _queue_row(r: QueueRowView) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.cond(r.at_risk, rx.badge(t("SLA risk"), color_scheme="red", data_testid="sla-risk"))),
        rx.table.cell(rx.vstack(rx.link(r.subject, href="/agent/tickets/" + r.id.to_string(), weight="medium"),
                                rx.text(rx.cond(r.channel == "email", rx.badge(rx.icon("mail", size=12), t("Email"),
                                                                               size="1", variant="outline",
                                                                               data_testid="channel-email")),
                                        " ", r.number, " · ", r.customer, " · ", r.category,
                                        rx.cond(r.tags != "", rx.fragment(" · ", r.tags)), size="1",
                                        color_scheme="gray"), spacing="0")),
        rx.table.cell(_priority_badge(r.priority)),
        rx.table.cell(r.status),
        rx.table.cell(r.assignee),
        rx.table.cell(rx.cond(r.first_response != "", rx.text(t("First reply {time}", time=r.first_response), size="1",
                                                               data_testid="sla-first-reply")),
                      rx.cond(r.resolution != "", rx.text(t("Resolution {time}", time=r.resolution), size="1",
                                                          color_scheme="gray", data_testid="sla-resolution"))),
        # Only tickets that are not yet the agent's own can be taken.
        rx.table.cell(rx.cond(r.mine, rx.badge(t("Yours"), variant="soft", color_scheme="green"),
                              rx.button(t("Take"), size="1", variant="soft", on_click=AgentConsoleState.take(r.id),
                                        data_testid="take-row"))),
        data_testid="queue-row",
    )


def _chat_row(c: ChatRow) -> rx.Component:
    return rx.hstack(
        rx.vstack(rx.text(c.customer, weight="medium", size="2"),
                  rx.text(c.last, size="1", color_scheme="gray"),
                  rx.text(t("on {page}", page=c.page), " · ", c.started, size="1", color_scheme="gray"), spacing="0"),
        rx.spacer(),
        rx.cond(c.status == "waiting",
                rx.button(t("Take chat"), size="1", on_click=AgentConsoleState.take_chat(c.id),
                           data_testid="take-chat"),
                rx.link(rx.button(tc("button", "Open"), size="1", variant="soft"),
                        href="/agent/chats/" + c.id.to_string())),
        width="100%", padding_y="0.4rem", border_bottom=f"1px solid {rx.color('gray', 4)}", data_testid="chat-row",
    )


def _heartbeat() -> rx.Component:
    """While any console page is open, the agent counts as present for live chats."""
    return rx.moment(interval=60_000, on_change=AgentConsoleState.heartbeat, display="none")


@shell(N_("Agent console"))
def staff_page() -> rx.Component:
    s = AgentConsoleState
    return rx.vstack(
        _heartbeat(),
        error_callout(s.error),
        rx.grid(
            card(t("Open tickets"),
                 rx.text(tn("{n} tickets are waiting.", "{n} tickets are waiting.", s.total_open),
                         data_testid="queue-total"),
                 rx.hstack(_count(t("Urgent"), "urgent", "red"), _count(t("High"), "high", "orange"),
                           _count(t("Normal"), "normal", "blue"), _count(t("Low"), "low", "gray"), spacing="6"),
                 icon="inbox"),
            card(t("Figures (30 days)"), rx.hstack(_figures(t("You"), s.own, "own-figures"),
                                                   _figures(t("Team"), s.team, "team-figures"), spacing="6"),
                 icon="chart_bar"),
            card(t("Live chats"),
                 rx.hstack(rx.switch(checked=s.available, on_change=s.update_available, data_testid="available",
                                     aria_label=t("Available for chats")),
                           rx.text(t("Available for chats"), size="2"), align="center"),
                 rx.cond(s.chats.length() > 0, rx.foreach(s.chats, _chat_row), empty_note(t("No chats waiting."))),
                 icon="messages_square", test_id="chats"),
            columns=rx.breakpoints(initial="1", md="3"), spacing="4", width="100%",
        ),
        card(
            t("Queue"),
            rx.hstack(
                _opt_select(s.status, [(UNRESOLVED, N_("Unresolved (new, open, pending)")), ("all", N_("All statuses"))]
                            + [(x, STATUS_ONLY.get(x, f"{x.capitalize()} only")) for x in STATUSES],
                            None, s.update_status_filter, "filter-status", N_("Status")),
                _opt_select(s.priority, [("any", N_("Any priority"))]
                            + [(x, CHOICE_LABELS.get(x, x.capitalize())) for x in PRIORITIES], None,
                            s.update_priority_filter, "filter-priority", N_("Priority")),
                _str_select(s.category, [("any", N_("Any category"))], s.categories, s.update_category_filter,
                            "filter-category", N_("Category")),
                _str_select(s.tag, [("any", N_("Any tag"))], s.tags, s.update_tag_filter, "filter-tag", N_("Tag")),
                _opt_select(s.assignee, [("any", N_("Anyone")), ("me", N_("Me")), ("none", N_("Unassigned"))],
                            s.agents, s.update_assignee_filter, "filter-assignee", N_("Assignee")),
                _opt_select(s.channel, [("any", N_("Any channel"))] + [(x, CHANNEL_LABELS[x]) for x in CHANNELS],
                            None, s.update_channel_filter, "filter-channel", N_("Channel")),
                wrap="wrap", spacing="2",
            ),
            rx.cond(
                s.rows.length() > 0,
                rx.table.root(
                    rx.table.header(rx.table.row(
                        rx.table.column_header_cell(""), rx.table.column_header_cell(t("Ticket")),
                        rx.table.column_header_cell(t("Priority")), rx.table.column_header_cell(t("Status")),
                        rx.table.column_header_cell(t("Assignee")), rx.table.column_header_cell(t("SLA")),
                        rx.table.column_header_cell(""))),
                    rx.table.body(rx.foreach(s.rows, _queue_row)), width="100%"),
                empty_note(t("No tickets match.")),
            ),
            icon="list", test_id="queue",
        ),
        spacing="4", width="100%",
    )


def _option_items(options: rx.Var) -> rx.Component:
    return rx.foreach(options, lambda o: rx.select.item(o.label, value=o.value))


def _ticket_details() -> rx.Component:
    s = AgentTicketState
    tk = s.ticket
    return card(t("Details"),
                rx.text(t("First response: {value}", value=s.first_response), size="2", data_testid="sla-first"),
                rx.text(t("Resolution: {value}", value=s.resolution), size="2"),
                rx.text(t("Status"), size="1", color_scheme="gray"),
                rx.select.root(rx.select.trigger(data_testid="set-status", aria_label=t("Status")),
                               rx.select.content(*[rx.select.item(choice_label(x), value=x) for x in STATUSES]),
                               value=tk.status, on_change=s.update_status),
                rx.text(t("Priority"), size="1", color_scheme="gray"),
                rx.select.root(rx.select.trigger(data_testid="set-priority", aria_label=t("Priority")),
                               rx.select.content(*[rx.select.item(choice_label(x), value=x) for x in PRIORITIES]),
                               value=tk.priority, on_change=s.update_priority),
                rx.text(t("Assignee"), size="1", color_scheme="gray"),
                rx.hstack(rx.select.root(rx.select.trigger(placeholder=t("Unassigned"), aria_label=t("Assignee")),
                                         rx.select.content(_option_items(s.agents)), value=s.assignee_id,
                                         on_change=s.assign),
                          rx.cond(s.mine, rx.fragment(),
                                  rx.button(t("Take"), size="1", variant="soft", on_click=s.take, data_testid="take"))),
                rx.text(t("Tags: {tags}", tags=tk.tags), size="2"),
                rx.cond(s.contact_email != "", _contact(s)),
                rx.divider(),
                rx.text(t("Merge this duplicate into ticket"), size="1", color_scheme="gray"),
                rx.hstack(rx.input(value=s.merge_number, on_change=s.update_merge_number, placeholder="T-12345",
                                   id="merge-number"),
                          rx.button(t("Merge"), size="1", color_scheme="red", variant="soft", on_click=s.merge)),
                icon="settings_2")


@shell(N_("Ticket"))
def agent_ticket_page() -> rx.Component:
    s = AgentTicketState
    tk = s.ticket
    return rx.vstack(
        _heartbeat(),
        error_callout(s.error),
        notice_callout(s.notice),
        for_this_page(s.form_path, rx.cond(tk.number != "", rx.grid(
            rx.vstack(
                rx.hstack(rx.heading(tk.subject, size="5", data_testid="agent-ticket-subject"),
                          ticket_status_badge(tk.status, tk.status_label),
                          align="center", wrap="wrap"),
                rx.text(tk.number, " · ", s.customer, " · ", tk.category, " · ", t("opened {date}", date=tk.opened),
                        rx.cond(tk.context != "", rx.fragment(" · ", t("about {topic}", topic=tk.context))), size="2",
                        color_scheme="gray"),
                rx.cond(tk.merged_into != "", rx.callout(t("Merged into {number}", number=tk.merged_into),
                                                         icon="merge")),
                rx.cond(s.follow_up_of != "", rx.callout(t("Follow-up of {number}", number=s.follow_up_of),
                                                         icon="link")),
                rx.vstack(rx.foreach(s.messages, _agent_message), spacing="2", width="100%", data_testid="thread"),
                rx.cond(s.headers_text != "", _headers_card()),
                rx.cond(s.held.length() > 0, card(t("Held messages"), rx.foreach(s.held, _held_row),
                                                  icon="shield_alert", test_id="held")),
                card(t("Answer"),
                     rx.select.root(rx.select.trigger(placeholder=t("Insert a canned reply"), data_testid="canned",
                                                      aria_label=t("Insert a canned reply")),
                                    rx.select.content(_option_items(s.canned)), value="", on_change=s.use_canned),
                     rx.text_area(value=s.draft, on_change=s.update_draft, rows="5", id="agent-reply", width="100%",
                                  aria_label=t("Reply")),
                     rx.hstack(rx.switch(checked=s.internal, on_change=s.update_internal, data_testid="internal",
                                         aria_label=t("Internal note")),
                               rx.text(t("Internal note (the customer never sees it)"), size="2"), align="center"),
                     rx.button(rx.cond(s.internal, t("Add note"), t("Send reply")), on_click=s.send,
                               data_testid="agent-send"),
                     icon="reply"),
                spacing="3", width="100%",
            ),
            rx.vstack(_ticket_details(), _customer_card(s, "ticket-customer-context"), spacing="4", width="100%"),
            columns=rx.breakpoints(initial="1", md="3fr 1fr"), spacing="4", width="100%",
        ))),
        rx.link(t("← Queue"), href="/agent", size="2"),
        spacing="4", width="100%",
    )


def _agent_message(m: MessageRow) -> rx.Component:
    return rx.vstack(
        thread_message(m),
        rx.cond(m.via_email, rx.button(t("Show headers"), size="1", variant="ghost",
                                       on_click=AgentTicketState.show_headers(m.id), data_testid="show-headers")),
        spacing="1", width="100%", align="end",
    )


def _headers_card() -> rx.Component:
    s = AgentTicketState
    return card(t("Message as received"),
                rx.text(t("Headers"), size="1", color_scheme="gray"),
                rx.code_block(s.headers_text, language="log", wrap_long_lines=True, data_testid="mail-headers"),
                rx.text(t("Full text (with what the customer quoted)"), size="1", color_scheme="gray"),
                rx.text(s.original_text, size="2", white_space="pre-wrap", data_testid="mail-original"),
                rx.button(t("Hide"), size="1", variant="soft", on_click=s.hide_headers),
                icon="mail")


def _held_row(h: HeldRow) -> rx.Component:
    return rx.vstack(
        rx.text(t("From {sender}", sender=h.sender), " · ", h.when, " · ", h.subject, size="2", weight="medium"),
        rx.text(t("This address is not the ticket's contact. Add the message to the ticket?"), size="1",
                color_scheme="gray"),
        rx.text(h.preview, size="2", white_space="pre-wrap"),
        rx.hstack(rx.button(t("Add to ticket"), size="1", on_click=AgentTicketState.decide_held(h.id, True),
                            data_testid="held-accept"),
                  rx.button(t("Turn away"), size="1", variant="soft", color_scheme="red",
                            on_click=AgentTicketState.decide_held(h.id, False), data_testid="held-reject")),
        width="100%", padding_y="0.4rem", data_testid="held-message",
    )


def _contact(s: type[AgentTicketState]) -> rx.Component:
    return rx.vstack(
        rx.text(t("Email contact: {email}", email=s.contact_email), size="2", data_testid="contact-email"),
        rx.cond(s.guest_contact, rx.vstack(
            rx.text(t("Guest contact (no account). Link to customer number"), size="1", color_scheme="gray"),
            rx.hstack(rx.input(value=s.link_number, on_change=s.update_link_number, placeholder="C-10001",
                               id="link-number"),
                      rx.button(t("Link"), size="1", variant="soft", on_click=s.link_customer)),
            spacing="1")),
        spacing="1")


def _line(m: ChatLine) -> rx.Component:
    return rx.box(
        rx.text(m.author, " · ", m.when, size="1", color_scheme="gray"),
        rx.text(m.body, size="2", white_space="pre-wrap"),
        align_self=rx.cond(m.author_kind == "agent", "flex-end", "flex-start"),
        background_color=rx.cond(m.author_kind == "agent", rx.color("accent", 3), rx.color("gray", 3)),
        padding="0.4rem 0.6rem", border_radius="8px", max_width="80%", data_testid="agent-chat-line",
    )


def _ctx_row(r: ContextRow) -> rx.Component:
    label = rx.cond(r.href != "", rx.link(r.label, href=r.href, size="2"), rx.text(r.label, size="2"))
    return rx.vstack(label, rx.text(r.detail, size="1", color_scheme="gray"), spacing="0")


def _ctx_section(title: str, rows: rx.Var) -> rx.Component:
    return rx.vstack(rx.text(title, weight="medium", size="2"),
                     rx.cond(rows.length() > 0, rx.foreach(rows, _ctx_row), empty_note(t("None."))),  # type: ignore[attr-defined]
                     spacing="1", width="100%")


def _customer_card(s: type[AgentChatState] | type[AgentTicketState], test_id: str) -> rx.Component:
    """Who the customer is and what they see: the same panel beside a chat and a ticket."""
    return card(t("Customer"),
                rx.text(s.customer, " (", s.customer_number, ")", weight="medium", data_testid="ctx-customer"),
                rx.text(s.customer_email, size="2"),
                rx.cond(s.about != "", rx.text(t("About: {topic}", topic=s.about), size="2", weight="medium",
                                               data_testid="ctx-about")),
                rx.cond(s.page != "", rx.text(t("Was on: {page}", page=s.page), size="2", data_testid="ctx-page")),
                _ctx_section(t("Recent orders"), s.orders),
                _ctx_section(t("Shipments"), s.shipments),
                _ctx_section(t("Earlier tickets"), s.earlier),
                _ctx_section(t("Searches and assistant"), s.searches),
                _ctx_section(t("Failed or refused actions"), s.failures),
                icon="user", test_id=test_id)


def _agent_option(o: Option) -> rx.Component:
    return rx.select.item(o.label, value=o.value)


@shell(N_("Live chat"))
def agent_chat_page() -> rx.Component:
    s = AgentChatState
    return rx.vstack(
        _heartbeat(),
        error_callout(s.error),
        for_this_page(s.form_path, rx.grid(
            card(t("Conversation"),
                 rx.text(t("With {name}", name=s.customer), size="2", color_scheme="gray"),
                 rx.vstack(rx.foreach(s.lines, _line), spacing="2", width="100%", data_testid="agent-chat-lines"),
                 rx.cond(s.customer_typing, rx.text(t("{name} is typing…", name=s.customer), size="1",
                                                    color_scheme="gray", data_testid="customer-typing")),
                 rx.cond(s.seen, rx.text(t("Seen"), size="1", color_scheme="gray", data_testid="agent-seen")),
                 rx.cond(s.status == "waiting", rx.button(t("Take chat"), on_click=s.take)),
                 rx.cond(s.mine, rx.vstack(
                     rx.text_area(value=s.draft, on_change=s.update_draft, debounce_timeout=250, rows="3",
                                  id="agent-chat-draft", width="100%"),
                     rx.hstack(rx.button(t("Send"), on_click=s.send, data_testid="agent-chat-send"),
                               rx.select.root(rx.select.trigger(placeholder=t("Hand to…"),
                                                                aria_label=t("Hand the chat to")),
                                              rx.select.content(rx.foreach(s.agents, _agent_option)), value="",
                                              on_change=s.transfer),
                               rx.button(t("Close into ticket"), variant="soft", on_click=s.close_to_ticket,
                                         data_testid="close-chat")),
                     width="100%")),
                 rx.cond(s.ticket_number != "", rx.link(t("Ticket {number}", number=s.ticket_number),
                                                        href="/agent/tickets/" + s.ticket_id.to_string())),
                 icon="messages_square"),
            _customer_card(s, "chat-context"),
            columns=rx.breakpoints(initial="1", md="3fr 2fr"), spacing="4", width="100%",
        )),
        rx.link(t("← Console"), href="/agent", size="2"),
        spacing="4", width="100%",
    )


def register(app: rx.App) -> None:
    app.add_page(staff_page, route="/agent", title=N_("Agent console"), on_load=AgentConsoleState.load)
    app.add_page(agent_ticket_page, route="/agent/tickets/[id]", title=N_("Ticket"),
                 on_load=AgentTicketState.load)
    app.add_page(agent_chat_page, route="/agent/chats/[id]", title=N_("Live chat"),
                 on_load=AgentChatState.load)
