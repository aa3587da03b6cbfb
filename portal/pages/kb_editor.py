"""Staff: help-center articles, with a Markdown editor and preview."""

from __future__ import annotations

import reflex as rx

from portal.components.common import card, error_callout, for_this_page, notice_callout
from portal.i18n import N_, t
from portal.layouts.shell import shell
from portal.state.kb_editor import ArticleEditorState, ArticleListState, StaffArticleItem, TranslationItem


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


def _translation_row(item: TranslationItem) -> rx.Component:
    s = ArticleEditorState
    return rx.hstack(
        # The language's own name, said in that language.
        rx.text(item.name, lang=item.lang, weight="medium", min_width="6rem"),
        rx.badge(rx.cond(item.exists, t("Translated"), t("Not translated")),
                 color_scheme=rx.cond(item.exists, "green", "gray"), data_testid="translation-status"),
        rx.spacer(),
        rx.button(rx.cond(item.exists, t("Edit"), t("Add")), size="1", variant="soft",
                  on_click=s.open_translation(item.lang),
                  aria_label=rx.cond(item.exists, t("Edit the translation: {language}", language=item.name),
                                     t("Add a translation: {language}", language=item.name)),
                  data_testid="translation-open"),
        rx.cond(
            item.exists,
            rx.alert_dialog.root(
                rx.alert_dialog.trigger(rx.button(
                    t("Delete"), size="1", variant="ghost", color_scheme="red",
                    aria_label=t("Delete the translation: {language}", language=item.name),
                    data_testid="translation-delete")),
                rx.alert_dialog.content(
                    rx.alert_dialog.title(t("Delete this translation?")),
                    rx.alert_dialog.description(
                        t("Readers who use {language} will see the English article instead.", language=item.name),
                        size="2"),
                    rx.hstack(
                        rx.alert_dialog.cancel(rx.button(t("Keep it"), variant="soft", color_scheme="gray")),
                        # Soft red: white on solid red falls short of 4.5:1 contrast.
                        rx.alert_dialog.action(rx.button(t("Delete"), color_scheme="red", variant="soft",
                                                         on_click=s.delete_translation(item.lang),
                                                         data_testid="translation-delete-confirm")),
                        justify="end", spacing="2", margin_top="1rem",
                    ),
                    data_testid="translation-delete-dialog",
                ),
            ),
        ),
        align="center", width="100%", padding_y="0.4rem", border_bottom=f"1px solid {rx.color('gray', 4)}",
        data_testid="translation-row",
    )


def _invalid(field: str) -> dict[str, rx.Var]:
    """A refused field is marked invalid and described by the message naming it."""
    s = ArticleEditorState
    return {"aria_invalid": rx.cond(s.trans_field == field, "true", "false"),
            "aria_describedby": rx.cond(s.trans_field == field, "translation-error", ""),
            "color_scheme": rx.cond(s.trans_field == field, "red", "gray")}


def _translation_form() -> rx.Component:
    s = ArticleEditorState
    return rx.vstack(
        rx.heading(t("Translation: {language}", language=s.trans_lang_name), size="3", as_="h3"),
        rx.text(t("English original: {title}", title=s.title), size="1", color_scheme="gray"),
        # The fields say which language they hold: spelling checks and screen readers follow it.
        _field(t("Title"), rx.input(value=s.trans_title, on_change=s.edit_trans_title, max_length=200, width="100%",
                                 lang=s.trans_lang, data_testid="translation-title", **_invalid("title"))),
        _field(t("Summary"), rx.input(value=s.trans_summary, on_change=s.edit_trans_summary, max_length=400,
                                   width="100%", lang=s.trans_lang, data_testid="translation-summary",
                                   **_invalid("summary"))),
        _field(t("Article text"), rx.text_area(value=s.trans_body, on_change=s.edit_trans_body, rows="12",
                                            width="100%", font_family="monospace", lang=s.trans_lang,
                                            data_testid="translation-body", **_invalid("body_md"))),
        rx.hstack(
            rx.button(t("Cancel"), variant="soft", color_scheme="gray", on_click=s.close_translation,
                      data_testid="translation-cancel"),
            rx.button(t("Save translation"), on_click=s.save_translation, data_testid="translation-save"),
            justify="end", spacing="2", width="100%",
        ),
        spacing="3", width="100%", data_testid="translation-form",
    )


def _translations() -> rx.Component:
    s = ArticleEditorState
    return card(
        t("Translations"),
        rx.text(t("Readers whose language has no translation see the English article, with a note."),
                size="2", color_scheme="gray"),
        error_callout(s.trans_error, id="translation-error"),
        notice_callout(s.trans_notice),
        rx.box(rx.foreach(s.translations, _translation_row), width="100%"),
        rx.cond(s.trans_lang != "", _translation_form()),
        icon="languages", test_id="article-translations",
    )


def _brief() -> rx.Component:
    """The questions from the insights this article should answer (or readers' comments on it)."""
    s = ArticleEditorState
    return rx.cond(
        s.gap_questions.length() > 0,
        card(
            rx.cond(s.gap_comments, t("What readers said about this article"),
                    t("Questions this article should answer")),
            rx.text(rx.cond(s.gap_comments, t("Comments of readers who voted it unhelpful."),
                            t("How people asked it, most asked first: they found no good answer.")),
                    size="2", color_scheme="gray"),
            rx.el.ul(rx.foreach(s.gap_questions,
                                lambda q: rx.el.li(rx.text(q, size="2"), data_testid="gap-brief-item")),
                     style={"margin": "0 0 0 1.25rem"}),
            icon="circle_help", test_id="gap-brief",
        ),
    )


@shell(N_("Edit article"))
def article_editor_page() -> rx.Component:
    s = ArticleEditorState
    return rx.vstack(
        rx.link(t("← All articles"), href="/agent/articles", size="2"),
        # Never the previously opened article under this address while this page's load is on its way.
        for_this_page(s.form_path, rx.vstack(_editor(), width="100%")),
        spacing="4", width="100%",
    )


def _editor() -> rx.Component:
    s = ArticleEditorState
    return rx.vstack(
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
        _brief(),
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
        rx.cond(s.is_new, rx.fragment(), _translations()),
        spacing="4", width="100%",
    )


def register(app: rx.App) -> None:
    app.add_page(article_list_page, route="/agent/articles", title=N_("Help articles"), on_load=ArticleListState.load)
    app.add_page(article_editor_page, route="/agent/articles/[id]", title=N_("Edit article"),
                 on_load=ArticleEditorState.load)
