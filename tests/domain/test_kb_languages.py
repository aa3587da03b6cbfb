"""Help center per language: an article can have German and French translations; a reader sees
the translation of their language, else the English original (and is told so); search in German
and French uses the translations' own full-text index; the migration undoes and redoes cleanly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlmodel import Session, select

from portal.domain import kb
from portal.i18n import use_language
from portal.models import KbArticle, KbCategory
from portal.models.kb import INTL_FTS_TABLE, KbArticleTranslation
from portal.seed.kb_loader import load_translations
from tests.factories_kb import clear_search_index, make_article, make_category, translate
from tests.support.databases import alembic_on, fresh_database, running_on_postgres


@pytest.fixture(autouse=True)
def _empty_index(db: Session) -> Iterator[None]:
    clear_search_index(db)
    if db.get_bind().dialect.name == "sqlite":
        kb._sqlite_fts(db)
        db.execute(text(f"DELETE FROM {INTL_FTS_TABLE}"))  # noqa: S608 - a constant
        db.commit()
    yield
    use_language("en")


@pytest.fixture
def articles(db: Session) -> tuple[KbCategory, KbArticle, KbArticle]:
    cat = make_category(db, slug="billing", name="Billing")
    invoices = make_article(db, cat, title="Download your invoices",
                            body="Every order has an invoice. Open Billing and download the PDF.")
    boots = make_article(db, cat, title="Looking after your walking boots",
                         body="Clean the boots with a soft brush and let them dry slowly.")
    translate(db, invoices, "de", title="Rechnungen herunterladen",
              body="Zu jeder Bestellung gibt es eine Rechnung. Öffnen Sie Abrechnung und laden Sie das PDF herunter.")
    translate(db, invoices, "fr", title="Télécharger vos factures",
              body="Chaque commande a sa facture. Ouvrez Facturation et téléchargez le PDF.")
    return cat, invoices, boots


def slugs(db: Session, query: str, lang: str) -> list[str]:
    return [h.slug for h in kb.search(db, principal=None, query=query, embedder=False, lang=lang).hits]


def test_a_german_search_finds_the_german_article(db: Session, articles: tuple[KbCategory, KbArticle,
                                                                                   KbArticle]) -> None:
    _, invoices, _ = articles
    # When a German reader searches with German words (inflected: "Rechnungen", "herunterladen")
    outcome = kb.search(db, principal=None, query="Wo kann ich meine Rechnungen herunterladen?", embedder=False,
                        lang="de")
    # Then the article is found, shown with its German title
    assert [(h.slug, h.title, h.lang) for h in outcome.hits[:1]] == [
        (invoices.slug, "Rechnungen herunterladen", "de")]
    assert outcome.lang == "de"
    # And the translations' index alone finds it too (a word only in the German text: "Abrechnung")
    assert kb.translated_fulltext_ids(db, "abrechnung", "de") == [invoices.id]
    # Negative: that German word is not in the English index, nor in the French translation
    assert kb.fulltext_ids(db, "abrechnung") == []
    assert kb.translated_fulltext_ids(db, "abrechnung", "fr") == []
    # Positive control for the French index: its own word is found there
    assert kb.translated_fulltext_ids(db, "facturation", "fr") == [invoices.id]


def test_a_question_written_in_german_on_an_english_page_searches_the_german_translations(
        db: Session, articles: tuple[KbCategory, KbArticle, KbArticle]) -> None:
    _, invoices, _ = articles
    # "Abrechnung" is only in the German text: an English reader's question in German finds it
    assert slugs(db, "Wo finde ich die Abrechnung?", "en")[:1] == [invoices.slug]
    assert slugs(db, "Où est la facturation ?", "en")[:1] == [invoices.slug]
    # The control: the same word in an English sentence is searched in English only (nothing there)
    assert slugs(db, "where is the Abrechnung", "en") == []
    assert kb.question_language("Wo finde ich die Abrechnung?") == "de"
    assert kb.question_language("Où est la facturation ?") == "fr"
    assert kb.question_language("where is the Abrechnung") == "en"
    assert kb.question_language("was my order sent, or did it die on the way") == "en"


def test_the_language_comes_from_the_person_served_when_not_given(db: Session, articles: tuple[
        KbCategory, KbArticle, KbArticle]) -> None:
    _, invoices, _ = articles
    use_language("fr")
    hits = kb.search(db, principal=None, query="télécharger facture", embedder=False).hits
    assert [(h.slug, h.title) for h in hits[:1]] == [(invoices.slug, "Télécharger vos factures")]
    use_language("en")
    hits = kb.search(db, principal=None, query="download invoice", embedder=False).hits
    assert [(h.slug, h.title) for h in hits[:1]] == [(invoices.slug, "Download your invoices")]


def test_a_french_reader_sees_the_french_article(db: Session, articles: tuple[KbCategory, KbArticle,
                                                                                KbArticle]) -> None:
    _, invoices, _ = articles
    view = kb.article(db, principal=None, slug=invoices.slug, lang="fr")
    assert (view.title, view.lang, view.fallback) == ("Télécharger vos factures", "fr", False)
    assert "Facturation" in view.body_md
    # Positive control: an English reader gets the English original, and no fallback note
    english = kb.article(db, principal=None, slug=invoices.slug, lang="en")
    assert (english.title, english.lang, english.fallback) == ("Download your invoices", "en", False)
    # The category lists it in the reader's language
    _, cards = kb.category(db, slug="billing", lang="fr")
    assert [(c.title, c.lang) for c in cards if c.slug == invoices.slug] == [("Télécharger vos factures", "fr")]


def test_an_article_without_translation_falls_back_to_english(db: Session, articles: tuple[
        KbCategory, KbArticle, KbArticle]) -> None:
    _, invoices, boots = articles
    view = kb.article(db, principal=None, slug=boots.slug, lang="de")
    # The English original, marked as a fallback (the page says it is shown in English)
    assert (view.title, view.lang, view.fallback) == ("Looking after your walking boots", "en", True)
    # Positive control: the translated one in the same language is no fallback
    assert kb.article(db, principal=None, slug=invoices.slug, lang="de").fallback is False
    # Listing: each card in the best language it has
    _, cards = kb.category(db, slug="billing", lang="de")
    assert {c.slug: c.lang for c in cards} == {invoices.slug: "de", boots.slug: "en"}
    # An untranslated article is still found from a German reader's search through English words
    assert boots.slug in slugs(db, "boots", "de")


def test_drafts_stay_hidden_in_every_language(db: Session, articles: tuple[KbCategory, KbArticle,
                                                                             KbArticle]) -> None:
    _, invoices, _ = articles
    assert kb.translated_fulltext_ids(db, "rechnungen", "de") == [invoices.id]  # positive control
    invoices.status = "draft"
    db.add(invoices)
    db.commit()
    assert kb.translated_fulltext_ids(db, "rechnungen", "de") == []
    assert slugs(db, "Rechnungen herunterladen", "de") == []


def test_the_seed_loads_translations_and_updates_them(db: Session, tmp_path: Path) -> None:
    cat = make_category(db, slug="orders", name="Orders")
    make_article(db, cat, title="Cancel an order", body="Cancel before dispatch.")
    a = db.exec(select(KbArticle)).one()
    (tmp_path / "translations" / "de").mkdir(parents=True)
    path = tmp_path / "translations" / "de" / f"{a.slug}.md"
    path.write_text("---\ntitle: Bestellung stornieren\nsummary: Vor dem Versand\n---\nStornieren Sie vorher.\n",
                    encoding="utf-8")
    assert load_translations(db, tmp_path) == 1
    path.write_text("---\ntitle: Eine Bestellung stornieren\n---\nStornieren Sie vorher.\n", encoding="utf-8")
    assert load_translations(db, tmp_path) == 1
    rows = db.exec(select(KbArticleTranslation)).all()
    assert [(r.lang, r.title) for r in rows] == [("de", "Eine Bestellung stornieren")]


def test_the_shipped_translations_name_existing_articles() -> None:
    root = Path(kb.__file__).resolve().parents[1] / "seed" / "kb"
    english = {p.stem for p in root.glob("*/*.md") if not p.name.startswith("_")}
    for lang in ("de", "fr"):
        names = {p.stem for p in (root / "translations" / lang).glob("*.md")}
        assert len(names) >= 15
        assert names <= english


def test_the_translations_migration_round_trips(tmp_path: Path) -> None:
    with fresh_database(tmp_path, postgres=running_on_postgres()) as url:
        eng = create_engine(url)
        try:
            alembic_on(eng, "upgrade", "head")
            assert "kbarticletranslation" in inspect(eng).get_table_names()
            alembic_on(eng, "downgrade", "c4e81f3a9d27")  # below the translations (not "-1": later ones follow)
            with eng.connect() as conn:
                assert MigrationContext.configure(conn).get_current_revision() == "c4e81f3a9d27"
            names = set(inspect(eng).get_table_names())
            assert "kbarticletranslation" not in names and INTL_FTS_TABLE not in names
            assert "kbarticle" in names  # positive control: the rest of the schema is still there
            alembic_on(eng, "upgrade", "head")
            assert "kbarticletranslation" in inspect(eng).get_table_names()
        finally:
            eng.dispose()


def test_staff_write_and_remove_a_translation(db: Session, articles: tuple[KbCategory, KbArticle,
                                                                           KbArticle]) -> None:
    from portal.domain.errors import Forbidden, Invalid
    from tests.factories import make_customer, make_staff, principal_for

    _, _, boots = articles
    assert boots.id is not None
    agent = principal_for(make_staff(db))
    draft = kb.ArticleDraft(title="Wanderschuhe pflegen", summary="", body_md="Bürsten Sie die Schuhe ab.",
                            category_slug="billing")
    # A customer may not; a language that is not shipped is refused
    with pytest.raises(Forbidden):
        kb.save_translation(db, principal=principal_for(make_customer(db)[0]), article_id=boots.id, lang="de",
                            draft=draft)
    with pytest.raises(Invalid):
        kb.save_translation(db, principal=agent, article_id=boots.id, lang="es", draft=draft)
    # Before: German readers get the English original
    assert kb.article(db, principal=None, slug=boots.slug, lang="de").fallback is True
    kb.save_translation(db, principal=agent, article_id=boots.id, lang="de", draft=draft)
    db.commit()
    view = kb.article(db, principal=None, slug=boots.slug, lang="de")
    assert (view.title, view.fallback) == ("Wanderschuhe pflegen", False)
    assert kb.translated_fulltext_ids(db, "bursten", "de") == [boots.id]
    assert kb.translation_languages(db, article_id=boots.id) == ["de"]
    # Removed: back to English, and out of the German index
    assert kb.delete_translation(db, principal=agent, article_id=boots.id, lang="de") is True
    db.commit()
    assert kb.article(db, principal=None, slug=boots.slug, lang="de").fallback is True
    assert kb.translated_fulltext_ids(db, "bursten", "de") == []
    assert kb.delete_translation(db, principal=agent, article_id=boots.id, lang="de") is False


def test_categories_are_named_in_the_readers_language_where_their_file_says_so(db: Session) -> None:
    from portal.seed.kb_loader import load_kb

    load_kb(db)
    db.commit()
    english = {c.slug: c.name for c in kb.categories(db, lang="en")}
    german = {c.slug: c.name for c in kb.categories(db, lang="de")}
    french = {c.slug: (c.name, c.description) for c in kb.categories(db, lang="fr")}
    assert english["orders"] == "Orders & changes"
    assert german["orders"] == "Bestellungen & Änderungen"
    assert french["shipping"][0] == "Expédition & livraison" and "transporteurs" in french["shipping"][1]
    assert all(german[s] != english[s] for s in english)  # every category has its German name
    # A language the file does not name reads in English; so does a category with no translations
    row = db.exec(select(KbCategory).where(KbCategory.slug == "orders")).one()
    row.translations = {}
    db.add(row)
    db.commit()
    assert {c.slug: c.name for c in kb.categories(db, lang="de")}["orders"] == "Orders & changes"
    card, _ = kb.category(db, slug="shipping", lang="de")
    assert card.name == "Versand & Lieferung"
