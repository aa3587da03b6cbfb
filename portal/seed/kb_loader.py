"""Load the help center from portal/seed/kb/<category>/<slug>.md into KbCategory and KbArticle.

Each folder is a category described by `_category.md` (name, description, position, and
`name.<lang>` / `description.<lang>` for the other languages the portal speaks); every other
`.md` file is an article with front matter (title, summary, position) and a Markdown body. Rows are
upserted by slug, so loading again only updates what changed.

Translations live in `translations/<lang>/<slug>.md` (the same front matter: title, summary), one
file per article and language ("de", "fr"); each names the English article by its slug and is
upserted by (article, language).
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path

from sqlmodel import Session, select

from portal.db import utcnow
from portal.models import ArticleStatus, KbArticle, KbCategory
from portal.models.kb import PG_CONFIGS, KbArticleTranslation

DEFAULT_DIR = Path(__file__).resolve().parent / "kb"
CATEGORY_FILE = "_category.md"
TRANSLATIONS_DIR = "translations"


class KbFormatError(ValueError):
    """A help-center file whose front matter is missing or malformed."""


@dataclasses.dataclass(frozen=True, slots=True)
class MarkdownDoc:
    meta: dict[str, str]
    body: str


def parse_front_matter(text: str, *, source: str = "<text>") -> MarkdownDoc:
    """Split `---`-delimited `key: value` front matter from the body (no YAML needed for flat keys)."""
    text = text.lstrip("\ufeff").replace("\r\n", "\n")
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        raise KbFormatError(f"{source}: missing front matter")
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    except StopIteration:
        raise KbFormatError(f"{source}: front matter is not closed with ---") from None
    meta: dict[str, str] = {}
    for raw in lines[1:end]:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition(":")
        if not sep or not key.strip():
            raise KbFormatError(f"{source}: cannot read front matter line {raw!r}")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        meta[key.strip().lower()] = value
    body = "\n".join(lines[end + 1:]).strip("\n")
    return MarkdownDoc(meta=meta, body=body + "\n" if body else "")


def _position(meta: dict[str, str], source: str) -> int:
    raw = meta.get("position", "0") or "0"
    try:
        return int(raw)
    except ValueError:
        raise KbFormatError(f"{source}: position must be a whole number, not {raw!r}") from None


def _required(meta: dict[str, str], key: str, source: str) -> str:
    value = meta.get(key, "").strip()
    if not value:
        raise KbFormatError(f"{source}: front matter needs '{key}'")
    return value


def _upsert_category(session: Session, slug: str, path: Path) -> KbCategory:
    doc = parse_front_matter(path.read_text(encoding="utf-8"), source=str(path))
    name = _required(doc.meta, "name", str(path))
    description = doc.meta.get("description", "")
    position = _position(doc.meta, str(path))
    translated: dict[str, dict[str, str]] = {}
    for key, value in doc.meta.items():  # name.de: ..., description.fr: ...
        field, _, lang = key.partition(".")
        if lang and field in ("name", "description") and value:
            translated.setdefault(lang, {})[field] = value
    row = session.exec(select(KbCategory).where(KbCategory.slug == slug)).first()
    if row is None:
        row = KbCategory(slug=slug, name=name, description=description, position=position, translations=translated)
        session.add(row)
    elif (row.name, row.description, row.position, row.translations) != (name, description, position, translated):
        row.name, row.description, row.position, row.translations = name, description, position, translated
        session.add(row)
    session.flush()
    return row


def _upsert_article(session: Session, *, category: KbCategory, path: Path, now: datetime) -> KbArticle:
    doc = parse_front_matter(path.read_text(encoding="utf-8"), source=str(path))
    slug = path.stem
    title = _required(doc.meta, "title", str(path))
    summary = doc.meta.get("summary", "")
    position = _position(doc.meta, str(path))
    assert category.id is not None
    row = session.exec(select(KbArticle).where(KbArticle.slug == slug)).first()
    if row is None:
        row = KbArticle(slug=slug, title=title, summary=summary, body_md=doc.body, position=position,
                        category_id=category.id, status=ArticleStatus.PUBLISHED, published_at=now,
                        created_at=now, updated_at=now)
        session.add(row)
        return row
    content_changed = (row.title, row.summary, row.body_md) != (title, summary, doc.body)
    changed = content_changed or (row.position, row.category_id, row.status) != (
        position, category.id, ArticleStatus.PUBLISHED)
    if changed:
        row.title, row.summary, row.body_md, row.position = title, summary, doc.body, position
        row.category_id = category.id
        row.status = ArticleStatus.PUBLISHED
        row.published_at = row.published_at or now
        row.updated_at = now
        if content_changed:
            # The stored embedding describes the old text; the indexer recomputes it.
            row.embedding = None
            row.embedding_model = ""
        session.add(row)
    return row


def _upsert_translation(session: Session, *, lang: str, path: Path, now: datetime) -> KbArticleTranslation:
    doc = parse_front_matter(path.read_text(encoding="utf-8"), source=str(path))
    title = _required(doc.meta, "title", str(path))
    summary = doc.meta.get("summary", "")
    article = session.exec(select(KbArticle).where(KbArticle.slug == path.stem)).first()
    if article is None or article.id is None:
        raise KbFormatError(f"{path}: no article with the slug {path.stem!r} to translate")
    row = session.exec(select(KbArticleTranslation).where(KbArticleTranslation.article_id == article.id,
                                                          KbArticleTranslation.lang == lang)).first()
    if row is None:
        row = KbArticleTranslation(article_id=article.id, lang=lang, title=title, summary=summary,
                                   body_md=doc.body, created_at=now, updated_at=now)
        session.add(row)
    elif (row.title, row.summary, row.body_md) != (title, summary, doc.body):
        row.title, row.summary, row.body_md, row.updated_at = title, summary, doc.body, now
        session.add(row)
    return row


def load_translations(session: Session, kb_dir: Path = DEFAULT_DIR) -> int:
    """Upsert every translation under kb_dir/translations/<lang>/; returns how many were found."""
    now = utcnow()
    root = Path(kb_dir) / TRANSLATIONS_DIR
    if not root.is_dir():
        return 0
    found = 0
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        if folder.name not in PG_CONFIGS:
            raise KbFormatError(f"{folder}: articles are translated into {', '.join(PG_CONFIGS)} only")
        for path in sorted(folder.glob("*.md")):
            _upsert_translation(session, lang=folder.name, path=path, now=now)
            found += 1
    session.flush()
    return found


def load_kb(session: Session, kb_dir: Path = DEFAULT_DIR) -> tuple[int, int]:
    """Upsert every category and article under kb_dir; returns (categories, articles) found there."""
    now = utcnow()
    folders = sorted(p for p in Path(kb_dir).iterdir() if p.is_dir() and (p / CATEGORY_FILE).is_file())
    seen: dict[str, Path] = {}
    categories = articles = 0
    for folder in folders:
        category = _upsert_category(session, folder.name, folder / CATEGORY_FILE)
        categories += 1
        for path in sorted(folder.glob("*.md")):
            if path.name.startswith("_"):
                continue
            if path.stem in seen:
                raise KbFormatError(f"{path}: slug {path.stem!r} is already used by {seen[path.stem]}")
            seen[path.stem] = path
            _upsert_article(session, category=category, path=path, now=now)
            articles += 1
    session.flush()
    load_translations(session, kb_dir)
    # The full-text index and the embeddings follow the articles (embeddings only where missing).
    from portal.domain.kb import reindex_all

    reindex_all(session)
    return categories, articles
