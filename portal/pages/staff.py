"""The agent console: queue with SLA timers and figures, one ticket, one live chat."""

from __future__ import annotations

import reflex as rx

from portal.components.common import card, empty_note, error_callout, notice_callout
from portal.domain.support import PRIORITIES, STATUSES
from portal.layouts.shell import shell
from portal.pages.support import thread_message, ticket_status_badge
from portal.state.staff import (
    AgentChatState,
    AgentConsoleState,
    AgentTicketState,
    ChatLine,
    ChatRow,
    ContextRow,
    FigureView,
    Option,
    QueueRowView,
)

PRIORITY_COLORS = {"urgent": "red", "high": "orange", "normal": "blue", "low": "gray"}


def _priority_badge(p: rx.Var) -> rx.Component:
    return rx.badge(p, color_scheme=rx.match(p, *PRIORITY_COLORS.items(), "gray"), variant="soft")  # type: ignore[arg-type]


def _count(label: str, key: str, color: str) -> rx.Component:
    return rx.vstack(
        rx.text(label, size="1", color_scheme="gray"),
        rx.heading(AgentConsoleState.counts.get(key, 0), size="6", color_scheme=color),  # type: ignore[arg-type]
        spacing="0", align="start",
    )


def _figures(title: str, f: FigureView, test_id: str) -> rx.Component:
    return rx.vstack(
        rx.text(title, weight="medium", size="2"),
        rx.text("Open tickets: ", f.open_tickets, size="2"),
        rx.text("Avg first response: ", f.first_response, size="2"),
        rx.text("Avg resolution: ", f.resolution, size="2"),
        rx.text("Satisfaction: ", f.satisfaction, size="2"),
        spacing="1", align="start", data_testid=test_id,
    )


def _opt_select(value: rx.Var, fixed: list[tuple[str, str]], dynamic: rx.Var | None, on_change: object,
                test_id: str) -> rx.Component:
    items = [rx.select.item(label, value=v) for v, label in fixed]
    dyn = [rx.foreach(dynamic, lambda o: rx.select.item(o.label, value=o.value))] if dynamic is not None else []
    return rx.select.root(rx.select.trigger(data_testid=test_id), rx.select.content(*items, *dyn),
                          value=rx.cond(value == "", "any", value), on_change=on_change)


def _str_select(value: rx.Var, fixed: list[tuple[str, str]], dynamic: rx.Var, on_change: object,
                test_id: str) -> rx.Component:
    items = [rx.select.item(label, value=v) for v, label in fixed]
    return rx.select.root(rx.select.trigger(data_testid=test_id),
                          rx.select.content(*items, rx.foreach(dynamic, lambda o: rx.select.item(o, value=o))),
                          value=rx.cond(value == "", "any", value), on_change=on_change)


def _queue_row(r: QueueRowView) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.cond(r.at_risk, rx.badge("SLA risk", color_scheme="red", data_testid="sla-risk"))),
        rx.table.cell(rx.vstack(rx.link(r.subject, href="/agent/tickets/" + r.id.to_string(), weight="medium"),
                                rx.text(r.number, " · ", r.customer, " · ", r.category,
                                        rx.cond(r.tags != "", rx.fragment(" · ", r.tags)), size="1",
                                        color_scheme="gray"), spacing="0")),
        rx.table.cell(_priority_badge(r.priority)),
        rx.table.cell(r.status),
        rx.table.cell(r.assignee),
        rx.table.cell(rx.text(r.first_response, size="1"), rx.text(r.resolution, size="1", color_scheme="gray")),
        rx.table.cell(rx.button("Take", size="1", variant="soft", on_click=AgentConsoleState.take(r.id))),
        data_testid="queue-row",
    )


def _chat_row(c: ChatRow) -> rx.Component:
    return rx.hstack(
        rx.vstack(rx.text(c.customer, weight="medium", size="2"),
                  rx.text(c.last, size="1", color_scheme="gray"),
                  rx.text("on ", c.page, " · ", c.started, size="1", color_scheme="gray"), spacing="0"),
        rx.spacer(),
        rx.cond(c.status == "waiting",
                rx.button("Take chat", size="1", on_click=AgentConsoleState.take_chat(c.id), data_testid="take-chat"),
                rx.link(rx.button("Open", size="1", variant="soft"), href="/agent/chats/" + c.id.to_string())),
        width="100%", padding_y="0.4rem", border_bottom=f"1px solid {rx.color('gray', 4)}", data_testid="chat-row",
    )


def _heartbeat() -> rx.Component:
    """While any console page is open, the agent counts as present for live chats."""
    return rx.moment(interval=60_000, on_change=AgentConsoleState.heartbeat, display="none")


@shell("Agent console")
def staff_page() -> rx.Component:
    s = AgentConsoleState
    return rx.vstack(
        _heartbeat(),
        error_callout(s.error),
        rx.grid(
            card("Open tickets",
                 rx.text(s.total_open, " tickets are waiting.", data_testid="queue-total"),
                 rx.hstack(_count("Urgent", "urgent", "red"), _count("High", "high", "orange"),
                           _count("Normal", "normal", "blue"), _count("Low", "low", "gray"), spacing="6"),
                 icon="inbox"),
            card("Figures (30 days)", rx.hstack(_figures("You", s.own, "own-figures"),
                                                _figures("Team", s.team, "team-figures"), spacing="6"),
                 icon="chart_bar"),
            card("Live chats",
                 rx.hstack(rx.switch(checked=s.available, on_change=s.update_available, data_testid="available"),
                           rx.text("Available for chats", size="2"), align="center"),
                 rx.cond(s.chats.length() > 0, rx.foreach(s.chats, _chat_row), empty_note("No chats waiting.")),
                 icon="messages_square", test_id="chats"),
            columns=rx.breakpoints(initial="1", md="3"), spacing="4", width="100%",
        ),
        card(
            "Queue",
            rx.hstack(
                _opt_select(s.status, [("open", "Open"), ("all", "All")] + [(x, x.capitalize()) for x in STATUSES],
                            None, s.update_status_filter, "filter-status"),
                _opt_select(s.priority, [("any", "Any priority")] + [(x, x.capitalize()) for x in PRIORITIES], None,
                            s.update_priority_filter, "filter-priority"),
                _str_select(s.category, [("any", "Any category")], s.categories, s.update_category_filter,
                            "filter-category"),
                _str_select(s.tag, [("any", "Any tag")], s.tags, s.update_tag_filter, "filter-tag"),
                _opt_select(s.assignee, [("any", "Anyone"), ("me", "Me"), ("none", "Unassigned")], s.agents,
                            s.update_assignee_filter, "filter-assignee"),
                wrap="wrap", spacing="2",
            ),
            rx.cond(
                s.rows.length() > 0,
                rx.table.root(
                    rx.table.header(rx.table.row(
                        rx.table.column_header_cell(""), rx.table.column_header_cell("Ticket"),
                        rx.table.column_header_cell("Priority"), rx.table.column_header_cell("Status"),
                        rx.table.column_header_cell("Assignee"), rx.table.column_header_cell("SLA"),
                        rx.table.column_header_cell(""))),
                    rx.table.body(rx.foreach(s.rows, _queue_row)), width="100%"),
                empty_note("No tickets match."),
            ),
            icon="list", test_id="queue",
        ),
        spacing="4", width="100%",
    )


def _option_items(options: rx.Var) -> rx.Component:
    return rx.foreach(options, lambda o: rx.select.item(o.label, value=o.value))


@shell("Ticket")
def agent_ticket_page() -> rx.Component:
    s = AgentTicketState
    t = s.ticket
    return rx.vstack(
        _heartbeat(),
        error_callout(s.error),
        notice_callout(s.notice),
        rx.cond(t.number != "", rx.grid(
            rx.vstack(
                rx.hstack(rx.heading(t.subject, size="5"), ticket_status_badge(t.status, t.status_label),
                          align="center", wrap="wrap"),
                rx.text(t.number, " · ", s.customer, " · ", t.category, " · opened ", t.opened,
                        rx.cond(t.context != "", rx.fragment(" · about ", t.context)), size="2", color_scheme="gray"),
                rx.cond(t.merged_into != "", rx.callout(f"Merged into {t.merged_into}", icon="merge")),
                rx.vstack(rx.foreach(s.messages, thread_message), spacing="2", width="100%", data_testid="thread"),
                card("Answer",
                     rx.select.root(rx.select.trigger(placeholder="Insert a canned reply", data_testid="canned"),
                                    rx.select.content(_option_items(s.canned)), value="", on_change=s.use_canned),
                     rx.text_area(value=s.draft, on_change=s.update_draft, rows="5", id="agent-reply", width="100%"),
                     rx.hstack(rx.switch(checked=s.internal, on_change=s.update_internal, data_testid="internal"),
                               rx.text("Internal note (the customer never sees it)", size="2"), align="center"),
                     rx.button(rx.cond(s.internal, "Add note", "Send reply"), on_click=s.send,
                               data_testid="agent-send"),
                     icon="reply"),
                spacing="3", width="100%",
            ),
            card("Details",
                 rx.text("First response: ", s.first_response, size="2", data_testid="sla-first"),
                 rx.text("Resolution: ", s.resolution, size="2"),
                 rx.text("Status", size="1", color_scheme="gray"),
                 rx.select.root(rx.select.trigger(data_testid="set-status"),
                                rx.select.content(*[rx.select.item(x.capitalize(), value=x) for x in STATUSES]),
                                value=t.status, on_change=s.update_status),
                 rx.text("Priority", size="1", color_scheme="gray"),
                 rx.select.root(rx.select.trigger(data_testid="set-priority"),
                                rx.select.content(*[rx.select.item(x.capitalize(), value=x) for x in PRIORITIES]),
                                value=t.priority, on_change=s.update_priority),
                 rx.text("Assignee", size="1", color_scheme="gray"),
                 rx.hstack(rx.select.root(rx.select.trigger(placeholder="Unassigned"),
                                          rx.select.content(_option_items(s.agents)), value=s.assignee_id,
                                          on_change=s.assign),
                           rx.button("Take", size="1", variant="soft", on_click=s.take, data_testid="take")),
                 rx.text("Tags: ", t.tags, size="2"),
                 rx.divider(),
                 rx.text("Merge this duplicate into ticket", size="1", color_scheme="gray"),
                 rx.hstack(rx.input(value=s.merge_number, on_change=s.update_merge_number, placeholder="T-12345",
                                    id="merge-number"),
                           rx.button("Merge", size="1", color_scheme="red", variant="soft", on_click=s.merge)),
                 icon="settings_2"),
            columns=rx.breakpoints(initial="1", md="3fr 1fr"), spacing="4", width="100%",
        )),
        rx.link("← Queue", href="/agent", size="2"),
        spacing="4", width="100%",
    )


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
                     rx.cond(rows.length() > 0, rx.foreach(rows, _ctx_row), empty_note("None.")),  # type: ignore[attr-defined]
                     spacing="1", width="100%")


def _agent_option(o: Option) -> rx.Component:
    return rx.select.item(o.label, value=o.value)


@shell("Live chat")
def agent_chat_page() -> rx.Component:
    s = AgentChatState
    return rx.vstack(
        _heartbeat(),
        error_callout(s.error),
        rx.grid(
            card("Conversation",
                 rx.text("With ", s.customer, size="2", color_scheme="gray"),
                 rx.vstack(rx.foreach(s.lines, _line), spacing="2", width="100%", data_testid="agent-chat-lines"),
                 rx.cond(s.customer_typing, rx.text(s.customer, " is typing…", size="1", color_scheme="gray",
                                                    data_testid="customer-typing")),
                 rx.cond(s.seen, rx.text("Seen", size="1", color_scheme="gray", data_testid="agent-seen")),
                 rx.cond(s.status == "waiting", rx.button("Take chat", on_click=s.take)),
                 rx.cond(s.mine, rx.vstack(
                     rx.text_area(value=s.draft, on_change=s.update_draft, debounce_timeout=250, rows="3",
                                  id="agent-chat-draft", width="100%"),
                     rx.hstack(rx.button("Send", on_click=s.send, data_testid="agent-chat-send"),
                               rx.select.root(rx.select.trigger(placeholder="Hand to…"),
                                              rx.select.content(rx.foreach(s.agents, _agent_option)), value="",
                                              on_change=s.transfer),
                               rx.button("Close into ticket", variant="soft", on_click=s.close_to_ticket,
                                         data_testid="close-chat")),
                     width="100%")),
                 rx.cond(s.ticket_number != "", rx.link("Ticket ", s.ticket_number,
                                                        href="/agent/tickets/" + s.ticket_id.to_string())),
                 icon="messages_square"),
            card("Customer",
                 rx.text(s.customer, " (", s.customer_number, ")", weight="medium", data_testid="ctx-customer"),
                 rx.text(s.customer_email, size="2"),
                 rx.text("Was on: ", s.page, size="2", data_testid="ctx-page"),
                 _ctx_section("Recent orders", s.orders),
                 _ctx_section("Shipments", s.shipments),
                 _ctx_section("Earlier tickets", s.earlier),
                 _ctx_section("Searches and assistant", s.searches),
                 _ctx_section("Failed or refused actions", s.failures),
                 icon="user", test_id="chat-context"),
            columns=rx.breakpoints(initial="1", md="3fr 2fr"), spacing="4", width="100%",
        ),
        rx.link("← Console", href="/agent", size="2"),
        spacing="4", width="100%",
    )


def register(app: rx.App) -> None:
    app.add_page(staff_page, route="/agent", title="Agent console", on_load=AgentConsoleState.load)
    app.add_page(agent_ticket_page, route="/agent/tickets/[ticket_id]", title="Ticket", on_load=AgentTicketState.load)
    app.add_page(agent_chat_page, route="/agent/chats/[conversation_id]", title="Live chat",
                 on_load=AgentChatState.load)
