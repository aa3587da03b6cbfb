"""Agents and admins write help articles: a list, and an editor with a Markdown preview."""

from __future__ import annotations

import dataclasses

import reflex as rx
from reflex_base.event import EventSpec

from portal.db import session_scope
from portal.domain import content_gaps, kb
from portal.domain.errors import DomainError, Invalid
from portal.format import day_time
from portal.i18n import NAMES, tr
from portal.state import forms, tab
from portal.state.base import PortalState
from portal.state.guard import Access, access
from portal.state.messages import message_for_error


@dataclasses.dataclass
class StaffArticleItem:
    title: str
    status: str
    category: str
    updated: str
    edit_href: str
    view_href: str


@dataclasses.dataclass
class TranslationItem:
    lang: str  # "de", "fr" (a value compared in code)
    name: str  # the language's own name (portal.i18n.NAMES)
    exists: bool


@access(Access.STAFF)
class ArticleListState(PortalState, rx.State):
    rows: list[StaffArticleItem] = []

    @rx.event
    def load(self) -> None:
        with session_scope() as db:
            rows = kb.staff_articles(db, principal=self._me())
            cats = dict(kb.category_choices(db))
        slug_of = {name: slug for slug, name in cats.items()}
        self.rows = [StaffArticleItem(title=r.title, status=r.status, category=r.category_name,
                                      updated=day_time(r.updated_at), edit_href=f"/agent/articles/{r.id}",
                                      view_href=f"/help/{slug_of.get(r.category_name, 'x')}/{r.slug}")
                     for r in rows]


@access(Access.STAFF)
class ArticleEditorState(PortalState, rx.State):
    title: str = ""
    summary: str = ""
    body_md: str = ""
    category: str = ""
    slug: str = ""
    status: str = ""
    categories: list[list[str]] = []
    error: str = ""
    notice: str = ""
    is_new: bool = True
    # Translations of this article: one row per language it may be translated into, and the form
    # for the one being written (`trans_lang` empty: no form open).
    translations: list[TranslationItem] = []
    trans_lang: str = ""
    trans_lang_name: str = ""
    trans_exists: bool = False
    trans_title: str = ""
    trans_summary: str = ""
    trans_body: str = ""
    trans_error: str = ""
    trans_field: str = ""  # the refused field ("title", "summary", "body_md"), for aria-invalid
    trans_notice: str = ""
    _trans_typed: bool = False  # the open translation form holds typing not yet saved
    # A brief from the insights' "questions without a good answer" (?gap=<key>): the phrasings a new
    # article should answer, or what readers said about this one.
    gap_questions: list[str] = []
    gap_comments: bool = False  # the brief holds readers' comments on this article, not questions
    _gap: str = ""
    _article_id: int | None = None
    _page_key: str = ""
    form_path: str = ""  # the path whose contents this holds (portal.state.forms)
    _dirty: bool = False

    @rx.event
    def load(self) -> None:
        forms.arrive(self)  # keeps what was typed on this page and not yet sent

    def _fresh(self) -> None:
        """The form for the article this page names (a blank one for /new), as stored."""
        self.reset()
        forms.mark_fresh(self)
        principal = self._me()
        raw = tab.last_segment(self)
        with session_scope() as db:
            self.categories = [[slug, name] for slug, name in kb.category_choices(db)]
            brief = content_gaps.brief(db, principal=principal,
                                       brief_id=tab.query_parameters(self).get("gap"))
            if raw == "new":
                self.category = self.categories[0][0] if self.categories else ""
                self._attach(brief, None)
                return
            try:
                view = kb.staff_article(db, principal=principal, article_id=int(raw))
            except (ValueError, DomainError):
                self.error = tr("We could not find that article.")
                return
        self._article_id, self.is_new = view.id, False
        self.title, self.summary, self.body_md = view.title, view.summary, view.body_md
        self.category, self.slug, self.status = view.category_slug, view.slug, view.status
        self._attach(brief, view.id)
        self._list_translations()

    def _attach(self, brief: content_gaps.Brief | None, article_id: int | None) -> None:
        """Show a brief's questions (one made for a new article, or for this very article); a title
        is suggested from the question asked most only when the title is empty."""
        if brief is None or (brief.article_id is not None and brief.article_id != article_id):
            return
        self._gap, self.gap_questions, self.gap_comments = brief.id, brief.questions, brief.article_id is not None
        if not self.title.strip() and brief.article_id is None and brief.title:
            self.title = (brief.title[:1].upper() + brief.title[1:])[:200]

    def _text(self, value: object, limit: int) -> str:
        return value[:limit] if isinstance(value, str) else ""

    @rx.event
    def edit_title(self, value: str) -> None:
        forms.enter(self)
        self.title = self._text(value, 200)

    @rx.event
    def edit_summary(self, value: str) -> None:
        forms.enter(self)
        self.summary = self._text(value, 400)

    @rx.event
    def edit_body(self, value: str) -> None:
        forms.enter(self)
        self.body_md = self._text(value, 100_000)

    @rx.event
    def pick_category(self, value: str) -> None:
        forms.enter(self)
        if isinstance(value, str) and any(value == c[0] for c in self.categories):
            self.category = value

    @rx.event
    def edit_slug(self, value: str) -> None:
        forms.enter(self)
        self.slug = self._text(value, 120)

    @rx.event
    def save(self) -> EventSpec | None:
        principal = self._me()
        forms.here(self)
        draft = kb.ArticleDraft(title=self.title, summary=self.summary, body_md=self.body_md,
                                category_slug=self.category, slug=self.slug)
        self.notice = ""
        try:
            with session_scope() as db:
                if self._article_id is None:
                    row = kb.create_article(db, principal=principal, draft=draft)
                else:
                    row = kb.update_article(db, principal=principal, article_id=self._article_id, draft=draft)
                article_id, slug, status = row.id, row.slug, row.status
        except Invalid as err:
            self.error = err.detail or message_for_error(err)
            return None
        except DomainError as err:
            self.error = message_for_error(err)
            return None
        self.error = ""
        self.slug, self.status, self._dirty = slug, status, False
        if self._article_id is None:
            self._article_id, self.is_new = article_id, False
            self.notice = tr("Saved as a draft.")
            # The brief's questions stay beside the article once it has an address of its own.
            keep = f"?gap={self._gap}" if self._gap else ""
            self.form_path = f"/agent/articles/{article_id}"  # still shown while the new address loads
            return rx.redirect(f"{self.form_path}{keep}", replace=True)
        self.notice = tr("Saved.")
        return None

    def _publish(self, published: bool) -> None:
        principal = self._me()
        forms.here(self)
        if self._article_id is None:
            self.error = tr("Save the article first.")
            return
        try:
            with session_scope() as db:
                self.status = kb.set_published(db, principal=principal, article_id=self._article_id,
                                               published=published).status
        except DomainError as err:
            self.error = message_for_error(err)
            return
        self.error = ""
        self.notice = tr("Published: everyone can read it now.") if published else tr("Unpublished: back to draft.")

    @rx.event
    def publish(self) -> None:
        self._publish(True)

    @rx.event
    def unpublish(self) -> None:
        self._publish(False)

    # ----- translations ---------------------------------------------------------------------------

    def _list_translations(self) -> None:
        if self._article_id is None:
            self.translations = []
            return
        with session_scope() as db:
            present = set(kb.translation_languages(db, article_id=self._article_id))
        self.translations = [TranslationItem(lang=lang, name=NAMES.get(lang, lang), exists=lang in present)
                             for lang in kb.TRANSLATED]

    def _language(self, value: object) -> str | None:
        return value if isinstance(value, str) and value in kb.TRANSLATED else None

    @rx.event
    def open_translation(self, lang: str) -> None:
        """Open the form for this language's translation: as stored, or blank to add one."""
        principal = self._me()
        forms.here(self)
        chosen = self._language(lang)
        if chosen is None or self._article_id is None:
            return
        if self.trans_lang and self.trans_lang != chosen and self._trans_typed:
            # Another language's form holds unsaved typing: it stays, and the editor is told why.
            msg = tr("Save or cancel the translation you are writing first: {language}.",
                     language=self.trans_lang_name)
            self.trans_error, self.trans_field = msg, ""
            return
        try:
            with session_scope() as db:
                kb.staff_article(db, principal=principal, article_id=self._article_id)  # still there, still staff
                row = kb.translations(db, [self._article_id], chosen).get(self._article_id)
        except DomainError as err:
            self.trans_error, self.trans_field = message_for_error(err), ""
            return
        self.trans_lang, self.trans_lang_name, self.trans_exists = chosen, NAMES.get(chosen, chosen), row is not None
        self.trans_title = row.title if row else ""
        self.trans_summary = row.summary if row else ""
        self.trans_body = row.body_md if row else ""
        self.trans_error, self.trans_field, self.trans_notice, self._trans_typed = "", "", "", False

    @rx.event
    def close_translation(self) -> None:
        forms.here(self)
        self.trans_lang, self.trans_lang_name, self.trans_exists = "", "", False
        self.trans_title, self.trans_summary, self.trans_body = "", "", ""
        self.trans_error, self.trans_field, self._trans_typed = "", "", False

    @rx.event
    def edit_trans_title(self, value: str) -> None:
        forms.enter(self)
        self._trans_typed = True
        self.trans_title = self._text(value, 200)

    @rx.event
    def edit_trans_summary(self, value: str) -> None:
        forms.enter(self)
        self._trans_typed = True
        self.trans_summary = self._text(value, 400)

    @rx.event
    def edit_trans_body(self, value: str) -> None:
        forms.enter(self)
        self._trans_typed = True
        self.trans_body = self._text(value, 100_000)

    @rx.event
    def save_translation(self) -> None:
        """Store the open form's translation. Refused: the message names the field, and every
        word typed stays in the form."""
        principal = self._me()
        forms.here(self)
        lang = self._language(self.trans_lang)
        self.trans_notice = ""
        if self._article_id is None:
            self.trans_error, self.trans_field = tr("Save the article first."), ""
            return
        if lang is None:
            self.trans_error, self.trans_field = tr("Choose the language of the translation."), ""
            return
        draft = kb.ArticleDraft(title=self.trans_title, summary=self.trans_summary, body_md=self.trans_body,
                                category_slug="")
        try:
            with session_scope() as db:
                kb.save_translation(db, principal=principal, article_id=self._article_id, lang=lang, draft=draft)
        except Invalid as err:
            self.trans_error, self.trans_field = err.detail or message_for_error(err), err.field
            return
        except DomainError as err:
            self.trans_error, self.trans_field = message_for_error(err), ""
            return
        self.trans_error, self.trans_field, self._trans_typed = "", "", False
        self.trans_lang, self.trans_lang_name, self.trans_exists = "", "", False
        self.trans_title, self.trans_summary, self.trans_body = "", "", ""
        self.trans_notice = tr("Translation saved: {language}.", language=NAMES[lang])
        self._list_translations()

    @rx.event
    def delete_translation(self, lang: str) -> None:
        """Remove one translation (asked to confirm on the page): its readers get the English article."""
        principal = self._me()
        forms.here(self)
        chosen = self._language(lang)
        if chosen is None or self._article_id is None:
            return
        try:
            with session_scope() as db:
                removed = kb.delete_translation(db, principal=principal, article_id=self._article_id, lang=chosen)
        except DomainError as err:
            self.trans_error, self.trans_field = message_for_error(err), ""
            return
        if self.trans_lang == chosen:
            self.trans_lang, self.trans_lang_name, self.trans_exists, self._trans_typed = "", "", False, False
            self.trans_title, self.trans_summary, self.trans_body = "", "", ""
        self.trans_error, self.trans_field = "", ""
        self.trans_notice = (tr("Translation deleted: {language}.", language=NAMES[chosen]) if removed
                             else tr("There was no translation to delete: {language}.", language=NAMES[chosen]))
        self._list_translations()
