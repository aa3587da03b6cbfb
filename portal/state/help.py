"""The public help center. Anyone may call these handlers, so every argument is treated as hostile:
types and lengths are checked, slugs must look like slugs, ids stay on the server."""

from __future__ import annotations

import dataclasses
import re

import reflex as rx
from reflex_base.event import EventSpec

from portal.db import session_scope
from portal.domain import kb
from portal.domain.errors import DomainError, ErrorCode
from portal.format import day
from portal.i18n import tr, tr_n
from portal.settings import get_settings
from portal.state import tab
from portal.state.base import PortalState, on_loop
from portal.state.guard import Access, access, current_principal, request_info_of
from portal.state.messages import message_for_error

_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def valid_slug(value: object) -> str | None:
    return value if isinstance(value, str) and len(value) <= 120 and _SLUG.match(value) else None


@dataclasses.dataclass
class CategoryRow:
    slug: str
    name: str
    description: str
    count: str
    href: str


@dataclasses.dataclass
class ArticleRow:
    slug: str
    title: str
    summary: str
    category_name: str
    href: str


def _row(card: kb.ArticleCard) -> ArticleRow:
    return ArticleRow(slug=card.slug, title=card.title, summary=card.summary, category_name=card.category_name,
                      href=f"/help/{card.category_slug}/{card.slug}")


def _path_parts(state: rx.State) -> list[str]:
    return [p for p in tab.path(state).split("/") if p]


@access(Access.PUBLIC)
class HelpState(PortalState, rx.State):
    """Help home: categories and search."""

    query: str = ""
    searched: bool = False
    results: list[ArticleRow] = []
    categories: list[CategoryRow] = []
    search_error: str = ""
    _query_id: int | None = None

    @rx.event
    def load(self) -> None:
        with session_scope() as db:
            cats = kb.categories(db)
        self.categories = [CategoryRow(slug=c.slug, name=c.name, description=c.description,
                                       count=tr_n("{n} article", "{n} articles", c.article_count),
                                       href=f"/help/{c.slug}") for c in cats if c.article_count]
        q = tab.query_parameters(self).get("q")
        if isinstance(q, str) and q.strip():
            self.query = kb.normalize_query(q)
            self._run()

    @rx.event
    def search(self, form_data: dict | None = None) -> None:
        if isinstance(form_data, dict) and isinstance(form_data.get("q"), str):
            self.query = form_data["q"][: kb.MAX_QUERY]
        self._run()

    def _run(self) -> None:
        q = kb.normalize_query(self.query)
        if not q:
            self.searched, self.results, self._query_id = False, [], None
            return
        try:
            with session_scope() as db:
                outcome = kb.search(db, principal=current_principal(), query=q, source="help_center",
                                    request=request_info_of(self))
        except DomainError as err:
            if err.code != ErrorCode.THROTTLED:
                raise
            # What was typed stays in the box; the results say why there are none.
            self.searched, self.results, self._query_id = False, [], None
            self.search_error = tr("You searched many times in a short while. Wait a minute, then try again.")
            return
        self.search_error = ""
        self._query_id = outcome.query_id
        self.results = [_row(h) for h in outcome.hits]
        self.searched = True

    @rx.event
    @on_loop
    def clear(self) -> None:
        self.query, self.searched, self.results, self._query_id = "", False, [], None

    @rx.event
    def open_result(self, slug: str) -> EventSpec | None:
        slug_ok = valid_slug(slug)
        hit = next((r for r in self.results if r.slug == slug_ok), None) if slug_ok else None
        if hit is None:
            return None  # only results this tab was shown can be opened from here
        if self._query_id is not None:
            with session_scope() as db:
                kb.record_click(db, principal=current_principal(), query_id=self._query_id, article_slug=hit.slug)
        return rx.redirect(hit.href)


@access(Access.PUBLIC)
class HelpCategoryState(PortalState, rx.State):
    name: str = ""
    description: str = ""
    articles: list[ArticleRow] = []
    error: str = ""

    @rx.var
    def page_title(self) -> str:
        business = get_settings().portal_business_name
        return tr("{page} · {business} help", page=self.name, business=business) if self.name \
            else tr("{business} help center", business=business)

    @rx.event
    def load(self) -> None:
        self.reset()
        parts = _path_parts(self)
        slug = valid_slug(parts[1]) if len(parts) >= 2 else None
        if slug is None:
            self.error = tr("We could not find that part of the help center.")
            return
        try:
            with session_scope() as db:
                cat, cards = kb.category(db, slug=slug)
        except DomainError as err:
            self.error = message_for_error(err)
            return
        self.name, self.description = cat.name, cat.description
        self.articles = [_row(c) for c in cards]


@access(Access.PUBLIC)
class HelpArticleState(PortalState, rx.State):
    title: str = ""
    summary: str = ""
    body_md: str = ""
    category_name: str = ""
    category_href: str = ""
    updated: str = ""
    draft: bool = False
    # The reader's language has no translation of this article: it is shown in English, and
    # `language_note` says so (empty otherwise).
    shown_in_english: bool = False
    language_note: str = ""
    lang: str = "en"  # the language of the text shown (for the page's lang attribute)
    related: list[ArticleRow] = []
    voted: bool = False
    vote_message: str = ""
    error: str = ""
    _slug: str = ""

    @rx.var
    def page_title(self) -> str:
        business = get_settings().portal_business_name
        return tr("{page} · {business} help", page=self.title, business=business) if self.title \
            else tr("{business} help center", business=business)

    @rx.var
    def page_description(self) -> str:
        return self.summary or tr("Answers to common questions about orders, delivery, returns and billing.")

    @rx.event
    def load(self) -> None:
        self.reset()
        parts = _path_parts(self)
        slug = valid_slug(parts[-1]) if len(parts) >= 3 else None
        if slug is None:
            self.error = tr("We could not find that article.")
            return
        try:
            with session_scope() as db:
                view = kb.article(db, principal=current_principal(), slug=slug)
                related = kb.related(db, article_id=view.id)
        except DomainError as err:
            self.error = message_for_error(err)
            return
        self._slug = view.slug
        self.title, self.summary, self.body_md = view.title, view.summary, view.body_md
        self.category_name, self.category_href = view.category_name, f"/help/{view.category_slug}"
        self.updated = day(view.updated_at)
        self.draft = view.status != "published"
        self.lang, self.shown_in_english = view.lang, view.fallback
        self.language_note = (tr("This article is not available in your language yet, so it is shown in English.")
                              if view.fallback else "")
        self.related = [_row(c) for c in related]

    @rx.event
    def vote(self, helpful: bool) -> None:
        if not isinstance(helpful, bool) or not self._slug or self.voted:
            return
        try:
            with session_scope() as db:
                counted = kb.vote(db, principal=current_principal(), visitor=tab.token(self),
                                  slug=self._slug, helpful=helpful)
        except DomainError as err:
            self.vote_message = message_for_error(err)
            return
        self.voted = True
        self.vote_message = (tr("Thank you for telling us.") if counted else
                             tr("You already told us about this article. Thank you."))
