"""An admin finds a question without a good answer in the insights, writes the article for it
with the questions beside the editor, and saves it under the title they typed."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlmodel import Session, select

from portal.db import session_scope
from portal.models import KbArticle, SearchQuery
from portal.seed.demo import DEMO_PASSWORD
from tests.browser.test_login_flow import sign_in

pytestmark = pytest.mark.browser

ASKED = ["how do i reproof my tent fly", "how do i reproof my tent fly", "reproof tent fly",
         "tent fly reprofing"]  # one with a typo


def test_write_an_article_from_a_gap(page: Any, harness: Any, demo: Any, db: Session) -> None:
    # Given four searches for one question found nothing
    for q in ASKED:
        db.add(SearchQuery(query=q, normalized=q, result_count=0, source="help_center"))
    db.commit()
    # When the admin opens the insights
    sign_in(page, "admin@fernhill-outfitters.com", DEMO_PASSWORD)
    page.wait_for_url(re.compile(r"/agent"))
    page.goto("/admin/insights")
    row = page.get_by_test_id("gap-row").filter(has_text="tent fly")  # the demo asks about jackets
    row.wait_for()
    # Then one row counts the four, as searches that found nothing, with its phrasings behind a toggle
    assert row.get_by_test_id("gap-question").inner_text() == "how do i reproof my tent fly"
    assert "4" in row.get_by_test_id("gap-count").inner_text()
    assert "4" in row.get_by_test_id("gap-no-result").inner_text()
    row.get_by_test_id("gap-phrasings").locator("summary").click()
    row.get_by_text("tent fly reprofing").wait_for()
    # When they choose to write an article for it
    row.get_by_test_id("gap-write").click()
    page.wait_for_url(re.compile(r"/agent/articles/new\?gap="))
    # Then the editor lists the questions and suggests the title from the question asked most
    brief = page.get_by_test_id("gap-brief")
    brief.wait_for()
    page.wait_for_function("document.querySelectorAll('[data-testid=gap-brief-item]').length === 3")
    assert brief.get_by_text("reproof tent fly", exact=True).is_visible()
    title = page.get_by_test_id("article-title")
    page.wait_for_function("document.querySelector('[data-testid=article-title]').value !== ''")
    assert title.input_value() == "How do i reproof my tent fly"
    # When they type a title of their own and the article, and save
    title.fill("Reproofing your tent's flysheet")
    page.get_by_test_id("article-body").fill("Wash the fly, then spray a reproofer on the outside while it is wet.")
    page.get_by_test_id("article-save").click()
    page.wait_for_url(re.compile(r"/agent/articles/\d+\?gap="))
    # Then their title is kept, the questions stay beside the saved draft, and it is stored
    page.get_by_test_id("article-status").filter(has_text="draft").wait_for()
    assert title.input_value() == "Reproofing your tent's flysheet"
    assert page.get_by_test_id("gap-brief").is_visible()
    with session_scope() as s:
        saved = s.exec(select(KbArticle).where(KbArticle.title == "Reproofing your tent's flysheet")).one()
        assert "reproofer" in saved.body_md and saved.status == "draft"
