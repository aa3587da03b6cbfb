"""Help-center categories and articles, feedback, and what people searched."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, LargeBinary, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from portal.models.base import created_at_field, fk, json_field


class ArticleStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"


class KbCategory(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=80, unique=True, index=True)
    name: str = Field(max_length=120)
    description: str = Field(default="", max_length=500)
    position: int = 0
    # Name and description in other languages: {lang: {"name": ..., "description": ...}} (from the
    # category's `name.de:` / `description.de:` lines); a language without one reads the English.
    translations: dict[str, dict[str, str]] = json_field()


class KbCategoryPublic(SQLModel):
    id: int
    slug: str
    name: str
    description: str


class KbArticleBase(SQLModel):
    slug: str = Field(max_length=120, unique=True, index=True)
    title: str = Field(max_length=200)
    summary: str = Field(default="", max_length=400)
    body_md: str = ""
    position: int = 0


class KbArticle(KbArticleBase, table=True):
    # Covers what kb.published_state() and the search caches' sync read (status, updated_at, id,
    # embedding model), so they need not read every article's text and embedding.
    __table_args__ = (Index("ix_kbarticle_published_state", "status", "updated_at", "id", "embedding_model"),)
    id: int | None = Field(default=None, primary_key=True)
    category_id: int = fk("kbcategory.id")
    status: str = Field(default=ArticleStatus.DRAFT, sa_type=String(12), index=True)
    author_user_id: int | None = Field(default=None, foreign_key="user.id")
    published_at: datetime | None = None
    helpful_yes: int = 0
    helpful_no: int = 0
    # Sentence embedding (float32 bytes), computed when the article changes, never per query.
    embedding: bytes | None = Field(default=None, sa_type=LargeBinary)
    embedding_model: str = Field(default="", max_length=80)
    external_id: str | None = Field(default=None, max_length=100, unique=True)
    created_at: datetime = created_at_field()
    updated_at: datetime = created_at_field()


class KbArticleTranslation(SQLModel, table=True):
    """An article in another language (German, French): shown to readers of that language and
    searched with that language's own full-text configuration. The English original (KbArticle)
    stays the source: its slug, category, status and feedback count for every language."""

    __table_args__ = (UniqueConstraint("article_id", "lang", name="uq_kbarticletranslation_article_lang"),)
    id: int | None = Field(default=None, primary_key=True)
    article_id: int = fk("kbarticle.id", ondelete="CASCADE")
    lang: str = Field(max_length=8, index=True)  # "de", "fr" (never "en": that is the article itself)
    title: str = Field(max_length=200)
    summary: str = Field(default="", max_length=400)
    body_md: str = ""
    created_at: datetime = created_at_field()
    updated_at: datetime = created_at_field()


class KbArticlePublic(KbArticleBase):
    id: int
    category_id: int
    status: str
    updated_at: datetime


class KbFeedback(SQLModel, table=True):
    # One vote per visitor: `voter` is a hash of the signed-in user or of the anonymous browser tab.
    __table_args__ = (UniqueConstraint("article_id", "voter", name="uq_kbfeedback_article_voter"),)
    id: int | None = Field(default=None, primary_key=True)
    article_id: int = fk("kbarticle.id", ondelete="CASCADE")
    user_id: int | None = Field(default=None, foreign_key="user.id")
    helpful: bool
    voter: str = Field(default="", max_length=64)
    comment: str = Field(default="", max_length=1000)
    created_at: datetime = created_at_field()


class SearchQuery(SQLModel, table=True):
    """What was asked, how many results came back, and what was clicked."""

    id: int | None = Field(default=None, primary_key=True)
    user_id: int | None = Field(default=None, foreign_key="user.id", index=True)
    query: str = Field(max_length=500)
    normalized: str = Field(max_length=500, index=True)
    result_count: int = 0
    clicked_article_id: int | None = Field(default=None, foreign_key="kbarticle.id")
    source: str = Field(default="help_center", max_length=24)  # help_center, ticket_form, assistant
    created_at: datetime = created_at_field()


# The full-text index lives outside the models: an FTS5 virtual table on SQLite, kept in sync by
# portal.domain.kb; on PostgreSQL a generated column holding each row's weighted document (title A,
# summary B, body D), GIN-indexed, which PostgreSQL keeps up to date itself. Both are made by the
# migrations.
FTS_TABLE = "kbarticle_fts"
PG_FTS_INDEX = "ix_kbarticle_fts"
PG_DOCUMENT_COLUMN = "search_document"
# The same statement as in the migration (rowid = kbarticle.id; Porter stemming).
FTS_DDL = ("CREATE VIRTUAL TABLE IF NOT EXISTS kbarticle_fts USING fts5(title, summary, body, "
           "tokenize = 'porter unicode61 remove_diacritics 2')")


# Translations have their own index per language: one FTS5 table on SQLite (unstemmed unicode61
# without diacritics: FTS5's porter stemmer is English-only); on PostgreSQL the same generated
# column, made with the row's language's text search configuration, and a partial GIN index per
# language.
INTL_FTS_TABLE = "kbarticle_fts_intl"
INTL_FTS_DDL = ("CREATE VIRTUAL TABLE IF NOT EXISTS kbarticle_fts_intl USING fts5(lang UNINDEXED, title, summary, "
                "body, tokenize = 'unicode61 remove_diacritics 2')")
# The languages articles are translated into, and their PostgreSQL text search configuration.
PG_CONFIGS: dict[str, str] = {"de": "german", "fr": "french"}


def is_search_index(name: str | None) -> bool:
    """Schema objects that belong to the full-text index (its SQLite shadow tables, PostgreSQL's
    stored documents and their indexes)."""
    return bool(name) and (str(name).startswith(FTS_TABLE) or str(name).startswith(PG_FTS_INDEX)
                           or name == PG_DOCUMENT_COLUMN)


class KbGapBrief(SQLModel, table=True):
    """The questions an article should answer, handed from the admin's insights ("questions
    without a good answer") to the article editor: kept on the server under a random key (never
    in the address), readable only by the admin who made it, for a day."""

    id: str = Field(primary_key=True, max_length=32)  # random, unguessable
    owner_user_id: int = fk("user.id", ondelete="CASCADE")
    title: str = Field(default="", max_length=200)  # the question most asked, a title to start from
    article_id: int | None = fk("kbarticle.id", nullable=True, ondelete="CASCADE")  # an article voted unhelpful
    questions: list[str] = json_field(list)  # phrasings as asked, or readers' comments
    created_at: datetime = created_at_field()
