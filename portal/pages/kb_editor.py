"""Staff: help-center articles, with a Markdown editor and preview."""

from __future__ import annotations

import reflex as rx

from portal.components.common import card, error_callout, notice_callout
from portal.i18n import N_, t
from portal.layouts.shell import shell
from portal.state.kb_editor import ArticleEditorState, ArticleListState, StaffArticleItem


def _status_text(status: rx.Var) -> rx.Var:
    """An article's status (a value compared in code) as shown."""
    return rx.match(status, ("published", t("published")), ("draft", t("draft")), ("new", t("new")), status)


def _row(r: StaffArticleItem) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.link(r.title, href=r.edit_href, data_testid="article-edit-link")),
        rx.table.cell(r.category),
        rx.table.cell(rx.badge(_status_text(r.status),
                               color_scheme=rx.cond(r.status == "published", "green", "amber"))),
        rx.table.cell(r.updated, display=["none", "table-cell"]),
        data_testid="article-row",
    )


@shell(N_("Help articles"))
def article_list_page() -> rx.Component:
    return rx.vstack(
        rx.link(rx.button(rx.icon("plus", size=16), t("New article"), data_testid="new-article"),
                href="/agent/articles/new"),
        rx.table.root(
            rx.table.header(rx.table.row(
                rx.table.column_header_cell(t("Title")), rx.table.column_header_cell(t("Category")),
                rx.table.column_header_cell(t("Status")),
                rx.table.column_header_cell(t("Updated"), display=["none", "table-cell"]))),
            rx.table.body(rx.foreach(ArticleListState.rows, _row)),
            width="100%",
        ),
        spacing="4", width="100%",
    )


def _field(label: str | rx.Var, control: rx.Component) -> rx.Component:
    """The words label the control they wrap."""
    return rx.el.label(rx.vstack(rx.text(label, size="2", weight="medium"), control, spacing="1", width="100%"),
                       width="100%")


@shell(N_("Edit article"))
def article_editor_page() -> rx.Component:
    s = ArticleEditorState
    return rx.vstack(
        rx.link(t("← All articles"), href="/agent/articles", size="2"),
        error_callout(s.error),
        notice_callout(s.notice),
        rx.hstack(rx.text(t("Status:"), size="2"), rx.badge(_status_text(rx.cond(s.status != "", s.status, "new")),
                                                          data_testid="article-status"),
                  rx.spacer(),
                  rx.cond(s.status == "published",
                          rx.button(t("Unpublish"), variant="soft", color_scheme="amber", on_click=s.unpublish,
                                    data_testid="article-unpublish"),
                          rx.button(t("Publish"), variant="soft", color_scheme="green", on_click=s.publish,
                                    disabled=s.is_new, data_testid="article-publish")),
                  rx.button(t("Save"), on_click=s.save, data_testid="article-save"),
                  width="100%", align="center"),
        card(
            t("Article"),
            _field(t("Title"), rx.input(value=s.title, on_change=s.edit_title, max_length=200, width="100%",
                                     data_testid="article-title")),
            _field(t("Summary"), rx.input(value=s.summary, on_change=s.edit_summary, max_length=400, width="100%",
                                       data_testid="article-summary")),
            rx.hstack(
                _field(t("Category"), rx.select.root(
                    rx.select.trigger(data_testid="article-category", aria_label=t("Category")),
                    rx.select.content(rx.foreach(s.categories, lambda c: rx.select.item(c[1], value=c[0]))),
                    value=s.category, on_change=s.pick_category)),
                _field(t("Address (slug)"), rx.input(value=s.slug, on_change=s.edit_slug,
                                                  placeholder=t("made from the title"), max_length=120, width="100%",
                                                  data_testid="article-slug")),
                width="100%",
            ),
            rx.tabs.root(
                rx.tabs.list(rx.tabs.trigger(t("Write"), value="write"),
                             rx.tabs.trigger(t("Preview"), value="preview", data_testid="article-preview-tab")),
                rx.tabs.content(
                    rx.text_area(value=s.body_md, on_change=s.edit_body, rows="18", width="100%",
                                 font_family="monospace", data_testid="article-body", aria_label=t("Article text")),
                    value="write", padding_top="0.75rem"),
                rx.tabs.content(rx.box(rx.markdown(s.body_md, use_raw=False), data_testid="article-preview"),
                                value="preview", padding_top="0.75rem"),
                default_value="write", width="100%",
            ),
            icon="file_text",
        ),
        spacing="4", width="100%",
    )


def register(app: rx.App) -> None:
    app.add_page(article_list_page, route="/agent/articles", title=N_("Help articles"), on_load=ArticleListState.load)
    app.add_page(article_editor_page, route="/agent/articles/[article_id]", title=N_("Edit article"),
                 on_load=ArticleEditorState.load)
