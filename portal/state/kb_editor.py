"""Agents and admins write help articles: a list, and an editor with a Markdown preview."""

from __future__ import annotations

import dataclasses

import reflex as rx
from reflex_base.event import EventSpec

from portal.db import session_scope
from portal.domain import kb
from portal.domain.errors import DomainError, Invalid
from portal.format import day_time
from portal.i18n import tr
from portal.state import forms
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
    _article_id: int | None = None
    _page_key: str = ""
    _dirty: bool = False

    @rx.event
    def load(self) -> None:
        forms.arrive(self)  # keeps what was typed on this page and not yet sent

    def _fresh(self) -> None:
        """The form for the article this page names (a blank one for /new), as stored."""
        self.reset()
        forms.mark_fresh(self)
        principal = self._me()
        raw = self.router.url.path.rstrip("/").rsplit("/", 1)[-1]
        with session_scope() as db:
            self.categories = [[slug, name] for slug, name in kb.category_choices(db)]
            if raw == "new":
                self.category = self.categories[0][0] if self.categories else ""
                return
            try:
                view = kb.staff_article(db, principal=principal, article_id=int(raw))
            except (ValueError, DomainError):
                self.error = tr("We could not find that article.")
                return
        self._article_id, self.is_new = view.id, False
        self.title, self.summary, self.body_md = view.title, view.summary, view.body_md
        self.category, self.slug, self.status = view.category_slug, view.slug, view.status

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
            return rx.redirect(f"/agent/articles/{article_id}", replace=True)
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
