"""Help-center rows and test doubles for the knowledge base and the assistant."""

from __future__ import annotations

import hashlib
import itertools
import re
from datetime import timedelta
from typing import Any

from sqlalchemy import text
from sqlmodel import Session

from portal.db import utcnow
from portal.domain import kb
from portal.models import ArticleStatus, Customer, KbArticle, KbCategory, Order, Shipment
from portal.models.kb import FTS_TABLE, INTL_FTS_TABLE

_seq = itertools.count(1)


def clear_search_index(db: Session) -> None:
    """The test database is emptied table by table after each test; the FTS5 tables (articles,
    translations) are not model tables, so tests that index articles start from an empty index
    themselves. On PostgreSQL the GIN indexes follow the rows."""
    if db.get_bind().dialect.name == "sqlite":
        db.execute(text(f"DELETE FROM {FTS_TABLE}"))  # noqa: S608 - a constant
        db.execute(text(f"DELETE FROM {INTL_FTS_TABLE}"))  # noqa: S608 - a constant
        db.commit()


def make_category(db: Session, *, slug: str = "", name: str = "") -> KbCategory:
    n = next(_seq)
    cat = KbCategory(slug=slug or f"topic-{n}", name=name or f"Topic {n}", position=n)
    db.add(cat)
    db.commit()
    return cat


def make_article(db: Session, category: KbCategory, *, title: str, body: str = "", summary: str = "",
                 status: str = ArticleStatus.PUBLISHED, embedder: Any = None) -> KbArticle:
    n = next(_seq)
    assert category.id is not None
    a = KbArticle(slug=f"{kb.slugify(title)}-{n}", title=title, summary=summary, body_md=body or title,
                  category_id=category.id, status=status, published_at=utcnow())
    db.add(a)
    db.flush()
    kb.index_article(db, a, embedder=embedder or False)
    db.commit()
    return a


def translate(db: Session, article: KbArticle, lang: str, *, title: str, body: str, summary: str = "") -> None:
    """A translation of an article, indexed for search as the editor's save does."""
    from portal.models.kb import KbArticleTranslation

    assert article.id is not None
    row = KbArticleTranslation(article_id=article.id, lang=lang, title=title, summary=summary, body_md=body,
                               created_at=utcnow(), updated_at=utcnow())
    db.add(row)
    db.flush()
    kb.index_translation(db, row)
    db.commit()


def make_shipment(db: Session, order: Order, *, tag: str = "InTransit", message: str = "On its way") -> Shipment:
    n = next(_seq)
    s = Shipment(order_id=order.id or 0, customer_id=order.customer_id, carrier="dhl", carrier_name="DHL",
                 tracking_number=f"JD{n:010d}", tag=tag, subtag=f"{tag}_001", subtag_message=message,
                 expected_delivery_end=utcnow() + timedelta(days=2))
    db.add(s)
    db.commit()
    return s


class HashedWordsEmbedder:
    """A test double for the sentence model: a normalised bag of hashed words in 384 dimensions.

    It shares no meaning between different words; it only lets tests run the embedding code path
    (storage, re-embedding on change, fusion) where the real model is not installed.
    """

    name = "test-hashed-words"

    def encode(self, texts: list[str]) -> Any:
        import numpy as np

        out = np.zeros((len(texts), 384), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in re.findall(r"[a-z0-9]+", t.lower()):
                out[i, int(hashlib.sha256(w.encode()).hexdigest(), 16) % 384] += 1.0
            norm = float(np.linalg.norm(out[i]))
            if norm:
                out[i] /= norm
        return out


def customer_order_with_shipment(db: Session, customer: Customer, make_order: Any) -> tuple[Order, Shipment]:
    order = make_order(db, customer)
    return order, make_shipment(db, order)
