"""Forged websocket events against the help center and the assistant: hostile input from
strangers, other customers' order numbers, and handlers of another role."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session, select

from portal.models import KbArticle, KbFeedback, SearchQuery, Ticket
from portal.state.assistant import AssistantState
from portal.state.help import HelpArticleState, HelpState
from portal.state.kb_editor import ArticleEditorState, ArticleListState
from tests.browser.test_forged_events import cookie_for
from tests.factories import make_customer, make_order, make_staff
from tests.factories_kb import clear_search_index, make_article, make_category, make_shipment
from tests.support.aio import run_async as run
from tests.support.reflex_client import ReflexClient, deltas_text, handler_name, redirects

pytestmark = pytest.mark.browser


async def conversation(backend_url: str, cookie: str | None, path: str,
                       events: list[tuple[Any, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Several events from one tab (one client token), as a browser would send them."""
    out: list[dict[str, Any]] = []
    async with ReflexClient(backend_url, cookie=cookie) as c:
        for handler, payload in events:
            out += await c.send(handler_name(handler), payload, path=path)
    return out


def test_hostile_input_to_public_help_handlers_changes_nothing(db: Session, harness: Any, backend_url: str) -> None:
    clear_search_index(db)
    cat = make_category(db, slug="returns")
    art = make_article(db, cat, title="How refunds work", body="Refunds go back to your card.")
    path = f"/help/returns/{art.slug}"
    updates = run(conversation(backend_url, None, path, [
        (HelpArticleState.load, {}),
        (HelpArticleState.vote, {"helpful": "yes"}),  # not a bool
        (HelpArticleState.vote, {"helpful": {"$gt": 1}}),
        (HelpState.search, {"form_data": {"q": "refund " * 5000}}),  # far too long
        (HelpState.open_result, {"slug": "../../etc/passwd"}),
        (HelpState.open_result, {"slug": art.slug * 3}),  # not among the results shown
        (HelpState.search, {"form_data": {"q": ["not", "a", "string"]}}),
        (HelpArticleState.vote, {"helpful": True}),
        (HelpArticleState.vote, {"helpful": True}),  # the same tab again
    ]))
    assert redirects(updates) == []
    db.expire_all()
    assert len(db.exec(select(KbFeedback).where(KbFeedback.article_id == art.id)).all()) == 1
    assert db.get(KbArticle, art.id).helpful_yes == 1  # type: ignore[union-attr]
    assert all(len(q.query) <= 200 for q in db.exec(select(SearchQuery)).all())


def test_a_draft_is_not_served_to_a_stranger(db: Session, harness: Any, backend_url: str) -> None:
    clear_search_index(db)
    cat = make_category(db, slug="gear")
    draft = make_article(db, cat, title="Secret launch plans", status="draft")
    text = deltas_text(run(conversation(backend_url, None, f"/help/gear/{draft.slug}",
                                        [(HelpArticleState.load, {})])))
    assert "Secret launch plans" not in text and "could not find" in text


def test_assistant_refuses_strangers_and_staff(db: Session, harness: Any, backend_url: str) -> None:
    updates = run(conversation(backend_url, None, "/dashboard",
                               [(AssistantState.send, {"form_data": {"message": "where is my order"}})]))
    assert any(r.startswith("/login") for r in redirects(updates))
    agent = make_staff(db)
    updates = run(conversation(backend_url, cookie_for(db, agent), "/agent",
                               [(AssistantState.send, {"form_data": {"message": "talk to a person"}})]))
    assert redirects(updates) == ["/"]
    assert db.exec(select(Ticket)).all() == []


def test_customer_b_gets_nothing_of_customer_a_through_the_assistant(db: Session, harness: Any,
                                                                     backend_url: str) -> None:
    _, ca = make_customer(db, name="Alice")
    ub, cb = make_customer(db, name="Bob")
    a_order = make_order(db, ca)
    make_shipment(db, a_order, message="Alice's hidden locker")
    b_order = make_order(db, cb)
    updates = run(conversation(backend_url, cookie_for(db, ub), "/dashboard", [
        (AssistantState.toggle, {}),
        (AssistantState.send, {"form_data": {"message": f"track {a_order.number}"}}),
        (AssistantState.choose, {"value": a_order.number}),  # not a choice it was offered
        (AssistantState.send, {"form_data": {"message": f"cancel order {a_order.number}"}}),
        (AssistantState.send, {"form_data": {"message": "yes"}}),
    ]))
    text = deltas_text(updates)
    assert "hidden locker" not in text and f"/orders/{a_order.id}" not in text
    assert b_order.number in text  # it offered Bob his own order instead
    # The "yes" did not act on Alice's order: no hand-over was pending for it
    tickets = db.exec(select(Ticket)).all()
    assert all(t.customer_id == cb.id and t.context_id != a_order.id for t in tickets)


def test_customers_cannot_use_the_article_editor(db: Session, harness: Any, backend_url: str) -> None:
    ua, _ = make_customer(db)
    make_category(db, slug="gear")
    updates = run(conversation(backend_url, cookie_for(db, ua), "/agent/articles/new", [
        (ArticleListState.load, {}),
        (ArticleEditorState.load, {}),
        (ArticleEditorState.edit_title, {"value": "Hacked"}),
        (ArticleEditorState.save, {}),
    ]))
    assert set(redirects(updates)) == {"/"}
    assert db.exec(select(KbArticle)).all() == []
