"""The assistant: a floating button and a chat drawer, on every page of the shell for customers."""

from __future__ import annotations

import reflex as rx

from portal.components.common import download_link, form
from portal.i18n import t
from portal.state.assistant import AssistantState, ChatLine, ChatLink


def _link(link: ChatLink) -> rx.Component:
    return rx.match(
        link.kind,
        # A file downloads (a document navigation), but looks and reads like every other link.
        ("file", rx.text(download_link(rx.hstack(rx.icon("download", size=14), rx.text(link.label), spacing="1",
                                                 align="center", as_="span"),
                                       link.href, test_id="assistant-link", color=rx.color("accent", 11, True),
                                       text_decoration="underline", text_underline_offset="2px"), size="2")),
        ("article", rx.link(link.label, href=link.href, size="2", data_testid="assistant-link",
                            on_click=[rx.prevent_default, AssistantState.open_article(link.href)])),
        rx.link(link.label, href=link.href, size="2", data_testid="assistant-link"),
    )


def _line(line: ChatLine) -> rx.Component:
    mine = line.who == "customer"
    return rx.box(
        rx.text(line.text, size="2", white_space="pre-wrap"),
        rx.vstack(rx.foreach(line.links, _link), spacing="1", align="start"),
        align_self=rx.cond(mine, "end", "start"),
        background_color=rx.cond(mine, rx.color("accent", 4), rx.color("gray", 3)),
        padding="0.5rem 0.75rem", border_radius="12px", max_width="85%",
        data_testid=rx.cond(mine, "assistant-customer-line", "assistant-reply"),
    )


def _choice(value: rx.Var) -> rx.Component:
    return rx.button(value, size="1", variant="soft", on_click=AssistantState.choose(value),
                     data_testid="assistant-choice")


def assistant_panel() -> rx.Component:
    s = AssistantState
    return rx.box(
        rx.cond(
            s.open,
            rx.card(
                rx.vstack(
                    rx.hstack(rx.icon("bot", size=18), rx.text(t("Assistant"), weight="bold"), rx.spacer(),
                              rx.icon_button(rx.icon("x", size=16), variant="ghost", on_click=s.toggle,
                                             aria_label=t("Close the assistant")),
                              width="100%", align="center"),
                    # column-reverse keeps the newest message in view as the conversation grows
                    rx.box(rx.vstack(rx.foreach(s.lines, _line), spacing="2", width="100%"),
                           display="flex", flex_direction="column-reverse", height="22rem", overflow_y="auto",
                           role="log", aria_live="polite", aria_label=t("Conversation with the assistant"),
                           tab_index=0, width="100%", data_testid="assistant-lines"),
                    rx.cond(s.confirming, rx.text(t("Nothing changes until you say yes."), size="1",
                                                  color_scheme="gray")),
                    rx.flex(rx.foreach(s.choices, _choice), wrap="wrap", gap="0.4rem"),
                    form(
                        rx.hstack(
                            rx.input(name="message", max_length=500,
                                     placeholder=t("Ask me something"), width="100%", aria_label=t("Message"),
                                     data_testid="assistant-input"),
                            rx.icon_button(rx.icon("send", size=16), type="submit", aria_label=t("Send"),
                                           data_testid="assistant-send"),
                            width="100%",
                        ),
                        on_submit=s.send, reset_on_submit=True, width="100%",
                    ),
                    spacing="3", width="100%",
                ),
                width=["calc(100vw - 2rem)", "24rem"], box_shadow="0 8px 30px rgba(0,0,0,0.2)",
                data_testid="assistant-panel",
            ),
        ),
        rx.hstack(rx.icon_button(rx.icon(rx.cond(s.open, "x", "message_circle"), size=22),
                                              size="4", radius="full", on_click=s.toggle,
                                              aria_label=t("Open the assistant"), data_testid="assistant-button"),
                  width="100%", padding_top="0.5rem"),
        # Bottom left: the support live chat opens at the bottom right.
        position="fixed", bottom="1rem", left="1rem", z_index="19",
    )
