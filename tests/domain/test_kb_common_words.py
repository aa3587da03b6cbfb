"""Full-text search leaves out words that half the articles or more contain while the others
still fill the candidates: fewer rows scored, the same scores to within about 1e-5 (here, with no
near-copies whose order that could change, the same articles in the same order)."""

from __future__ import annotations

import pytest
from sqlalchemy import event
from sqlmodel import Session

from portal.domain import kb
from tests.factories_kb import clear_search_index, make_article, make_category


@pytest.fixture(autouse=True)
def _sqlite_only(db: Session) -> None:
    if db.get_bind().dialect.name != "sqlite":
        pytest.skip("FTS5's bm25 (PostgreSQL's ts_rank has no document frequency)")
    clear_search_index(db)


def help_center(db: Session, articles: int) -> None:
    cat = make_category(db)
    for n in range(articles):
        # "parcel" is in every article; "gaiters" in every third, said more often in some;
        # "crampons" in every seventh
        words = ["parcel"] * (1 + n % 3) + ["gaiters"] * (n % 3 == 0) * (1 + n % 4) + ["crampons"] * (n % 7 == 0)
        make_article(db, cat, title=f"Article {n} about the trail", summary=" ".join(words[:2]),
                     body=f"{' '.join(words)} and a walk number {n} in the hills")


def matched_queries(db: Session, fn: object) -> list[str]:
    seen: list[str] = []

    def listen(_conn: object, _cursor: object, statement: str, parameters: object, _context: object,
               _executemany: bool) -> None:
        if "MATCH" in statement and "bm25" in statement:
            seen.append(str(parameters[0] if isinstance(parameters, (list, tuple)) else parameters))

    engine = db.get_bind()
    event.listen(engine, "before_cursor_execute", listen)
    try:
        fn()  # type: ignore[operator]
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    return seen


def test_a_word_in_half_the_articles_is_left_out_and_the_ranking_stays_the_same(db: Session) -> None:
    help_center(db, 240)
    words = ["parcel", "gaiters", "crampons"]
    # The ranking every word takes part in, asked of the index directly
    everything = [int(r[0]) for r in kb._fts5_ranked(db, words, kb.CANDIDATES)]
    # When the search runs, "parcel" (in every article) is not matched ...
    asked = matched_queries(db, lambda: kb.fulltext_ids(db, "parcel gaiters crampons", words=words))
    assert len(asked) == 1 and "parcel" not in asked[0] and "gaiters" in asked[0]
    # ... and it finds the same articles in the same order
    assert kb.fulltext_ids(db, "parcel gaiters crampons", words=words) == everything
    assert len(everything) == kb.CANDIDATES


def test_every_word_is_matched_when_the_others_cannot_fill_the_candidates(db: Session) -> None:
    help_center(db, 240)
    # "crampons" is in 35 articles, fewer than the 50 candidates: "parcel" fills the rest
    words = ["parcel", "crampons"]
    asked = matched_queries(db, lambda: kb.fulltext_ids(db, "parcel crampons", words=words))
    assert len(asked) == 2 and "parcel" in asked[-1]
    assert kb.fulltext_ids(db, "parcel crampons", words=words) == [
        int(r[0]) for r in kb._fts5_ranked(db, words, kb.CANDIDATES)]


def test_a_small_help_center_matches_every_word_in_one_query(db: Session) -> None:
    help_center(db, 30)  # fewer articles than candidates: nothing is counted or left out
    words = ["parcel", "gaiters"]
    asked = matched_queries(db, lambda: kb.fulltext_ids(db, "parcel gaiters", words=words))
    assert len(asked) == 1 and "parcel" in asked[0] and "gaiters" in asked[0]
