"""A worker builds its help-center search caches when it starts, once the help center is large
enough for building them to keep the first reader waiting (seconds at 50,000 articles)."""

from __future__ import annotations

from sqlmodel import Session

from portal.domain import kb
from tests.factories_kb import HashedWordsEmbedder, clear_search_index, make_article, make_category


def caches_current(db: Session, model: HashedWordsEmbedder) -> bool:
    state = kb.published_state(db, model.name)
    return kb._vocabulary.key == (*state[:2], *state[3:-1]) and kb._matrix.key == state


def test_a_large_help_center_is_ready_before_its_first_search(db: Session) -> None:
    clear_search_index(db)
    model = HashedWordsEmbedder()
    cat = make_category(db)
    # Given three published articles (and a draft, which is not searched)
    ids = [make_article(db, cat, title=title, embedder=model).id
           for title in ("Crampons for winter routes", "Gaiters in wet weather", "Returning a tent")]
    make_article(db, cat, title="Bivouac bags", status="draft", embedder=model)
    # When the worker starts with fewer published articles than the threshold, nothing is built
    # (the first search builds what it needs; that takes well under a second at this size)
    assert kb.warm(db, embedder=model, min_articles=4) is False
    assert not caches_current(db, model)
    # When there are at least as many, the typo vocabulary and the vectors are built at start
    assert kb.warm(db, embedder=model, min_articles=3) is True
    assert caches_current(db, model)
    assert {"crampons", "gaiters", "returning"} <= kb._vocabulary.words
    assert "bivouac" not in kb._vocabulary.words
    assert sorted(kb._matrix.ids) == sorted(ids)
    # And a search finds a misspelt word's article through the vocabulary built at start
    hits = kb.search(db, principal=None, query="cramponss", embedder=model).hits
    assert hits and hits[0].title == "Crampons for winter routes"
