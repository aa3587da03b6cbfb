"""Help center: the full-text index follows article changes, search records what was asked,
feedback counts once per visitor, drafts stay private, and search quality holds on the eval set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlmodel import Session, select

from portal.domain import kb
from portal.domain.errors import Forbidden, Invalid, NotFound
from portal.integrations import embeddings as emb
from portal.models import AuditEvent, KbArticle, KbFeedback, Role, SearchQuery
from portal.seed.kb_loader import load_kb
from tests.factories import make_customer, make_staff, principal_for
from tests.factories_kb import HashedWordsEmbedder, clear_search_index, make_article, make_category

EVAL = Path(__file__).resolve().parents[2] / "bench" / "kb_eval.jsonl"


@pytest.fixture(autouse=True)
def _empty_index(db: Session) -> None:
    clear_search_index(db)


def titles(db: Session, query: str) -> list[str]:
    return [h.title for h in kb.search(db, principal=None, query=query, embedder=False).hits]


def test_the_full_text_index_follows_edits_publishing_and_unpublishing(db: Session) -> None:
    # Given an agent and a category
    agent = principal_for(make_staff(db))
    cat = make_category(db, slug="gear", name="Gear")
    # When they write a draft about crampons
    a = kb.create_article(db, principal=agent, draft=kb.ArticleDraft(
        title="Fitting crampons", summary="Which crampons fit your boots", body_md="Crampons need stiff soles.",
        category_slug="gear"))
    db.commit()
    # Then the draft is not searchable
    assert titles(db, "crampons") == []
    # When it is published, it is
    assert a.id is not None
    kb.set_published(db, principal=agent, article_id=a.id, published=True)
    db.commit()
    assert titles(db, "crampons") == ["Fitting crampons"]
    # When its text changes, the old words stop matching and the new ones match
    kb.update_article(db, principal=agent, article_id=a.id, draft=kb.ArticleDraft(
        title="Fitting microspikes", summary="Traction for winter walks", body_md="Microspikes slip over soles.",
        category_slug="gear", slug=a.slug))
    db.commit()
    assert titles(db, "crampons") == []
    assert titles(db, "microspikes winter") == ["Fitting microspikes"]
    # When it is unpublished, it disappears from search again
    kb.set_published(db, principal=agent, article_id=a.id, published=False)
    db.commit()
    assert titles(db, "microspikes") == []
    actions = [e.action for e in db.exec(select(AuditEvent).order_by(AuditEvent.id)).all()]
    assert actions == ["kb.article_created", "kb.article_published", "kb.article_updated",
                       "kb.article_unpublished"]
    assert cat.id


def test_embeddings_are_recomputed_when_an_article_changes(db: Session) -> None:
    pytest.importorskip("numpy")
    agent = principal_for(make_staff(db))
    make_category(db, slug="gear")
    model = HashedWordsEmbedder()
    a = kb.create_article(db, principal=agent, draft=kb.ArticleDraft(
        title="Tent poles", summary="", body_md="Aluminium poles", category_slug="gear"))
    assert a.id is not None
    kb.index_article(db, a, embedder=model)
    db.commit()
    before = a.embedding
    assert before and a.embedding_model == model.name
    kb.update_article(db, principal=agent, article_id=a.id, draft=kb.ArticleDraft(
        title="Tent pegs", summary="", body_md="Titanium pegs", category_slug="gear", slug=a.slug))
    kb.index_article(db, a, embedder=model)
    db.commit()
    assert a.embedding != before
    # And a hybrid search takes the embedding ranking into account
    kb.set_published(db, principal=agent, article_id=a.id, published=True)
    db.commit()
    out = kb.search(db, principal=None, query="titanium", embedder=model)
    assert out.semantic and [h.title for h in out.hits] == ["Tent pegs"]


def test_reciprocal_rank_fusion_rewards_agreement() -> None:
    assert kb.fuse([1, 2, 3], [3, 1, 4]) == [1, 3, 2, 4]
    assert kb.fuse([], [7]) == [7]


def test_search_records_questions_answers_and_clicks(db: Session) -> None:
    user, _ = make_customer(db)
    other, _ = make_customer(db)
    cat = make_category(db)
    make_article(db, cat, title="Refunds to your card", body="Money goes back to the card you paid with.")
    me = principal_for(user)
    found = kb.search(db, principal=me, query="  money back?  ", embedder=False)
    nothing = kb.search(db, principal=me, query="zebra umbrella", embedder=False)
    db.commit()
    assert found.hits and nothing.hits == []
    rows = {r.query: r for r in db.exec(select(SearchQuery)).all()}
    assert rows["money back?"].result_count == 1 and rows["zebra umbrella"].result_count == 0
    assert rows["money back?"].user_id == user.id
    assert found.query_id is not None
    # Someone else's search cannot be marked as clicked by another person
    kb.record_click(db, principal=principal_for(other), query_id=found.query_id, article_slug=found.hits[0].slug)
    db.commit()
    assert db.get(SearchQuery, found.query_id).clicked_article_id is None  # type: ignore[union-attr]
    kb.record_click(db, principal=me, query_id=found.query_id, article_slug=found.hits[0].slug)
    db.commit()
    assert db.get(SearchQuery, found.query_id).clicked_article_id is not None  # type: ignore[union-attr]


@pytest.mark.parametrize("hostile", ['"', "AND OR NOT", "title:*", "NEAR(a b)", "'; DROP TABLE kbarticle; --",
                                     "\x00", "🙂" * 300, "a" * 10_000])
def test_hostile_queries_are_only_text(db: Session, hostile: str) -> None:
    cat = make_category(db)
    make_article(db, cat, title="Boot care")
    kb.search(db, principal=None, query=hostile, embedder=False)
    db.commit()
    assert db.exec(select(KbArticle)).one().title == "Boot care"


def test_feedback_counts_once_per_visitor(db: Session) -> None:
    user, _ = make_customer(db)
    cat = make_category(db)
    a = make_article(db, cat, title="Size guide")
    assert kb.vote(db, principal=None, visitor="tab-1", slug=a.slug, helpful=True)
    assert not kb.vote(db, principal=None, visitor="tab-1", slug=a.slug, helpful=False)
    assert kb.vote(db, principal=None, visitor="tab-2", slug=a.slug, helpful=False)
    assert kb.vote(db, principal=principal_for(user), visitor="tab-1", slug=a.slug, helpful=True)
    assert not kb.vote(db, principal=principal_for(user), visitor="tab-9", slug=a.slug, helpful=True)
    db.commit()
    db.refresh(a)
    assert (a.helpful_yes, a.helpful_no) == (2, 1)
    assert len(db.exec(select(KbFeedback)).all()) == 3
    with pytest.raises(NotFound):
        kb.vote(db, principal=None, visitor="tab-3", slug="no-such-article", helpful=True)


def test_drafts_are_for_staff_only(db: Session) -> None:
    user, _ = make_customer(db)
    agent = principal_for(make_staff(db))
    cat = make_category(db)
    draft = make_article(db, cat, title="Coming soon", status="draft")
    for who in (None, principal_for(user)):
        with pytest.raises(NotFound):
            kb.article(db, principal=who, slug=draft.slug)
    assert kb.article(db, principal=agent, slug=draft.slug).title == "Coming soon"
    with pytest.raises(NotFound):
        kb.vote(db, principal=None, visitor="t", slug=draft.slug, helpful=True)


def test_customers_cannot_edit_and_bad_input_is_refused(db: Session) -> None:
    user, _ = make_customer(db)
    admin = principal_for(make_staff(db, role=Role.ADMIN))
    make_category(db, slug="gear")
    good = kb.ArticleDraft(title="Ok", summary="", body_md="", category_slug="gear")
    with pytest.raises(Forbidden):
        kb.create_article(db, principal=principal_for(user), draft=good)
    with pytest.raises(Invalid) as bad_slug:
        kb.create_article(db, principal=admin, draft=kb.ArticleDraft(title="Ok", summary="", body_md="",
                                                                     category_slug="gear", slug="../etc"))
    assert bad_slug.value.field == "slug"
    with pytest.raises(Invalid):
        kb.create_article(db, principal=admin, draft=kb.ArticleDraft(title="Ok", summary="", body_md="",
                                                                     category_slug="nope"))
    with pytest.raises(Invalid):
        kb.create_article(db, principal=admin, draft=kb.ArticleDraft(title=" ", summary="", body_md="",
                                                                     category_slug="gear"))


def _recall_at_3(db: Session, embedder: emb.Embedder | bool | None) -> float:
    """On the held-out half of the evaluation set (the half no ranking choice was tuned on)."""
    cases = [json.loads(line) for line in EVAL.read_text(encoding="utf-8").splitlines() if line.strip()]
    cases = [c for c in cases if c["half"] == "heldout"]
    slugs = {a.id: a.slug for a in db.exec(select(KbArticle)).all()}
    hits = 0
    for case in cases:
        ids, _ = kb.rank(db, case["q"], embedder=embedder, limit=3)
        hits += case["slug"] in [slugs[i] for i in ids]
    return hits / len(cases)


def test_search_quality_floor_on_the_evaluation_set(db: Session) -> None:
    # Given the real help center (embeddings only if the semantic extra is installed)
    load_kb(db)
    db.commit()
    # Then full-text alone answers most held-out questions in its top three (measured: 0.85 on
    # SQLite, 0.85 on PostgreSQL)
    fulltext = _recall_at_3(db, False)
    print(f"full-text recall@3 = {fulltext:.3f}")
    assert fulltext >= 0.7
    # And hybrid search, where installed (make test installs it), does not fall below a conservative
    # floor (measured: 0.92 on SQLite, 0.90 on PostgreSQL)
    model = emb.load_embedder()
    if model is not None:
        for article in db.exec(select(KbArticle)).all():
            kb.index_article(db, article, embedder=model)
        db.commit()
        hybrid = _recall_at_3(db, model)
        print(f"hybrid recall@3 = {hybrid:.3f}")
        assert hybrid >= 0.8
