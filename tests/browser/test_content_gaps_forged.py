"""Forged websocket events against "questions without a good answer": only an admin makes a brief
from the insights, and only the admin who made it reads it back in the editor."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session, select

from portal.models import KbFeedback, KbGapBrief, SearchQuery
from portal.models.base import Role
from portal.state.insights import InsightsState
from portal.state.kb_editor import ArticleEditorState
from tests.browser.test_forged_events import cookie_for
from tests.browser.test_kb_forged_events import conversation
from tests.factories import make_customer, make_staff
from tests.factories_kb import make_article, make_category
from tests.support.aio import run_async as run
from tests.support.reflex_client import deltas_text, redirects

pytestmark = pytest.mark.browser

QUESTION = "promo code refused at checkout"


def _gap(db: Session) -> None:
    make_category(db, slug="gear")
    db.add(SearchQuery(query=QUESTION, normalized=QUESTION, result_count=0))
    db.commit()


def _briefs(db: Session) -> list[KbGapBrief]:
    db.expire_all()
    return list(db.exec(select(KbGapBrief)).all())


def test_only_an_admin_turns_a_gap_into_a_brief(db: Session, harness: Any, backend_url: str) -> None:
    _gap(db)
    customer, _ = make_customer(db)
    agent = make_staff(db)
    admin = make_staff(db, role=Role.ADMIN)
    forged = [(InsightsState.load, {}), (InsightsState.write_article, {"key": "q0"})]
    # A customer and an agent (staff, not admin) forging the insights' handlers are refused: no brief, no editor
    for who in (customer, agent):
        updates = run(conversation(backend_url, cookie_for(db, who), "/admin/insights", forged))
        assert not any(r.startswith("/agent/articles") for r in redirects(updates))
        assert QUESTION not in deltas_text(updates)
        assert _briefs(db) == []
    # The admin (positive control) gets a brief and is sent to the editor with its key; forged keys make nothing
    updates = run(conversation(backend_url, cookie_for(db, admin), "/admin/insights", [
        (InsightsState.load, {}),
        (InsightsState.write_article, {"key": "q999"}),
        (InsightsState.write_article, {"key": {"$ne": ""}}),
        (InsightsState.write_article, {"key": "q0"}),
    ]))
    [brief] = _briefs(db)
    assert brief.owner_user_id == admin.id and brief.questions == [QUESTION]
    assert redirects(updates) == [f"/agent/articles/new?gap={brief.id}"]


def test_only_the_admin_who_made_a_brief_reads_it_in_the_editor(db: Session, harness: Any, backend_url: str) -> None:
    _gap(db)
    admin = make_staff(db, role=Role.ADMIN)
    run(conversation(backend_url, cookie_for(db, admin), "/admin/insights",
                     [(InsightsState.load, {}), (InsightsState.write_article, {"key": "q0"})]))
    [brief] = _briefs(db)
    path = f"/agent/articles/new?gap={brief.id}"
    # A customer forging the editor with the brief's key is refused and sees none of it
    customer, _ = make_customer(db)
    updates = run(conversation(backend_url, cookie_for(db, customer), path, [(ArticleEditorState.load, {})]))
    assert redirects(updates) == ["/"] and QUESTION not in deltas_text(updates)
    # An agent (staff, but not the brief's maker) gets a blank editor without the questions
    agent = make_staff(db)
    updates = run(conversation(backend_url, cookie_for(db, agent), path, [(ArticleEditorState.load, {})]))
    assert redirects(updates) == [] and QUESTION not in deltas_text(updates)
    # The admin who made it (positive control) gets the questions, and the title suggested from them
    updates = run(conversation(backend_url, cookie_for(db, admin), path, [(ArticleEditorState.load, {})]))
    text = deltas_text(updates)
    assert QUESTION in text and QUESTION[0].upper() + QUESTION[1:] in text


def test_an_unhelpful_article_opens_in_the_editor_with_its_comments(db: Session, harness: Any,
                                                                    backend_url: str) -> None:
    # Given a reader voted an article unhelpful, with a comment
    cat = make_category(db, slug="care")
    article = make_article(db, cat, title="Washing your down jacket", body="Use a down wash.")
    db.add(KbFeedback(article_id=article.id or 0, helpful=False, voter="v1", comment="Which temperature?"))
    db.commit()
    admin = make_staff(db, role=Role.ADMIN)
    # When the admin chooses to improve it from the insights
    updates = run(conversation(backend_url, cookie_for(db, admin), "/admin/insights",
                               [(InsightsState.load, {}), (InsightsState.write_article, {"key": f"a{article.id}"})]))
    [brief] = _briefs(db)
    assert brief.article_id == article.id and brief.questions == ["Which temperature?"]
    assert redirects(updates) == [f"/agent/articles/{article.id}?gap={brief.id}"]
    # Then the editor shows the article as written (its title kept) with the reader's comment beside it
    path = f"/agent/articles/{article.id}?gap={brief.id}"
    text = deltas_text(run(conversation(backend_url, cookie_for(db, admin), path, [(ArticleEditorState.load, {})])))
    assert "Which temperature?" in text and "Washing your down jacket" in text
    # and the same brief beside another article shows nothing (a brief belongs to its article)
    other = make_article(db, cat, title="Another article")
    path = f"/agent/articles/{other.id}?gap={brief.id}"
    text = deltas_text(run(conversation(backend_url, cookie_for(db, admin), path, [(ArticleEditorState.load, {})])))
    assert "Another article" in text and "Which temperature?" not in text
