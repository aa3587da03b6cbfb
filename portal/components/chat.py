"""The customer's "Chat with us" button and panel, part of the app shell's header."""

from __future__ import annotations

import reflex as rx

from portal.i18n import t
from portal.state.chat import ChatBubble, ChatState
from portal.state.session import SessionState


def _bubble(b: ChatBubble) -> rx.Component:
    mine = b.author_kind == "customer"
    return rx.box(
        rx.text(b.author, " · ", b.when, size="1", color_scheme="gray"),
        rx.text(b.body, size="2", white_space="pre-wrap"),
        align_self=rx.cond(mine, "flex-end", "flex-start"),
        background_color=rx.cond(mine, rx.color("accent", 3),
                                 rx.cond(b.author_kind == "system", "transparent", rx.color("gray", 3))),
        padding="0.4rem 0.6rem", border_radius="8px", max_width="85%", data_testid="chat-bubble",
    )


def _panel() -> rx.Component:
    s = ChatState
    return rx.card(
        rx.vstack(
            rx.hstack(rx.icon("messages_square", size=18), rx.text(t("Chat with us"), weight="bold"), rx.spacer(),
                      rx.icon_button(rx.icon("x", size=14), variant="ghost", size="1", aria_label=t("Close chat"),
                                     on_click=s.toggle), width="100%", align="center"),
            rx.cond(s.status == "waiting",
                    rx.text(t("Waiting for an agent to join…"), size="1", color_scheme="gray",
                            data_testid="chat-waiting")),
            rx.cond(s.status == "active", rx.text(t("{name} is here to help.", name=s.agent_name), size="1",
                                                  color_scheme="gray")),
            # column-reverse keeps the newest message in view as the conversation grows
            rx.box(rx.vstack(rx.foreach(s.bubbles, _bubble), spacing="2", width="100%"),
                   display="flex", flex_direction="column-reverse", max_height="18rem", overflow_y="auto",
                   # A log: a screen reader reads each new message as it comes, without moving the focus.
                   role="log", aria_live="polite", aria_label=t("Chat messages"), tab_index=0,
                   width="100%", data_testid="chat-messages"),
            rx.cond(s.agent_typing, rx.text(t("{name} is typing…", name=s.agent_name), size="1", color_scheme="gray",
                                            data_testid="chat-typing")),
            rx.cond(s.seen, rx.text(t("Seen"), size="1", color_scheme="gray", data_testid="chat-seen")),
            rx.cond(
                s.status == "closed",
                rx.vstack(
                    rx.callout(
                        rx.cond(s.ticket_number != "",
                                rx.fragment(t("This chat is now ticket {number}. We will answer you there and by "
                                              "email.", number=s.ticket_number)),
                                rx.fragment(t("This chat has ended."))),
                        icon="info", width="100%", data_testid="chat-ticket-notice"),
                    rx.hstack(
                        rx.cond(s.ticket_id > 0, rx.link(t("Open the ticket"),
                                                         href="/tickets/" + s.ticket_id.to_string(), size="2")),
                        rx.button(t("New chat"), size="1", variant="soft", on_click=s.new_chat),
                    ),
                    width="100%",
                ),
                rx.vstack(
                    rx.cond(s.about_label != "",
                            rx.hstack(rx.icon("info", size=14),
                                      rx.text(t("About: {topic}", topic=s.about_label), size="1"),
                                      rx.spacer(),
                                      rx.icon_button(rx.icon("x", size=12), variant="ghost", size="1",
                                                     aria_label=t("Not about this"), on_click=s.drop_about),
                                      width="100%", align="center", data_testid="chat-about")),
                    rx.text_area(value=s.draft, on_change=s.update_draft, debounce_timeout=250, rows="2",
                                 placeholder=t("Type your message"), id="chat-draft", width="100%"),
                    rx.cond(s.error != "", rx.text(s.error, color_scheme="red", size="1", role="alert")),
                    rx.button(t("Send"), on_click=s.send, size="2", data_testid="chat-send"),
                    width="100%", align="end",
                ),
            ),
            spacing="2", width="100%",
        ),
        position="fixed", bottom="1rem", right="1rem", width="22rem", max_width="calc(100vw - 2rem)", z_index="20",
        data_testid="chat-panel",
    )


def chat_widget() -> rx.Component:
    """Only customers chat; staff answer from the console."""
    return rx.cond(
        SessionState.signed_in & ~SessionState.is_staff,
        rx.fragment(
            rx.button(rx.icon("messages_square", size=16), rx.text(t("Chat"), display=["none", "inline"]),
                      rx.cond(ChatState.unread, rx.badge(t("new"), color_scheme="red", size="1")),
                      variant="soft", on_click=ChatState.toggle, data_testid="chat-open",
                      aria_label=rx.cond(ChatState.unread, t("Chat, new messages"), t("Chat"))),
            rx.cond(ChatState.open, _panel()),
        ),
    )
