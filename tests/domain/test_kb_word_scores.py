"""Full-text search adds up each word's kept scores (portal/domain/kb_fulltext.py) instead of asking
the database to match and score the whole question: the same articles in the same order as the
database's own ranking of the words ORed (FTS5's bm25 with the column weights, exactly;
PostgreSQL's ts_rank over the stored document weighted by each lexeme's idf, computed here in one
statement, where articles whose ranks are a float4's last bit apart may change places), asked once
per word (SQLite: a query per word; PostgreSQL: one query for a search's new words), none after,
and the kept scores dropped when an article changes (SQLite) or carried over by ranking the changed
articles alone (PostgreSQL)."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import event, text
from sqlmodel import Session

from portal.domain import kb, kb_fulltext
from portal.models.kb import FTS_TABLE
from tests.factories_kb import clear_search_index, make_article, make_category

VOCABULARY = [
    "parcel", "gaiters", "crampons", "refund", "invoice", "courier", "address", "delivery", "window",
    "return", "label", "warranty", "boots", "strap", "damaged", "missing", "voucher", "discount", "payment",
    "card", "tracking"
]


def help_center(db: Session, articles: int, seed: int = 7) -> list[int]:
    clear_search_index(db)
    kb._word_scores.clear()
    rng = random.Random(seed)
    cat = make_category(db)
    ids = []
    for n in range(articles):
        title = " ".join(rng.sample(VOCABULARY, 2))
        summary = " ".join(rng.choices(VOCABULARY, k=rng.randint(0, 5)))
        body = " ".join(rng.choices(VOCABULARY, k=rng.randint(3, 40)))
        ids.append(make_article(db, cat, title=f"{title} {n}", summary=summary, body=f"{body} walk {n}").id)
    return ids


def database_ranking(db: Session, words: list[str], limit: int = kb.CANDIDATES) -> list[int]:
    """What the database itself answers for the whole question, ties by id."""
    if db.get_bind().dialect.name == "sqlite":
        rows = db.execute(text(
            f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :q ORDER BY "  # noqa: S608
            f"bm25({FTS_TABLE}, {kb.TITLE_WEIGHT}, {kb.SUMMARY_WEIGHT}, {kb.BODY_WEIGHT}), rowid LIMIT :n"),
            {"q": " OR ".join(f'"{w}"' for w in words), "n": limit}).all()
        return [int(r[0]) for r in rows]
    return [i for i, _ in pg_idf_ranking(db, words, limit)]


def pg_idf_ranking(db: Session, words: list[str], limit: int) -> list[tuple[int, float]]:
    """PostgreSQL ranking the question in one statement: its words' lexemes (parsed here by the
    database), each article's ts_rank for each, weighted by the lexeme's idf among the published."""
    lexemes = [str(r[0]) for r in db.execute(text(
        "SELECT DISTINCT quote_literal(l) FROM unnest(CAST(:ws AS text[])) AS w, "
        "unnest(tsvector_to_array(to_tsvector('english', w))) AS l"), {"ws": words}).all()]
    sql = kb_fulltext.PG_IDF_RANKING_SQL.format(document="search_document")
    return [(int(i), float(score)) for i, score in db.execute(text(sql), {"lexemes": lexemes, "n": limit}).all()]


def assert_same_ranking(db: Session, words: list[str], got: list[int], expected: list[int]) -> None:
    if db.get_bind().dialect.name == "sqlite":
        assert got == expected, words
        return
    # PostgreSQL: at each place, an article ranked as the database's own is (to within a float4's
    # last bits: kb_fulltext's docstring)
    ranks = dict(pg_idf_ranking(db, words, 100_000))
    assert len(got) == len(expected), words
    for mine, theirs in zip(got, expected, strict=True):
        assert ranks[mine] == pytest.approx(ranks[theirs], rel=1e-6, abs=0), (words, mine, theirs)
    assert sum(a == b for a, b in zip(got, expected, strict=True)) >= 0.8 * len(got), words


def scoring_queries(db: Session, fn: object) -> list[str]:
    seen: list[str] = []

    def listen(_c: object, _cur: object, statement: str, _p: object, _ctx: object, _many: bool) -> None:
        if "bm25(" in statement or "ts_rank(" in statement:
            seen.append(statement)

    engine = db.get_bind()
    event.listen(engine, "before_cursor_execute", listen)
    try:
        fn()  # type: ignore[operator]
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    return seen


QUESTIONS = [["parcel"], ["refund", "damaged", "boots"], ["courier", "address", "window", "delivery"],
             ["voucher", "discount", "payment", "card", "invoice", "tracking", "label"],
             ["returns", "returned", "return", "labels"], ["warranty", "strap", "nothing", "here"],
             ["missing", "parcel", "refund", "gaiters", "crampons", "boots", "walk"]]


def test_the_kept_word_scores_rank_exactly_as_the_database_does(db: Session) -> None:
    help_center(db, 160)
    for words in QUESTIONS:
        expected = database_ranking(db, words)
        assert expected, words  # positive control: every question matches something
        assert_same_ranking(db, words, kb.fulltext_ids(db, " ".join(words), words=words), expected)
        # and again from the kept scores
        assert_same_ranking(db, words, kb.fulltext_ids(db, " ".join(words), words=words), expected)
    # fewer than the candidates, the whole ranking
    assert_same_ranking(db, ["crampons", "strap"], kb.fulltext_ids(db, "x", words=["crampons", "strap"], limit=500),
                        database_ranking(db, ["crampons", "strap"], 500))


def test_a_word_is_scored_once_then_kept_until_an_article_changes(db: Session) -> None:
    ids = help_center(db, 60)
    words = ["refund", "courier"]
    sqlite = db.get_bind().dialect.name == "sqlite"
    first = scoring_queries(db, lambda: kb.fulltext_ids(db, "refund courier", words=words))
    assert len(first) == (2 if sqlite else 1)  # one query per word (PostgreSQL: one for the words not kept)
    assert scoring_queries(db, lambda: kb.fulltext_ids(db, "refund courier", words=words)) == []
    # a new word is asked for alone
    assert len(scoring_queries(db, lambda: kb.fulltext_ids(db, "q", words=["refund", "gaiters"]))) == 1
    # An article changes: its new title's word ranks it first, and every word is scored again.
    article = db.get(kb.KbArticle, ids[-1])
    assert article is not None
    assert kb.fulltext_ids(db, "zeppelin", words=["zeppelin"]) == []  # control: no article has it yet
    article.title = "zeppelin refund courier"
    article.updated_at = kb.utcnow()
    db.add(article)
    kb.index_article(db, article, embedder=False)
    db.commit()
    again = scoring_queries(db, lambda: kb.fulltext_ids(db, "refund courier zeppelin",
                                                        words=[*words, "zeppelin"]))
    if sqlite:
        assert len(again) == 3
    else:  # every kept lexeme (zeppelin's too, kept by the control) ranked again in the changed article alone
        assert len(again) == 1 and "ANY(" in again[0]
    assert kb.fulltext_ids(db, "q", words=[*words, "zeppelin"])[0] == article.id
    assert_same_ranking(db, [*words, "zeppelin"], kb.fulltext_ids(db, "q", words=[*words, "zeppelin"]),
                        database_ranking(db, [*words, "zeppelin"]))


def _edit(db: Session, article_id: int, **fields: object) -> None:
    article = db.get(kb.KbArticle, article_id)
    assert article is not None
    for name, value in fields.items():
        setattr(article, name, value)
    article.updated_at = kb.utcnow()
    db.add(article)
    kb.index_article(db, article, embedder=False)
    db.commit()


def test_postgresql_carries_the_kept_ranks_over_a_change_by_ranking_the_changed_articles_alone(
        db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    if db.get_bind().dialect.name == "sqlite":
        pytest.skip("FTS5's bm25 moves for every article when one changes (its idf): SQLite asks again")
    ids = help_center(db, 120)
    before = [kb.fulltext_ids(db, "q", words=words) for words in QUESTIONS]
    assert scoring_queries(db, lambda: [kb.fulltext_ids(db, "q", words=w) for w in QUESTIONS]) == []

    # One article edited to be all about crampons, one unpublished, one new
    edited, hidden = ids[10], ids[20]
    assert any(hidden in found for found in before)  # control: it was found before
    _edit(db, edited, title="crampons crampons strap", summary="crampons", body_md="crampons boots walk")
    _edit(db, hidden, status=kb.ArticleStatus.DRAFT)
    cat = db.get(kb.KbCategory, db.get(kb.KbArticle, ids[0]).category_id)  # type: ignore[union-attr]
    assert cat is not None
    added = make_article(db, cat, title="voucher discount voucher", summary="payment card",
                         body="invoice tracking label voucher").id
    results: dict[int, list[int]] = {}

    def search_all() -> None:
        for n, words in enumerate(QUESTIONS):
            results[n] = kb.fulltext_ids(db, "q", words=words)

    asked = scoring_queries(db, search_all)
    # One query, over the three changed articles only, for every kept lexeme: no word asked again
    assert len(asked) == 1 and "ANY(" in asked[0]
    for n, words in enumerate(QUESTIONS):
        assert_same_ranking(db, words, results[n], database_ranking(db, words))
        assert hidden not in results[n]
    assert results[QUESTIONS.index(["voucher", "discount", "payment", "card", "invoice", "tracking", "label"])][0] \
        == added
    assert edited in kb.fulltext_ids(db, "q", words=["crampons"])[:3]

    # Positive control: past PG_CARRY_MAX_CHANGED changed articles, every word is asked again
    monkeypatch.setattr(kb_fulltext, "PG_CARRY_MAX_CHANGED", 0)
    _edit(db, ids[30], title="parcel parcel")
    asked = scoring_queries(db, search_all)
    assert len(asked) == len([w for w in QUESTIONS if any(x not in ("nothing", "here") for x in w)])
    assert not any("ANY(" in q for q in asked)
    for n, words in enumerate(QUESTIONS):
        assert_same_ranking(db, words, results[n], database_ranking(db, words))
