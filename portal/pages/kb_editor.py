"""Staff: help-center articles, with a Markdown editor and preview."""

from __future__ import annotations

import reflex as rx

from portal.components.common import card, error_callout, notice_callout
from portal.layouts.shell import shell
from portal.state.kb_editor import ArticleEditorState, ArticleListState, StaffArticleItem


def _row(r: StaffArticleItem) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.link(r.title, href=r.edit_href, data_testid="article-edit-link")),
        rx.table.cell(r.category),
        rx.table.cell(rx.badge(r.status, color_scheme=rx.cond(r.status == "published", "green", "amber"))),
        rx.table.cell(r.updated, display=["none", "table-cell"]),
        data_testid="article-row",
    )


@shell("Help articles")
def article_list_page() -> rx.Component:
    return rx.vstack(
        rx.link(rx.button(rx.icon("plus", size=16), "New article", data_testid="new-article"),
                href="/agent/articles/new"),
        rx.table.root(
            rx.table.header(rx.table.row(
                rx.table.column_header_cell("Title"), rx.table.column_header_cell("Category"),
                rx.table.column_header_cell("Status"),
                rx.table.column_header_cell("Updated", display=["none", "table-cell"]))),
            rx.table.body(rx.foreach(ArticleListState.rows, _row)),
            width="100%",
        ),
        spacing="4", width="100%",
    )


def _field(label: str, control: rx.Component) -> rx.Component:
    """The words label the control they wrap."""
    return rx.el.label(rx.vstack(rx.text(label, size="2", weight="medium"), control, spacing="1", width="100%"),
                       width="100%")


@shell("Edit article")
def article_editor_page() -> rx.Component:
    s = ArticleEditorState
    return rx.vstack(
        rx.link("← All articles", href="/agent/articles", size="2"),
        error_callout(s.error),
        notice_callout(s.notice),
        rx.hstack(rx.text("Status:", size="2"), rx.badge(rx.cond(s.status != "", s.status, "new"),
                                                          data_testid="article-status"),
                  rx.spacer(),
                  rx.cond(s.status == "published",
                          rx.button("Unpublish", variant="soft", color_scheme="amber", on_click=s.unpublish,
                                    data_testid="article-unpublish"),
                          rx.button("Publish", variant="soft", color_scheme="green", on_click=s.publish,
                                    disabled=s.is_new, data_testid="article-publish")),
                  rx.button("Save", on_click=s.save, data_testid="article-save"),
                  width="100%", align="center"),
        card(
            "Article",
            _field("Title", rx.input(value=s.title, on_change=s.edit_title, max_length=200, width="100%",
                                     data_testid="article-title")),
            _field("Summary", rx.input(value=s.summary, on_change=s.edit_summary, max_length=400, width="100%",
                                       data_testid="article-summary")),
            rx.hstack(
                _field("Category", rx.select.root(
                    rx.select.trigger(data_testid="article-category", aria_label="Category"),
                    rx.select.content(rx.foreach(s.categories, lambda c: rx.select.item(c[1], value=c[0]))),
                    value=s.category, on_change=s.pick_category)),
                _field("Address (slug)", rx.input(value=s.slug, on_change=s.edit_slug,
                                                  placeholder="made from the title", max_length=120, width="100%",
                                                  data_testid="article-slug")),
                width="100%",
            ),
            rx.tabs.root(
                rx.tabs.list(rx.tabs.trigger("Write", value="write"),
                             rx.tabs.trigger("Preview", value="preview", data_testid="article-preview-tab")),
                rx.tabs.content(
                    rx.text_area(value=s.body_md, on_change=s.edit_body, rows="18", width="100%",
                                 font_family="monospace", data_testid="article-body", aria_label="Article text"),
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
    app.add_page(article_list_page, route="/agent/articles", title="Help articles", on_load=ArticleListState.load)
    app.add_page(article_editor_page, route="/agent/articles/[article_id]", title="Edit article",
                 on_load=ArticleEditorState.load)
