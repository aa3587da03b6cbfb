"""Help articles suggested outside the help center (the home page, the ticket form, "Get help with
this") come in the reader's language where the article is translated, else in English; the
translations' search table is emptied between tests like the articles' own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlmodel import Session

from portal.domain import home, kb, support
from portal.i18n import use_language
from portal.models import KbArticle
from portal.models.kb import INTL_FTS_TABLE
from tests.factories import make_customer, make_staff, principal_for
from tests.factories_kb import clear_search_index, make_article, make_category, translate


@pytest.fixture(autouse=True)
def _english_after(db: Session) -> Iterator[None]:
    clear_search_index(db)
    yield
    use_language("en")


@pytest.fixture
def two_articles(db: Session) -> tuple[KbArticle, KbArticle]:
    cat = make_category(db, slug="delivery", name="Delivery")
    track = make_article(db, cat, title="Track your parcel", summary="Follow it to your door",
                         body="Open the order and use the tracking link.")
    boots = make_article(db, cat, title="Caring for boots", summary="Keep them dry", body="Wax your boots.")
    translate(db, track, "de", title="Sendung verfolgen", summary="Bis an Ihre Tür",
               body="Öffnen Sie die Bestellung und nutzen Sie den Link zur Sendungsverfolgung.")
    return track, boots


def test_home_suggestions_follow_the_readers_language(db: Session, two_articles: tuple[KbArticle, KbArticle]) -> None:
    track, boots = two_articles
    me = principal_for(make_customer(db)[0])
    # English reader (the control): the originals
    english = {i.slug: i.title for i in home.help_suggestions(db, principal=me)}
    assert english == {track.slug: "Track your parcel", boots.slug: "Caring for boots"}
    # German reader: the translation where there is one, else English
    use_language("de")
    german = {i.slug: (i.title, i.summary) for i in home.help_suggestions(db, principal=me)}
    assert german == {track.slug: ("Sendung verfolgen", "Bis an Ihre Tür"),
                      boots.slug: ("Caring for boots", "Keep them dry")}


def test_ticket_form_suggestions_are_found_and_shown_in_german(db: Session,
                                                               two_articles: tuple[KbArticle, KbArticle]) -> None:
    track, _ = two_articles
    me = principal_for(make_customer(db)[0])
    found = support.suggest_articles(db, principal=me, text="Where can I track my parcel?")
    assert [(s.id, s.title) for s in found][:1] == [(track.id, "Track your parcel")]
    use_language("de")
    # Typed in German, matched by the German translation, and shown in German
    found = support.suggest_articles(db, principal=me, text="Wo ist meine Sendung?")
    assert [(s.id, s.title) for s in found][:1] == [(track.id, "Sendung verfolgen")]
    # French has no translation: the English original
    use_language("fr")
    found = support.suggest_articles(db, principal=me, text="track parcel")
    assert [(s.id, s.title) for s in found][:1] == [(track.id, "Track your parcel")]


def test_a_deleted_translation_is_no_longer_suggested_in_german(db: Session,
                                                                two_articles: tuple[KbArticle, KbArticle]) -> None:
    track, _ = two_articles
    assert track.id is not None
    agent = principal_for(make_staff(db))
    me = principal_for(make_customer(db)[0])
    use_language("de")
    assert [i.title for i in home.help_suggestions(db, principal=me) if i.slug == track.slug] == ["Sendung verfolgen"]
    assert kb.delete_translation(db, principal=agent, article_id=track.id, lang="de") is True
    db.commit()
    assert [i.title for i in home.help_suggestions(db, principal=me) if i.slug == track.slug] == ["Track your parcel"]


def test_clear_search_index_empties_the_translations_table_too(db: Session,
                                                               two_articles: tuple[KbArticle, KbArticle]) -> None:
    if db.get_bind().dialect.name != "sqlite":
        pytest.skip("PostgreSQL indexes the rows themselves")
    count = f"SELECT count(*) FROM {INTL_FTS_TABLE}"  # noqa: S608 - a constant
    assert db.execute(text(count)).scalar() == 1  # the control: the German translation is indexed
    clear_search_index(db)
    assert db.execute(text(count)).scalar() == 0
