"""The help center: public pages, and the same content inside the portal for signed-in people."""

from __future__ import annotations

from collections.abc import Callable

import reflex as rx

from portal.components.common import error_callout, form
from portal.i18n import N_, t
from portal.layouts.shell import brand, connection_notice, language_menu, ready_marker, shell
from portal.state.help import ArticleRow, CategoryRow, HelpArticleState, HelpCategoryState, HelpState
from portal.state.session import SessionState

DESCRIPTION = "Answers to common questions about orders, delivery, returns, billing and your account."


def _public(content: rx.Component) -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.link(brand(), href="/help", underline="none"), rx.spacer(),
            rx.link(t("Help center"), href="/help", size="2"),
            rx.link(rx.button(t("Sign in"), variant="soft", size="2"), href="/login"),
            language_menu(),
            rx.color_mode.button(variant="ghost", aria_label=t("Switch light or dark mode")),
            align="center", width="100%", padding_x="1.5rem", padding_y="0.75rem",
            border_bottom=f"1px solid {rx.color('gray', 5)}",
        ),
        rx.box(content, width="100%", max_width="60rem", padding=["1rem", "1.5rem", "2rem"]),
        ready_marker(),
        connection_notice(),
        spacing="0", width="100%", align="center", min_height="100vh",
    )


def framed(title: str, content: Callable[[], rx.Component]) -> rx.Component:
    """Strangers get a light public frame; signed-in people stay inside the portal shell.
    `title` is an English text marked with N_ (the shell translates it)."""
    return rx.cond(SessionState.signed_in, shell(title)(content)(), _public(content()))


def search_box() -> rx.Component:
    return form(
        rx.hstack(
            # Uncontrolled: what is typed stays in the browser until the form is sent.
            rx.input(rx.input.slot(rx.icon("search", size=16)), name="q", default_value=HelpState.query,
                     placeholder=t("Ask a question, e.g. can I get my money back?"),
                     aria_label=t("Search the help center"), max_length=200, size="3", width="100%",
                     data_testid="help-search-input"),
            rx.button(t("Search"), type="submit", size="3", data_testid="help-search-submit"),
            width="100%",
        ),
        on_submit=HelpState.search, width="100%",
    )


def _result(row: ArticleRow) -> rx.Component:
    return rx.box(
        rx.link(row.title, on_click=HelpState.open_result(row.slug), weight="medium", size="3",
                cursor="pointer", data_testid="help-result-link"),
        rx.text(row.summary, size="2", color_scheme="gray"),
        rx.text(row.category_name, size="1", color_scheme="gray"),
        data_testid="help-result", padding_y="0.5rem", width="100%",
    )


def _results() -> rx.Component:
    return rx.fragment(rx.cond(
        HelpState.search_error != "",
        rx.callout(HelpState.search_error, icon="clock", color_scheme="amber", role="alert",
                   data_testid="help-search-error", width="100%"),
    ), rx.cond(
        HelpState.searched,
        rx.vstack(
            rx.cond(
                HelpState.results.length() > 0,
                rx.vstack(rx.foreach(HelpState.results, _result), spacing="1", width="100%"),
                rx.callout(t("We found nothing for that question. Try other words, or browse the topics below."),
                           icon="info", data_testid="help-no-results", width="100%"),
            ),
            rx.link(t("Clear search"), on_click=HelpState.clear, size="2", cursor="pointer"),
            spacing="2", width="100%", data_testid="help-results",
        ),
    ))


def _category_card(row: CategoryRow) -> rx.Component:
    return rx.link(
        rx.card(rx.vstack(rx.heading(row.name, size="4"), rx.text(row.description, size="2", color_scheme="gray"),
                          rx.text(row.count, size="1", color_scheme="gray"), spacing="1"), width="100%"),
        href=row.href, underline="none", data_testid="help-category",
    )


def _home() -> rx.Component:
    return rx.vstack(
        rx.heading(t("How can we help?"), size="6", as_="h1"),
        search_box(),
        _results(),
        rx.grid(rx.foreach(HelpState.categories, _category_card), columns=rx.breakpoints(initial="1", sm="2",
                                                                                          md="3"),
                spacing="4", width="100%"),
        spacing="5", width="100%",
    )


def help_page() -> rx.Component:
    return framed(N_("Help"), _home)


def _article_link(row: ArticleRow) -> rx.Component:
    return rx.box(rx.link(row.title, href=row.href, weight="medium"),
                  rx.text(row.summary, size="2", color_scheme="gray"), padding_y="0.4rem",
                  data_testid="help-article-link")


def _category() -> rx.Component:
    return rx.vstack(
        rx.link(t("← Help center"), href="/help", size="2"),
        error_callout(HelpCategoryState.error),
        rx.heading(HelpCategoryState.name, size="6", as_="h1", data_testid="help-category-name"),
        rx.text(HelpCategoryState.description, color_scheme="gray"),
        rx.vstack(rx.foreach(HelpCategoryState.articles, _article_link), spacing="1", width="100%"),
        spacing="3", width="100%",
    )


def category_page() -> rx.Component:
    return framed(N_("Help"), _category)


def _feedback() -> rx.Component:
    s = HelpArticleState
    return rx.card(
        rx.cond(
            s.voted,
            rx.text(s.vote_message, data_testid="help-vote-thanks"),
            rx.hstack(
                rx.text(t("Was this article helpful?"), weight="medium"),
                rx.button(rx.icon("thumbs_up", size=16), t("Yes"), variant="soft", on_click=s.vote(True),
                          data_testid="help-vote-yes"),
                rx.button(rx.icon("thumbs_down", size=16), t("No"), variant="soft", color_scheme="gray",
                          on_click=s.vote(False), data_testid="help-vote-no"),
                align="center", spacing="3", wrap="wrap",
            ),
        ),
        width="100%",
    )


def _article() -> rx.Component:
    s = HelpArticleState
    return rx.vstack(
        rx.hstack(rx.link(t("Help center"), href="/help", size="2"), rx.text("›", size="2", color_scheme="gray"),
                  rx.link(s.category_name, href=s.category_href, size="2"), spacing="2"),
        error_callout(s.error),
        rx.cond(
            s.title != "",
            rx.vstack(
                rx.cond(s.draft, rx.badge(t("Draft: only staff can see this"), color_scheme="amber")),
                rx.cond(s.language_note != "",
                        rx.callout(s.language_note, icon="languages", size="1", color_scheme="gray",
                                   width="100%", data_testid="help-language-note")),
                # The article's words carry the language they are shown in (a translation's, or
                # English in place of a missing one), so screen readers pronounce them right.
                rx.vstack(
                    rx.heading(s.title, size="7", as_="h1", data_testid="help-article-title"),
                    rx.text(s.summary, size="3", color_scheme="gray"),
                    # No raw HTML from article bodies: Markdown only, so nothing an editor types can run.
                    rx.box(rx.markdown(s.body_md, use_raw=False), width="100%", data_testid="help-article-body"),
                    lang=s.lang, spacing="3", width="100%", data_testid="help-article-text",
                ),
                rx.text(t("Updated {date}", date=s.updated), size="1", color_scheme="gray"),
                _feedback(),
                rx.cond(
                    s.related.length() > 0,
                    rx.vstack(rx.heading(t("Related articles"), size="4"),
                              rx.foreach(s.related, _article_link), spacing="1", width="100%",
                              data_testid="help-related"),
                ),
                spacing="3", width="100%",
            ),
        ),
        spacing="3", width="100%",
    )


def article_page() -> rx.Component:
    return framed(N_("Help"), _article)


def register(app: rx.App) -> None:
    app.add_page(help_page, route="/help", title=N_("Help center"), description=DESCRIPTION, on_load=HelpState.load)
    app.add_page(category_page, route="/help/[category]", title=HelpCategoryState.page_title,
                 description=DESCRIPTION, on_load=HelpCategoryState.load)
    app.add_page(article_page, route="/help/[category]/[id]", title=HelpArticleState.page_title,
                 description=HelpArticleState.page_description, on_load=HelpArticleState.load)
