"""The help center as a stranger sees it, and an agent writing an article, in the real app."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlmodel import Session, select

from portal.models import KbArticle, KbFeedback, SearchQuery
from portal.seed.demo import DEMO_PASSWORD
from tests.browser.test_login_flow import open_live, sign_in
from tests.support.frames import shown_at, watch_frames

pytestmark = pytest.mark.browser


def test_a_stranger_finds_an_answer_reads_it_and_says_it_helped(page: Any, demo: Any, db: Session) -> None:
    # Given a stranger on the help center (no sign-in)
    page.goto("/help")
    page.get_by_test_id("help-category").first.wait_for()
    assert page.get_by_test_id("help-category").count() == 6
    assert page.title() == "Help center"

    # When they ask in their own words
    page.get_by_test_id("help-search-input").fill("can I get my money back")
    page.get_by_test_id("help-search-submit").click()
    page.get_by_test_id("help-result").first.wait_for()
    # Then the refunds article comes first
    assert "refund" in page.get_by_test_id("help-result").first.inner_text().lower()

    # When they open it
    page.get_by_test_id("help-result-link").first.click()
    page.wait_for_url(re.compile(r"/help/returns/how-refunds-work"))
    title = page.get_by_test_id("help-article-title")
    title.wait_for()
    # Then it has its own address, title and description, rendered Markdown and related articles
    page.wait_for_function("document.title.includes('help')")
    assert title.inner_text() in page.title()
    description = page.locator("meta[name=description]").get_attribute("content") or ""
    assert description and "Answers to common questions" not in description
    assert page.get_by_test_id("help-article-body").locator("h2, li, strong").count() > 0
    assert page.get_by_test_id("help-related").get_by_test_id("help-article-link").count() >= 1

    # When they say it helped
    page.get_by_test_id("help-vote-yes").click()
    page.get_by_test_id("help-vote-thanks").wait_for()
    # And try to vote again after reloading the page in the same tab session
    page.reload()
    page.get_by_test_id("help-vote-no").click()
    page.get_by_test_id("help-vote-thanks").wait_for()
    assert "already" in page.get_by_test_id("help-vote-thanks").inner_text()

    # Then exactly one vote counted, and the search and the click were recorded
    db.expire_all()
    art = db.exec(select(KbArticle).where(KbArticle.slug == "how-refunds-work")).one()
    assert (art.helpful_yes, art.helpful_no) == (1, 0)
    # (the demo has votes and searches of its own: only this visitor's are looked at)
    assert len(db.exec(select(KbFeedback).where(KbFeedback.article_id == art.id)).all()) == 1
    q = db.exec(select(SearchQuery).where(SearchQuery.query == "can I get my money back")).one()
    assert q.clicked_article_id == art.id and q.user_id is None


def test_a_question_with_no_answer_is_recorded_as_such(page: Any, demo: Any, db: Session) -> None:
    open_live(page, "/help")
    page.get_by_test_id("help-search-input").fill("xylophone qwertyuiop")
    page.get_by_test_id("help-search-submit").click()
    page.get_by_test_id("help-no-results").wait_for()
    db.expire_all()
    asked = select(SearchQuery.result_count).where(SearchQuery.query == "xylophone qwertyuiop")
    assert db.exec(asked).one() == 0


def test_unknown_and_hostile_help_addresses_say_not_found(page: Any, demo: Any) -> None:
    page.goto("/help/returns/no-such-article")
    page.get_by_role("alert").wait_for()
    page.goto("/help/%3Cscript%3E/x")
    page.get_by_role("alert").wait_for()


def test_an_agent_writes_previews_and_publishes_an_article(page: Any, browser: Any, harness: Any, demo: Any,
                                                           db: Session) -> None:
    # Given an agent on the article list
    sign_in(page, "agent@fernhill-outfitters.com", DEMO_PASSWORD)
    page.wait_for_url(re.compile(r"/agent"))
    page.goto("/agent/articles")
    page.get_by_test_id("article-row").first.wait_for()
    # who has just looked at an existing article (the editor's form held it)
    watch_frames(page, "[data-testid=article-title]", "value")  # what each painted frame shows
    page.get_by_test_id("article-edit-link").first.click()
    page.wait_for_function("document.querySelector('[data-testid=article-title]')?.value")
    existing_id = int(page.url.rstrip("/").rsplit("/", 1)[-1])
    existing = db.get(KbArticle, existing_id)
    assert existing is not None
    before = (existing.title, existing.body_md)
    # (the frames are seen: that article's title was painted at its address)
    assert existing.title in shown_at(page, f"/agent/articles/{existing_id}")
    page.get_by_text("← All articles").click()
    page.get_by_test_id("new-article").wait_for()

    # When they write a new article, typing at once, and look at the preview
    page.get_by_test_id("new-article").click()
    page.wait_for_url(re.compile(r"/agent/articles/new"))
    # Then the new article's form never showed the article looked at before, not even for a frame
    page.wait_for_function("window.__frames.some(([path, title]) => path === '/agent/articles/new' && title === '')")
    assert existing.title not in shown_at(page, "/agent/articles/new")
    page.get_by_test_id("article-title").fill("Borrowing a snowshoe demo pair")
    page.get_by_test_id("article-summary").fill("How the snowshoe demo scheme works.")
    page.get_by_test_id("article-category").click()
    page.get_by_role("option", name="Products & care").click()
    page.get_by_test_id("article-body").fill("## Snowshoe demos\n\nAsk any **store** for a snowshoe demo pair.")
    page.get_by_test_id("article-preview-tab").click()
    preview = page.get_by_test_id("article-preview")
    preview.get_by_role("heading", name="Snowshoe demos").wait_for()
    page.wait_for_function("document.querySelectorAll('[data-testid=article-preview] h2').length === 1")
    assert preview.locator("strong").inner_text() == "store"

    # And save it: it is a draft nobody outside can find
    page.get_by_test_id("article-save").click()
    page.wait_for_url(re.compile(r"/agent/articles/\d+$"))
    page.get_by_test_id("article-status").filter(has_text="draft").wait_for()
    stranger = browser.new_context(base_url=harness.frontend_url.rstrip("/")).new_page()
    stranger.set_default_timeout(20_000)
    stranger.goto("/help")
    stranger.get_by_test_id("help-search-input").fill("snowshoe demo")
    stranger.get_by_test_id("help-search-submit").click()
    stranger.get_by_test_id("help-no-results").wait_for()

    # When they publish it
    page.get_by_test_id("article-publish").click()
    page.get_by_test_id("article-status").filter(has_text="published").wait_for()
    # Then a stranger's search finds it, and its page renders
    stranger.get_by_test_id("help-search-submit").click()
    stranger.get_by_test_id("help-result").first.wait_for()
    assert "snowshoe" in stranger.get_by_test_id("help-result").first.inner_text().lower()
    stranger.goto("/help/products/borrowing-a-snowshoe-demo-pair")
    stranger.get_by_test_id("help-article-title").wait_for()

    # When they edit the title and unpublish it
    page.get_by_test_id("article-title").fill("Borrowing a snowshoe trial pair")
    page.get_by_test_id("article-save").click()
    page.get_by_text("Saved.").wait_for()
    page.get_by_test_id("article-unpublish").click()
    page.get_by_test_id("article-status").filter(has_text="draft").wait_for()
    stranger.reload()
    stranger.get_by_role("alert").wait_for()
    db.expire_all()
    edited = db.exec(select(KbArticle).where(KbArticle.title == "Borrowing a snowshoe trial pair")).one()
    assert edited.status == "draft"
    # and the article they looked at first is untouched
    db.refresh(existing)
    assert (existing.title, existing.body_md) == before
    stranger.context.close()
