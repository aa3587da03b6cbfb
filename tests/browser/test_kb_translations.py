"""Help-article translations, end to end: an agent adds a German translation to an article that has
none (a refused save names the field and keeps what was typed), a German-speaking customer then
reads it in German (before: in English, with a note), the agent deletes it after confirming; and a
customer's forged calls to the translation handlers change nothing, while the same calls from an
agent do (the positive control). The open form, the delete dialog and the note are checked by axe."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlmodel import Session, col, select

from portal.domain import kb
from portal.models import ArticleStatus, KbArticle, KbCategory, User
from portal.models.kb import KbArticleTranslation
from portal.seed.demo import AGENT_EMAIL, DEMO_PASSWORD
from portal.state.kb_editor import ArticleEditorState
from tests.browser.test_accessibility import _axe_source, _check
from tests.browser.test_forged_events import cookie_for
from tests.browser.test_kb_forged_events import conversation
from tests.browser.test_login_flow import sign_in
from tests.factories import make_customer, make_staff, principal_for
from tests.factories_kb import clear_search_index, make_article, make_category
from tests.support.aio import run_async as run
from tests.support.reflex_client import deltas_text, redirects

pytestmark = pytest.mark.browser

GERMAN_TITLE = "Wanderschuhe richtig pflegen"
GERMAN_SUMMARY = "So bleiben Ihre Schuhe lange dicht."
GERMAN_BODY = "Bürsten Sie den Schmutz ab und lassen Sie die Schuhe langsam trocknen."


def _untranslated_article(db: Session) -> tuple[KbArticle, KbCategory]:
    """A published demo article with no translation: every demo article has a German and a French
    one, so the first article's are removed (as staff would, in the editor) before the test."""
    article = db.exec(select(KbArticle).where(KbArticle.status == ArticleStatus.PUBLISHED)
                      .order_by(col(KbArticle.id))).first()
    assert article is not None and article.id is not None
    staff = principal_for(make_staff(db))
    for lang in ("de", "fr"):
        kb.delete_translation(db, principal=staff, article_id=article.id, lang=lang)
    db.commit()
    assert db.exec(select(KbArticleTranslation).where(KbArticleTranslation.article_id == article.id)).first() is None
    category = db.get(KbCategory, article.category_id)
    assert category is not None
    return article, category


def _no_axe_violations(page: Any, source: str, what: str) -> None:
    # Checked once nothing moves: colours read mid-animation (a dialog fading in) are not the page's.
    page.wait_for_function("() => document.getAnimations().every(a => a.playState !== 'running' "
                           "|| a.effect?.getComputedTiming().iterations === Infinity)")
    violations, applied = _check(page, source)
    assert applied > 0
    assert violations == [], f"{what}: {violations}"


def test_an_agent_translates_an_article_and_a_german_customer_reads_it(page: Any, browser: Any, harness: Any,
                                                                         demo: Any, db: Session) -> None:
    axe = _axe_source()
    article, category = _untranslated_article(db)
    lukasz = db.exec(select(User).where(User.email == "lukasz@example.com")).one()
    assert lukasz.locale == "de"
    reader_context = browser.new_context(base_url=harness.frontend_url.rstrip("/"))
    try:
        reader = reader_context.new_page()
        reader.set_default_timeout(30_000)
        article_url = f"/help/{category.slug}/{article.slug}"

        # Given Łukasz (German) opens the article before it is translated: English, with a note
        sign_in(reader, "lukasz@example.com", DEMO_PASSWORD)
        reader.wait_for_url(re.compile(r"/dashboard"))
        reader.goto(article_url)
        expect(reader.get_by_test_id("help-article-title")).to_have_text(article.title)
        expect(reader.get_by_test_id("help-language-note")).to_be_visible()
        expect(reader.get_by_test_id("help-article-text")).to_have_attribute("lang", "en")
        _no_axe_violations(reader, axe, "article shown in English with the note")

        # When the agent opens the article in the editor, German is listed as not translated
        sign_in(page, AGENT_EMAIL, DEMO_PASSWORD)
        page.wait_for_url(re.compile(r"/agent"))
        page.goto(f"/agent/articles/{article.id}")
        page.get_by_test_id("page-ready").wait_for(state="attached")
        expect(page.get_by_test_id("article-title")).to_have_value(article.title)
        german_row = page.get_by_test_id("translation-row").filter(has_text="Deutsch")
        french_row = page.get_by_test_id("translation-row").filter(has_text="Français")
        expect(german_row.get_by_test_id("translation-status")).to_have_text("Not translated")
        expect(french_row).to_have_count(1)
        expect(german_row.get_by_test_id("translation-delete")).to_have_count(0)  # nothing to delete yet

        # ... adds a German translation, first forgetting the title: refused, the message names
        # the field, the field is marked, and what was typed stays
        german_row.get_by_test_id("translation-open").click()
        form = page.get_by_test_id("translation-form")
        expect(form).to_be_visible()
        expect(form.get_by_test_id("translation-title")).to_have_attribute("lang", "de")
        form.get_by_test_id("translation-summary").fill(GERMAN_SUMMARY)
        form.get_by_test_id("translation-body").fill(GERMAN_BODY)
        form.get_by_test_id("translation-save").click()
        error = page.locator("#translation-error")
        expect(error).to_contain_text("title")
        expect(form.get_by_test_id("translation-title")).to_have_attribute("aria-invalid", "true")
        expect(form.get_by_test_id("translation-summary")).to_have_attribute("aria-invalid", "false")
        expect(form.get_by_test_id("translation-summary")).to_have_value(GERMAN_SUMMARY)
        expect(form.get_by_test_id("translation-body")).to_have_value(GERMAN_BODY)
        assert db.exec(select(KbArticleTranslation)
                       .where(KbArticleTranslation.article_id == article.id,
                              KbArticleTranslation.lang == "de")).first() is None
        _no_axe_violations(page, axe, "translation form with a refused field")

        # ... then gives it a title and saves: listed as translated
        form.get_by_test_id("translation-title").fill(GERMAN_TITLE)
        form.get_by_test_id("translation-save").click()
        expect(page.get_by_text("Translation saved: Deutsch.")).to_be_visible()
        expect(german_row.get_by_test_id("translation-status")).to_have_text("Translated")
        expect(french_row.get_by_test_id("translation-status")).to_have_text("Not translated")
        expect(page.get_by_test_id("translation-form")).to_have_count(0)
        expect(error).to_have_count(0)

        # Then Łukasz reads it in German, marked as German, without the note
        reader.goto(article_url)
        expect(reader.get_by_test_id("help-article-title")).to_have_text(GERMAN_TITLE)
        expect(reader.get_by_test_id("help-article-body")).to_contain_text("Bürsten Sie den Schmutz ab")
        expect(reader.get_by_test_id("help-article-text")).to_have_attribute("lang", "de")
        expect(reader.get_by_test_id("help-language-note")).to_have_count(0)

        # When the agent opens the German translation again, it is filled in as stored
        german_row.get_by_test_id("translation-open").click()
        expect(page.get_by_test_id("translation-title")).to_have_value(GERMAN_TITLE)
        page.get_by_test_id("translation-cancel").click()
        expect(page.get_by_test_id("translation-form")).to_have_count(0)

        # When the agent asks to delete it, a dialog asks first; "Keep it" keeps it
        german_row.get_by_test_id("translation-delete").click()
        dialog = page.get_by_role("alertdialog")
        expect(dialog).to_be_visible()
        _no_axe_violations(page, axe, "delete-translation dialog")
        dialog.get_by_role("button", name="Keep it").click()
        expect(dialog).to_have_count(0)
        expect(german_row.get_by_test_id("translation-status")).to_have_text("Translated")

        # ... confirmed: deleted, and Łukasz gets the English article with the note again
        german_row.get_by_test_id("translation-delete").click()
        page.get_by_test_id("translation-delete-confirm").click()
        expect(page.get_by_text("Translation deleted: Deutsch.")).to_be_visible()
        expect(german_row.get_by_test_id("translation-status")).to_have_text("Not translated")
        reader.goto(article_url)
        expect(reader.get_by_test_id("help-article-title")).to_have_text(article.title)
        expect(reader.get_by_test_id("help-language-note")).to_be_visible()
        db.expire_all()
        assert db.exec(select(KbArticleTranslation).where(KbArticleTranslation.article_id == article.id,
                                                          KbArticleTranslation.lang == "de")).first() is None
    finally:
        reader_context.close()


def _forged_translation(article_id: int) -> list[tuple[Any, dict[str, Any]]]:
    return [
        (ArticleEditorState.load, {}),
        (ArticleEditorState.open_translation, {"lang": "de"}),
        (ArticleEditorState.edit_trans_title, {"value": "Gefälscht"}),
        (ArticleEditorState.edit_trans_body, {"value": "Von einem Kunden geschrieben."}),
        (ArticleEditorState.save_translation, {}),
    ]


def test_a_customers_forged_translation_calls_are_refused(db: Session, harness: Any, backend_url: str) -> None:
    clear_search_index(db)
    cat = make_category(db, slug="gear")
    art = make_article(db, cat, title="Caring for your boots", body="Brush them, let them dry.")
    assert art.id is not None
    path = f"/agent/articles/{art.id}"
    ua, _ = make_customer(db)

    def stored() -> list[tuple[str, str]]:
        db.expire_all()
        return [(r.lang, r.title) for r in db.exec(select(KbArticleTranslation)
                                                   .where(KbArticleTranslation.article_id == art.id)).all()]

    # A customer's forged save: every event is refused (sent home), nothing is stored
    updates = run(conversation(backend_url, cookie_for(db, ua), path, _forged_translation(art.id)))
    assert set(redirects(updates)) == {"/"}
    assert stored() == []

    # The positive control: the very same events from an agent store the translation
    agent = make_staff(db)
    updates = run(conversation(backend_url, cookie_for(db, agent), path, _forged_translation(art.id)))
    assert redirects(updates) == []
    assert stored() == [("de", "Gefälscht")]

    # A customer's forged delete is refused too; the agent's (the control) removes it
    updates = run(conversation(backend_url, cookie_for(db, ua), path, [
        (ArticleEditorState.load, {}), (ArticleEditorState.delete_translation, {"lang": "de"})]))
    assert set(redirects(updates)) == {"/"}
    assert stored() == [("de", "Gefälscht")]
    updates = run(conversation(backend_url, cookie_for(db, agent), path, [
        (ArticleEditorState.load, {}), (ArticleEditorState.delete_translation, {"lang": "de"})]))
    assert redirects(updates) == []
    assert stored() == []

    # An agent's hostile input (a language not shipped, not a string) stores nothing
    updates = run(conversation(backend_url, cookie_for(db, agent), path, [
        (ArticleEditorState.load, {}),
        (ArticleEditorState.open_translation, {"lang": "es"}),
        (ArticleEditorState.open_translation, {"lang": {"$ne": 1}}),
        (ArticleEditorState.edit_trans_title, {"value": ["not", "text"]}),
        (ArticleEditorState.save_translation, {}),
    ]))
    assert redirects(updates) == []
    assert stored() == []


def test_switching_language_keeps_unsaved_typing(db: Session, harness: Any, backend_url: str) -> None:
    clear_search_index(db)
    cat = make_category(db, slug="gear")
    art = make_article(db, cat, title="Caring for your boots", body="Brush them, let them dry.")
    path = f"/agent/articles/{art.id}"
    agent = make_staff(db)
    # The control: with nothing typed in German, the French form opens at once (and saves French)
    updates = run(conversation(backend_url, cookie_for(db, agent), path, [
        (ArticleEditorState.load, {}),
        (ArticleEditorState.open_translation, {"lang": "de"}),
        (ArticleEditorState.open_translation, {"lang": "fr"}),
        (ArticleEditorState.edit_trans_title, {"value": "Entretien des bottes"}),
        (ArticleEditorState.save_translation, {}),
    ]))
    assert "Save or cancel" not in deltas_text(updates)
    db.expire_all()
    assert [(r.lang, r.title) for r in db.exec(select(KbArticleTranslation)).all()] == [("fr", "Entretien des bottes")]
    # Typed into the German form, opening French is refused: the German words stay, unsaved
    updates = run(conversation(backend_url, cookie_for(db, agent), path, [
        (ArticleEditorState.load, {}),
        (ArticleEditorState.open_translation, {"lang": "de"}),
        (ArticleEditorState.edit_trans_title, {"value": "Stiefel pflegen"}),
        (ArticleEditorState.open_translation, {"lang": "fr"}),
        (ArticleEditorState.save_translation, {}),
    ]))
    assert "Save or cancel the translation you are writing first: Deutsch." in deltas_text(updates)
    db.expire_all()
    assert sorted((r.lang, r.title) for r in db.exec(select(KbArticleTranslation)).all()) == [
        ("de", "Stiefel pflegen"), ("fr", "Entretien des bottes")]
