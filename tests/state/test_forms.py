"""Forms filled in by a page's load keep what was typed before that load ran (portal/state/forms.py).

Reflex queues a page's on_load after the navigation, behind any input events already sent; the
article editor and the new-ticket form both ran into it (with Redis, reliably)."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from urllib.parse import urlsplit

from portal.state import forms

STORED = {"24": "Track your order", "25": "Returns"}


@dataclass
class Editor:
    """The shape of ArticleEditorState: a form for the article the address names."""

    path: str = "/agent/articles/24"
    title: str = ""
    article: str | None = None
    _page_key: str = ""
    _dirty: bool = False
    loads: list[str] = field(default_factory=list)

    @property
    def router(self) -> SimpleNamespace:
        return SimpleNamespace(url=urlsplit(f"http://portal{self.path}"))

    def get_value(self, key: str) -> object:
        """As BaseState's: the router's URL as Reflex stores it (portal.state.tab reads it so)."""
        assert key == "rx_router_url", key
        return self.router.url

    def _fresh(self) -> None:
        self.title, self.article = "", None
        forms.mark_fresh(self)
        raw = self.router.url.path.rstrip("/").rsplit("/", 1)[-1]
        self.loads.append(raw)
        if raw in STORED:
            self.title, self.article = STORED[raw], raw

    # the handlers, as the real state has them
    def load(self) -> None:
        forms.arrive(self)

    def edit_title(self, value: str) -> None:
        forms.enter(self)
        self.title = value


def test_typing_that_arrives_before_the_load_is_kept() -> None:
    # Given an editor that last showed article 24
    ed = Editor()
    ed.load()
    assert (ed.title, ed.article) == ("Track your order", "24")
    # When they open "new" and type before the page's load has run
    ed.path = "/agent/articles/new"
    ed.edit_title("Borrowing a snowshoe demo pair")
    ed.load()
    # Then the form is a new article (not article 24) holding what they typed
    assert (ed.title, ed.article) == ("Borrowing a snowshoe demo pair", None)
    assert ed.loads == ["24", "new"]


def test_a_clean_form_is_refilled_on_every_visit_and_a_draft_is_kept() -> None:
    ed = Editor(path="/agent/articles/25")
    ed.load()
    ed.path = "/agent/articles/24"
    ed.load()
    assert ed.title == "Track your order"
    # Coming back to the same page without typing reads it again (someone may have changed it)
    ed.load()
    assert ed.loads == ["25", "24", "24"]
    # Typing makes it a draft: leaving for a moment and coming back keeps it
    ed.edit_title("Track your parcel")
    ed.load()
    assert ed.title == "Track your parcel" and ed.loads == ["25", "24", "24"]
    # Another page never shows that draft, and the draft is gone once another page's form is filled
    ed.path = "/agent/articles/25"
    ed.load()
    assert ed.title == "Returns"
    ed.path = "/agent/articles/24"
    ed.load()
    assert ed.title == "Track your order"


def test_the_query_is_part_of_the_page() -> None:
    # /tickets/new?context=order&id=1 and ?context=order&id=2 are different forms
    ed = Editor(path="/tickets/new?context=order&id=1")
    ed.load()
    ed.edit_title("About order 1")
    ed.path = "/tickets/new?context=order&id=2"
    ed.edit_title("About order 2")
    assert ed.loads == ["new", "new"] and ed.title == "About order 2"
