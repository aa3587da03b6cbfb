"""The help center: published articles for everyone, hybrid search, feedback, and editing for staff.

Search fuses two rankings with reciprocal rank fusion: the database's own full-text ranking (an
FTS5 table's bm25 on SQLite; on PostgreSQL ts_rank over a stored, GIN-indexed weighted tsvector),
added up from each question word's scores, which a worker keeps until the articles change
(kb_fulltext.py), and, when the `semantic` extra is installed, cosine similarity of sentence
embeddings. Article embeddings are computed when an article changes; a query is embedded once per
search.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import logging
import os
import re
import threading
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import case, func, text, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from portal.db import utcnow
from portal.domain import audit
from portal.domain.errors import Invalid, NotFound
from portal.domain.kb_fulltext import PAIR_BYTES, WordScores, driver_rows
from portal.domain.principal import Principal, require_staff
from portal.i18n import current_language, language_of, tr
from portal.integrations import embeddings as emb
from portal.models import ArticleStatus, KbArticle, KbCategory, KbFeedback, SearchQuery
from portal.models.kb import (
    FTS_DDL,
    FTS_TABLE,
    INTL_FTS_DDL,
    INTL_FTS_TABLE,
    PG_CONFIGS,
    PG_DOCUMENT_COLUMN,
    KbArticleTranslation,
)
from portal.settings import get_settings

log = logging.getLogger(__name__)

RRF_K = 10
# Reciprocal rank fusion weights, chosen on the tuning half of bench/kb_eval.jsonl (bench/README.md).
FULLTEXT_WEIGHT = 0.6
SEMANTIC_WEIGHT = 1.0
CANDIDATES = 50
MIN_SIMILARITY = 0.25  # below this an article is not "about" the question at all
# Two results this alike (cosine of their embeddings; without embeddings, the share of title and
# summary words they have in common) are near-duplicates: only the first keeps a top-three place.
DUPLICATE_SIMILARITY = 0.92
DUPLICATE_WORD_OVERLAP = 0.8
TOP = 3
# Full-text column weights: a word in the title counts more than in the summary, more than in the body.
TITLE_WEIGHT, SUMMARY_WEIGHT, BODY_WEIGHT = 8.0, 4.0, 1.0
MAX_QUERY = 200
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# Words that carry no meaning for matching; full-text search ORs the rest. English first, then the
# commonest German and French function words (the portal also speaks those).
_STOPWORD_TEXT = """
a about after again all am an and any are as at be been before being but by can could did do does
doing don for from had has have having he her here hers him his how i if in into is it its just me
more most my no nor not now of off on once only or other our out over own same she should so some
such than that the their them then there these they this those through to too under until up very
was we were what when where which while who whom why will with would you your yours im ive id dont
cant wont get got want need please didnt doesnt isnt wasnt werent havent hasnt hadnt couldnt shouldnt
wouldnt arent whats thats theres theyve youre didn doesn isn wasn weren haven hasn hadn couldn shouldn
wouldn aren
ich du er sie es wir ihr mein meine meinen meiner mir mich dein der die das den dem des ein eine einen
und oder aber ist sind war bin hat habe haben nicht kein keine zu mit auf fur bei von vom zum zur im
wie was wo wann warum ich bitte noch schon auch
je tu il elle nous vous ils elles mon ma mes ton ta le la les de du des un une et ou est sont suis ai
pas ne en pour sur au aux ce cet cette qui que quoi ou quand comment pourquoi svp merci avec dans par
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
# PostgreSQL ranks by ts_rank over the stored weighted document: on the tuning half it ranked as
# well as ts_rank_cd (cover density) in hybrid search, better in MRR, at half the cost per row.
PG_RANK = "ts_rank({document}, q)"


# ----- shapes ---------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True, slots=True)
class CategoryCard:
    slug: str
    name: str
    description: str
    article_count: int


@dataclasses.dataclass(frozen=True, slots=True)
class ArticleCard:
    slug: str
    title: str
    summary: str
    category_slug: str
    category_name: str
    lang: str = "en"  # the language of title and summary (a translation's, else the English original's)


@dataclasses.dataclass(frozen=True, slots=True)
class ArticleView:
    id: int
    slug: str
    title: str
    summary: str
    body_md: str
    status: str
    category_slug: str
    category_name: str
    updated_at: datetime
    helpful_yes: int
    helpful_no: int
    lang: str = "en"  # the language the text is in
    # The reader asked for another language and the article has no translation into it: the page
    # says the article is shown in English.
    fallback: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class SearchOutcome:
    query_id: int | None
    hits: list[ArticleCard]
    semantic: bool  # whether the embedding model took part
    lang: str = "en"  # the language searched in


# ----- languages ------------------------------------------------------------------------------

# Articles are written in English and may have translations (KbArticleTranslation) into these.
TRANSLATED = tuple(PG_CONFIGS)


def reader_language(lang: str | None = None) -> str:
    """The language to show and search in: the one asked for, else the person being served now."""
    return language_of(lang) or current_language()


def translations(session: Session, ids: Sequence[int], lang: str) -> dict[int, KbArticleTranslation]:
    """The translations of these articles into `lang`, by article id (none for English)."""
    if lang not in TRANSLATED or not ids:
        return {}
    rows = session.exec(select(KbArticleTranslation).where(col(KbArticleTranslation.article_id).in_(list(ids)),
                                                           KbArticleTranslation.lang == lang)).all()
    return {t.article_id: t for t in rows}


# ----- text helpers ---------------------------------------------------------------------------

_CONTROL_TO_SPACE = {i: " " for i in (*range(32), 127)}


def normalize_query(raw: str) -> str:
    # Control characters (NUL above all: PostgreSQL text cannot hold it) become spaces.
    text = str(raw or "").translate(_CONTROL_TO_SPACE)
    return " ".join(text.split())[:MAX_QUERY]


def fold(raw: str) -> str:
    """Lowercase without accents ("Größe" -> "grosse", "réclamation" -> "reclamation"), as FTS5's
    remove_diacritics does, so words in any of the portal's languages survive as [a-z0-9]."""
    text = unicodedata.normalize("NFKD", normalize_query(raw).lower().replace("ß", "ss"))
    return "".join(ch for ch in text if not unicodedata.combining(ch))


def fold_text(raw: str) -> str:
    """fold() for a whole text (no length limit): what the translations' FTS5 table indexes, so
    "Größe" there matches "grosse" and "groesse"-less typing alike."""
    text = unicodedata.normalize("NFKD", str(raw or "").lower().replace("ß", "ss"))
    return "".join(ch for ch in text if not unicodedata.combining(ch))


# Light suffix stripping for German and French full-text search on SQLite (FTS5's porter stemmer is
# English-only, and no Snowball stemmer is a dependency): the stem is then matched as a prefix
# ("rechnungen" -> "rechnung"*, "remboursement" -> "rembours"*). PostgreSQL stems with its own
# 'german' and 'french' configurations instead.
_SUFFIXES = {
    "de": ("ungen", "heiten", "keiten", "ern", "em", "en", "er", "es", "e", "n", "s", "t"),
    "fr": ("ements", "ement", "ations", "ation", "ees", "ee", "es", "er", "ez", "e", "s", "x"),
}
_MIN_STEM = 4


def light_stem(word: str, lang: str) -> str:
    for suffix in _SUFFIXES.get(lang, ()):
        if word.endswith(suffix) and len(word) - len(suffix) >= _MIN_STEM:
            stem = word[: len(word) - len(suffix)]
            return stem + "ung" if suffix == "ungen" else stem
    return word


def raw_words(raw: str) -> list[str]:
    """Lowercase words as typed, accents kept (PostgreSQL's French stemmer keeps accents)."""
    return [w for w in re.findall(r"\w+", normalize_query(raw).lower()) if not w.isdigit() or len(w) > 1]


# English contractions are one word, typed with an apostrophe or without ("wasn't" = "wasnt",
# "it's" = "its"); other apostrophes separate words (French "l'adresse", "qu'il").
_CONTRACTION = re.compile(r"([a-z])['\u2019](t|s|re|ll|ve|m|d)\b")


def words_of(raw: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", _CONTRACTION.sub(r"\1\2", fold(raw)))


def terms(raw: str) -> list[str]:
    """Meaningful lowercase words of a question; only [a-z0-9], so they are safe in any FTS syntax."""
    out: list[str] = []
    for w in words_of(raw):
        if len(w) >= 2 and w not in STOPWORDS and w not in out:
            out.append(w)
    return out[:24]


def article_text(title: str, summary: str, body_md: str) -> str:
    """What the embedding describes: the title and summary first, as the model reads 256 tokens."""
    body = re.sub(r"[#*_`>\[\]()|-]+", " ", body_md)
    return f"{title}. {summary}\n{body}"


# ----- indexing -------------------------------------------------------------------------------

def semantic_embedder() -> emb.Embedder | None:
    return emb.load_embedder() if get_settings().kb_semantic else None


def _is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


_fts_ready: set[tuple[int, str]] = set()


def _db_key(session: Session) -> tuple[int, str]:
    bind = session.get_bind()
    return id(bind.engine), str(bind.engine.url)


def _sqlite_fts(session: Session) -> bool:
    """True on SQLite, after making sure the FTS5 table exists. The migration creates it; a database
    built from the models alone (create_all, as some tools and tests do) gets it here."""
    if not _is_sqlite(session):
        return False
    key = _db_key(session)
    if key not in _fts_ready:
        session.execute(text(FTS_DDL))
        session.execute(text(INTL_FTS_DDL))
        _fts_ready.add(key)
    return True


def index_article(session: Session, article: KbArticle, *, embedder: emb.Embedder | bool | None = True) -> None:
    """Bring the full-text index and the embedding in line with the article (caller commits).

    `embedder=True` means the configured model (if installed); None or False skips embeddings.
    """
    assert article.id is not None
    _state.changed()
    if _sqlite_fts(session):
        # Table names are module constants; every value is a bound parameter.
        session.execute(text(f"DELETE FROM {FTS_TABLE} WHERE rowid = :id"), {"id": article.id})  # noqa: S608
        if article.status == ArticleStatus.PUBLISHED:
            session.execute(text(f"INSERT INTO {FTS_TABLE}(rowid, title, summary, body) "  # noqa: S608
                                 "VALUES (:id, :t, :s, :b)"),
                            {"id": article.id, "t": article.title, "s": article.summary, "b": article.body_md})
    # PostgreSQL: the document is a generated column of the row, so the database keeps it current.
    model = semantic_embedder() if embedder is True else (embedder or None)
    if model is not None:
        vec = model.encode([article_text(article.title, article.summary, article.body_md)])[0]
        article.embedding = emb.to_bytes(vec)
        article.embedding_model = model.name
        session.add(article)


def index_translation(session: Session, row: KbArticleTranslation) -> None:
    """Bring the translations' full-text index in line with one translation (caller commits).
    PostgreSQL's partial GIN indexes follow the row by themselves."""
    assert row.id is not None
    _state.changed()
    if _sqlite_fts(session):
        session.execute(text(f"DELETE FROM {INTL_FTS_TABLE} WHERE rowid = :id"), {"id": row.id})  # noqa: S608
        session.execute(text(f"INSERT INTO {INTL_FTS_TABLE}(rowid, lang, title, summary, body) "  # noqa: S608
                             "VALUES (:id, :lang, :t, :s, :b)"),
                        {"id": row.id, "lang": row.lang, "t": fold_text(row.title), "s": fold_text(row.summary),
                         "b": fold_text(row.body_md)})


def _reindex_translations(session: Session) -> None:
    if not _sqlite_fts(session):
        return
    session.execute(text(f"DELETE FROM {INTL_FTS_TABLE}"))  # noqa: S608
    for row in session.exec(select(KbArticleTranslation)).all():
        index_translation(session, row)


def reindex_all(session: Session, *, embedder: emb.Embedder | bool | None = True,
                only_missing_embeddings: bool = True) -> int:
    """Rebuild the full-text index and fill in embeddings that are missing (seed time, upgrades)."""
    session.flush()
    _state.changed()
    if _sqlite_fts(session):
        session.execute(text(f"DELETE FROM {FTS_TABLE}"))  # noqa: S608
        session.execute(text(f"INSERT INTO {FTS_TABLE}(rowid, title, summary, body) "  # noqa: S608
                             "SELECT id, title, summary, body_md FROM kbarticle WHERE status = 'published'"))
    _reindex_translations(session)
    model = semantic_embedder() if embedder is True else (embedder or None)
    if model is None:
        return 0
    rows = list(session.exec(select(KbArticle)).all())
    todo = [a for a in rows if not only_missing_embeddings or a.embedding is None
            or a.embedding_model != model.name]
    for start in range(0, len(todo), 64):
        chunk = todo[start:start + 64]
        vecs = model.encode([article_text(a.title, a.summary, a.body_md) for a in chunk])
        for a, v in zip(chunk, vecs, strict=True):
            a.embedding = emb.to_bytes(v)
            a.embedding_model = model.name
            session.add(a)
    session.flush()
    return len(todo)


# ----- ranking --------------------------------------------------------------------------------

# ----- understanding the question: typos and the business's synonyms ------------------------------

@dataclasses.dataclass(frozen=True, slots=True)
class Synonyms:
    """Parsed synonyms file: each rule is (a phrase's words, the words it adds to a search)."""
    rules: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = ()
    words: frozenset[str] = frozenset()  # every word in the file: never "corrected" as a typo
    # (language, light stem) -> the file's one-word entry with that stem ("de", "zuruckschick") ->
    # "zuruckschicken": a question's other forms of a word match the entry's rules.
    stems: dict[tuple[str, str], str] = dataclasses.field(default_factory=dict)
    # A phrase's first word -> the positions of the rules that start with it (a question is matched
    # against the rules its own words can start, not against the whole file).
    starting: dict[str, tuple[int, ...]] = dataclasses.field(default_factory=dict)
    # Words that name what the shop sells ("- boots, tent" lines): questions name them whatever they
    # ask ("the tracking number for my boots"), and in full-text they would send every such question
    # to the product's care article; they are not searched for (unless nothing else is).
    weak: frozenset[str] = frozenset()


def parse_synonyms(text: str) -> Synonyms:
    """`a, b, c` makes a group (a question with any of them is also searched for the others);
    `a, b => c, d` works one way (a or b adds c and d; c or d add nothing). `- a, b` names what the
    shop sells: words not searched for. `#` starts a comment. Entries may be phrases ("sign up");
    accents and case do not matter."""
    rules: list[tuple[tuple[str, ...], tuple[str, ...]]] = []
    seen: set[str] = set()
    weak: set[str] = set()
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("-"):  # never "corrected" either ("stove" is not a typo of "store")
            weak.update(w for part in line[1:].split(",") for w in words_of(part))
            seen.update(weak)
            continue
        left, arrow, right = line.partition("=>")
        sources = [tuple(words_of(p)) for p in left.split(",")]
        targets = [tuple(words_of(p)) for p in (right if arrow else left).split(",")]
        target_words = list(dict.fromkeys(w for t in targets for w in t if w not in STOPWORDS))
        for phrase in sources:
            if phrase:
                seen.update(phrase)
                rules.append((phrase, tuple(w for w in target_words if w not in phrase)))
        seen.update(target_words)
    stems: dict[tuple[str, str], str] = {}
    for phrase, _ in rules:
        if len(phrase) == 1 and len(phrase[0]) > _MIN_STEM:
            for lang in ("de", "fr"):
                stem = light_stem(phrase[0], lang)
                if stem != phrase[0] or len(stem) > _MIN_STEM + 1:
                    stems.setdefault((lang, stem), phrase[0])
    starting: dict[str, list[int]] = {}
    for n, (phrase, _) in enumerate(rules):
        starting.setdefault(phrase[0], []).append(n)
    return Synonyms(rules=tuple(rules), words=frozenset(seen), stems=stems,
                    starting={w: tuple(ns) for w, ns in starting.items()}, weak=frozenset(weak))


_synonyms_cache: dict[str, tuple[tuple[int, int], Synonyms]] = {}
_synonyms_lock = threading.Lock()


def synonyms() -> Synonyms:
    """The synonyms file named by KB_SYNONYMS_FILE (portal/seed/kb/synonyms.txt by default), read
    again whenever it changes on disk, so an edit by the business applies to the next search."""
    path = Path(get_settings().kb_synonyms_file)
    try:
        st = path.stat()
    except OSError:
        return Synonyms()
    stamp = (st.st_mtime_ns, st.st_size)
    with _synonyms_lock:
        cached = _synonyms_cache.get(str(path))
        if cached is None or cached[0] != stamp:
            cached = (stamp, parse_synonyms(path.read_text(encoding="utf-8", errors="replace")))
            _synonyms_cache[str(path)] = cached
        return cached[1]


def published_state(session: Session, model: str = "") -> tuple[Any, ...]:
    """One query whose answer changes whenever a published article is added, edited, unpublished
    or removed, or gains an embedding from `model`: the key of the caches below. It reads every
    published row, so searches ask it through `_state`, at most every STATE_RECHECK_SECONDS."""
    with_model = func.sum(case((col(KbArticle.embedding_model) == model, 1), else_=0))
    row = session.execute(sa_select(func.count(), func.max(KbArticle.updated_at), func.max(KbArticle.id),
                                    func.sum(KbArticle.id), with_model)
                          .where(col(KbArticle.status) == ArticleStatus.PUBLISHED)).one()
    return (*_db_key(session), model, *(str(v) for v in row))


# How long a worker may go on with the published articles' state it last asked for: an article
# published, changed or unpublished through another worker or instance is searchable (or gone)
# there at most this long later. For as long after this process changed an article, every search
# asks again, so its own change shows at once.
STATE_RECHECK_SECONDS = 1.0


class _State:
    """published_state(), asked of the database at most every STATE_RECHECK_SECONDS per database
    and model, and on every search for STATE_RECHECK_SECONDS after this process changed an article
    (the change may be committed a moment after the call that made it).

    When the state it holds is older than that, a search goes on with it and a thread asks the
    database for the next one (one at a time per database and model): at 50,000 articles the
    question reads every published row (15 ms on SQLite, 33 ms on PostgreSQL), which the search
    that fell on the second's turn used to wait for. A change made through another worker is then
    searchable here STATE_RECHECK_SECONDS plus one such question later."""

    def __init__(self) -> None:
        self.seen: dict[tuple[Any, ...], tuple[float, tuple[Any, ...]]] = {}
        self.asking: set[tuple[Any, ...]] = set()
        self.wrote = -STATE_RECHECK_SECONDS
        self.lock = threading.Lock()

    def changed(self) -> None:
        with self.lock:
            self.wrote = time.monotonic()

    def current(self, session: Session, model: str = "") -> tuple[Any, ...]:
        where = (*_db_key(session), model)
        now = time.monotonic()
        with self.lock:
            hit = self.seen.get(where)
            own_change = now - self.wrote < STATE_RECHECK_SECONDS
            if hit is not None and not own_change:
                if now - hit[0] >= STATE_RECHECK_SECONDS and where not in self.asking:
                    self.asking.add(where)
                    threading.Thread(target=self._ask, args=(session.get_bind().engine, where, model),
                                     name="portal-kb-state", daemon=True).start()
                return hit[1]
        return self._store(where, now, published_state(session, model))

    def _store(self, where: tuple[Any, ...], asked: float, state: tuple[Any, ...]) -> tuple[Any, ...]:
        with self.lock:
            held = self.seen.get(where)
            if held is None or held[0] <= asked:
                self.seen[where] = (asked, state)
        return state

    def _ask(self, engine: Any, where: tuple[Any, ...], model: str) -> None:
        asked = time.monotonic()
        try:
            with Session(engine) as session:
                self._store(where, asked, published_state(session, model))
        except Exception:
            log.exception("could not read the help center's published state")
        finally:
            with self.lock:
                self.asking.discard(where)


_state = _State()


_stamps_seen: list[tuple[tuple[Any, ...], dict[int, tuple[str, str]]]] = []
_stamps_lock = threading.Lock()


_STAMPS_SQL = "SELECT id, CAST(updated_at AS VARCHAR), embedding_model FROM kbarticle WHERE status = 'published'"


def _published_stamps(session: Session, state: tuple[Any, ...]) -> dict[int, tuple[str, str]]:
    """Each published article's id -> (updated_at as stored, embedding model): read from the
    covering index, so the caches re-read the text or the vector of just the articles whose stamp
    moved. Kept for the last state asked, which the vector matrix and the vocabulary share."""
    with _stamps_lock:
        if _stamps_seen and _stamps_seen[0][0] == state:
            return _stamps_seen[0][1]
    # Plain tuples: at 50,000 articles a result Row for each took most of the time (about 190 ms on
    # PostgreSQL under a profiler, for a search that runs after each change).
    rows = driver_rows(session, _STAMPS_SQL)
    stamps = {int(i): (str(u), str(m or "")) for i, u, m in rows}
    with _stamps_lock:
        _stamps_seen[:] = [(state, stamps)]
    return stamps


def _chunks(ids: Sequence[int], size: int = 500) -> list[list[int]]:
    return [list(ids[n:n + size]) for n in range(0, len(ids), size)]


_BODY_HEAD = 4 * MAX_QUERY


def _head_words(text: str, *, complete: bool) -> list[str] | None:
    """words_of(text) from as little of it as gives the same answer: normalize_query() of a prefix
    is a prefix of normalize_query() of the whole, so once a prefix yields MAX_QUERY characters the
    rest cannot matter. None when the text is not complete and its head is too short to tell."""
    for cut in (2 * MAX_QUERY, len(text)):
        head = text[:cut]
        if len(normalize_query(head)) >= MAX_QUERY or (complete and cut >= len(text)):
            return words_of(head)
    return None


class _Vocabulary:
    """Every word of the published articles, by first letter: what a misspelt word is corrected to.

    Built once per worker; after that, a change reads only the articles added or edited since
    (words are added, never taken out, so a word an edit removed stays a correction target until
    an article is unpublished or removed, which rebuilds the whole vocabulary)."""

    def __init__(self) -> None:
        self.key: tuple[Any, ...] | None = None
        self.words: frozenset[str] = frozenset()
        self.by_letter: dict[str, list[str]] = {}
        self.stamps: dict[int, str] = {}
        self.lock = threading.Lock()

    def get(self, session: Session, state: tuple[Any, ...] | None = None) -> _Vocabulary:
        """Hybrid searches hand in the state they asked for anyway; full-text ones ask `_state`."""
        state = state or _state.current(session)
        key = (*state[:2], *state[3:-1])  # any model's state will do: without the model and its count
        with self.lock:
            if key != self.key:
                self._sync(session, key, state)
            return self

    def _sync(self, session: Session, key: tuple[Any, ...], state: tuple[Any, ...]) -> None:
        stamps = {i: s[0] for i, s in _published_stamps(session, state).items()}
        full = self.key is None or self.key[:2] != key[:2] or any(i not in stamps for i in self.stamps)
        # words_of() reads a text's first MAX_QUERY characters (whitespace collapsed): the body's
        # head is read, and the whole body only where the head is not enough to tell.
        query = sa_select(col(KbArticle.id), col(KbArticle.title), col(KbArticle.summary),
                          func.substr(col(KbArticle.body_md), 1, _BODY_HEAD), func.length(col(KbArticle.body_md)))
        if full:
            queries = [query.where(col(KbArticle.status) == ArticleStatus.PUBLISHED)]
        else:
            todo = [i for i, s in stamps.items() if self.stamps.get(i) != s]
            queries = [query.where(col(KbArticle.id).in_(part)) for part in _chunks(todo)]
        found: set[str] = set()
        whole: list[int] = []
        for q in queries:
            for aid, title, summary, head, length in session.execute(q):
                typed = _head_words(f"{title} {summary} {head}", complete=int(length or 0) <= _BODY_HEAD)
                if typed is None:
                    whole.append(int(aid))
                else:
                    found.update(w for w in typed if len(w) >= 3 and not w.isdigit())
        for part in _chunks(whole):
            for title, summary, body in session.exec(select(KbArticle.title, KbArticle.summary, KbArticle.body_md)
                                                     .where(col(KbArticle.id).in_(part))):
                found.update(w for w in words_of(f"{title} {summary} {body}") if len(w) >= 3 and not w.isdigit())
        if full:
            by_letter: dict[str, list[str]] = {}
            for w in sorted(found):
                by_letter.setdefault(w[0], []).append(w)
            words = found
        else:
            new = found - self.words
            by_letter = dict(self.by_letter)
            for letter in {w[0] for w in new}:
                by_letter[letter] = sorted([*by_letter.get(letter, []), *(w for w in new if w[0] == letter)])
            words = set(self.words) | new
        self.words, self.by_letter = frozenset(words), by_letter
        self.stamps, self.key = stamps, key


_vocabulary = _Vocabulary()


# A worker builds the search caches when it starts (warm()) once the help center has this many
# published articles: at 50,000 the typo vocabulary and the vector matrix take seconds to build,
# which the first reader would otherwise wait for. Below it they build in well under a second.
WARM_MIN_ARTICLES = 2_000


def warm(session: Session, *, min_articles: int | None = None, embedder: emb.Embedder | bool | None = True) -> bool:
    """Build this worker's search caches (typo vocabulary; with the model: the model itself and the
    vector matrix) before anyone searches, when there are at least `min_articles` published
    articles. True when it built them. Blocking: call it from a thread."""
    # Counted first: a small help center does not load the model at start.
    if int(_state.current(session)[3]) < (WARM_MIN_ARTICLES if min_articles is None else min_articles):
        return False
    model = semantic_embedder() if embedder is True else (embedder or None)
    state = _state.current(session, model.name if model is not None else "")
    _vocabulary.get(session, state)
    if model is not None:
        _matrix.get(session, model.name, state)
        _questions.get(model, "warm up")
    return True


TYPO_CUTOFF = 0.8  # difflib similarity a correction needs ("recieved" -> "received": 0.875)


def correct_typo(word: str, vocabulary: _Vocabulary, known: frozenset[str] = frozenset()) -> str:
    """The article word closest to a word no article uses (same first letter, one or two letters
    apart); the word itself when it is known, short, a number, or nothing is close enough."""
    if len(word) < 4 or word.isdigit() or word in STOPWORDS or word in known or word in vocabulary.words:
        return word
    pool = [w for w in vocabulary.by_letter.get(word[0], ()) if abs(len(w) - len(word)) <= 2]
    found = difflib.get_close_matches(word, pool, n=1, cutoff=TYPO_CUTOFF)
    return found[0] if found else word


@dataclasses.dataclass(frozen=True, slots=True)
class Question:
    text: str  # as asked (normalised)
    words: list[str]  # what full-text search ORs: the question's words, their corrections, synonyms
    added: list[str]  # corrections and synonyms' words only
    semantic_text: str  # what is embedded: the question, then what was added


def _contains(words: Sequence[str], phrase: Sequence[str]) -> bool:
    n = len(phrase)
    return any(tuple(words[i:i + n]) == tuple(phrase) for i in range(len(words) - n + 1))


# German separable verbs put "zu" between prefix and verb in the infinitive with zu ("zurückzuschicken",
# "umzutauschen", "herunterzuladen"): the synonyms file names the verb itself ("zurückschicken").
_SEPARABLE = ("zuruck", "herunter", "heraus", "wieder", "ab", "an", "auf", "aus", "bei", "ein", "her", "hin",
              "los", "mit", "nach", "um", "vor", "weg", "zu")


def _without_zu(word: str) -> str:
    for prefix in _SEPARABLE:
        if word.startswith(prefix + "zu") and len(word) - len(prefix) - 2 >= 4:
            return prefix + word[len(prefix) + 2:]
    return word


# A separable verb's particle stands at the end of its clause in a German main clause ("wie schicke
# ich die Schuhe zurück?"): with it, each word of the clause may be the verb ("zurückschicke").
_PARTICLES = frozenset({"zuruck", "ab", "an", "auf", "aus", "ein", "mit", "um", "weg", "vor", "nach", "los"})


def _verb_candidates(q: str) -> list[str]:
    out: list[str] = []
    for clause in re.split(r"[?.!,;:]", q):
        words = words_of(clause)
        if len(words) >= 2 and words[-1] in _PARTICLES:
            out.extend(words[-1] + w for w in words[:-1] if len(w) >= 3 and w not in STOPWORDS)
    return out


# A clothing size typed as letters ("ordered a M but need a L", "an xl"): a single S, M or L only
# as a capital standing alone (not the French "L'adresse", not "M&S"; a lowercase "m" is not a size).
_SIZE_LETTERS = re.compile(r"(?<![\w'\u2019&.-])[SML](?![\w'\u2019&-])")
_SIZE_WORDS = frozenset({"xxs", "xs", "xl", "xxl", "xxxl", "2xl", "3xl", "4xl", "5xl"})


def _size_words(q: str) -> list[str]:
    return ["size"] if _SIZE_LETTERS.search(q) or not _SIZE_WORDS.isdisjoint(words_of(q)) else []


def _inflected(words: Sequence[str], syn: Synonyms) -> list[str]:
    """The file's words that these words are inflections of (German and French endings: "échange"
    and "échanger", "schicke" and "schicken"), for the words the file does not name as typed."""
    found: list[str] = []
    for w in words:
        if w in syn.words:
            continue
        for lang in ("de", "fr"):
            if (named := syn.stems.get((lang, light_stem(w, lang)))) is not None and named not in found:
                found.append(named)
                break
    return found


def understand(session: Session, query: str, *, state: tuple[Any, ...] | None = None) -> Question:
    """Correct typos against the articles' own words, then add the synonyms file's words."""
    q = normalize_query(query)
    syn = synonyms()
    typed = [_without_zu(w) for w in words_of(q)]
    # Words the file names only in another form: they match the rules of that one word.
    forms = set(_inflected([*typed, *_verb_candidates(q)], syn)) if syn.stems else set()
    vocabulary = _vocabulary.get(session, state) if typed else None
    corrected = [correct_typo(w, vocabulary, syn.words) for w in typed] if vocabulary else typed
    added: list[str] = [c for w, c in zip(typed, corrected, strict=True) if c != w] + _size_words(q)
    candidates = sorted({n for w in (*typed, *corrected, *forms) for n in syn.starting.get(w, ())})
    for phrase, expansion in (syn.rules[n] for n in candidates):  # in the file's order
        if _contains(typed, phrase) or _contains(corrected, phrase) or (len(phrase) == 1 and phrase[0] in forms):
            added.extend(expansion)
    typed_terms = terms(q)
    own = [w for w in typed_terms if w not in syn.weak] or typed_terms
    extra = [w for w in dict.fromkeys(added)
             if w not in own and w not in STOPWORDS and w not in syn.weak and len(w) >= 2]
    words = (own + extra)[:40]
    return Question(text=q, words=words, added=extra,
                    semantic_text=f"{q} ({' '.join(extra)})" if extra else q)


# ----- ranking --------------------------------------------------------------------------------

def fulltext_ids(session: Session, query: str, *, limit: int = CANDIDATES,
                 words: Sequence[str] | None = None, state: tuple[Any, ...] | None = None) -> list[int]:
    """The database's full-text ranking of the words ORed (FTS5's bm25 with the column weights;
    PostgreSQL's ts_rank over the stored weighted document, each lexeme weighted by its idf), best
    `limit` ids, added up from each word's kept scores (portal/domain/kb_fulltext.py): the same
    order as the database's own statement for it."""
    words = terms(query) if words is None else list(words)
    if not words:
        return []
    state = state or _state.current(session)
    key = (*state[:2], *state[3:-1])  # any model's state will do: without the model and its count
    _word_scores.max_entries = get_settings().kb_word_scores_mb * 2**20 // PAIR_BYTES
    if _sqlite_fts(session):
        return _word_scores.sqlite_ranked(session, words, key, limit)
    ranked = _word_scores.pg_ranked(session, words, key, limit, int(state[3]),
                                    stamps_of=lambda: _published_stamps(session, state))
    if ranked is not None:
        return ranked
    # A word the parser makes several lexemes of (rare: words are [a-z0-9]): the database ranks the
    # whole question with ts_rank alone, as pg_fulltext_ids() does.
    return pg_fulltext_ids(session, words, limit)


def pg_fulltext_ids(session: Session, words: Sequence[str], limit: int = CANDIDATES) -> list[int]:
    """PostgreSQL ranking the words ORed itself: the stored weighted document (title A, summary B,
    body D; a generated column, GIN-indexed) decides what matches and ranks it."""
    rows = session.execute(text(
        f"SELECT id FROM kbarticle, websearch_to_tsquery('english', :q) AS q "  # noqa: S608
        f"WHERE status = 'published' AND {PG_DOCUMENT_COLUMN} @@ q "
        f"ORDER BY {PG_RANK.format(document=PG_DOCUMENT_COLUMN)} DESC, id LIMIT :n"),
        {"q": " or ".join(words), "n": limit}).all()
    return [int(r[0]) for r in rows]


# Each searched word's scores in the articles that have it, per worker (kb_fulltext.WordScores),
# in at most KB_WORD_SCORES_MB, least recently used words dropped first. At 50,000 articles a word
# found in most of them holds about 35,000 pairs (400 KiB); the 400 words of bench/kb_search_eval.py's
# 200 questions hold 39 MiB there.
_word_scores = WordScores(
    sqlite_word=(f"SELECT rowid, bm25({FTS_TABLE}, {TITLE_WEIGHT}, {SUMMARY_WEIGHT}, {BODY_WEIGHT}) "  # noqa: S608
                 f"FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :q"),
    pg_lexeme="SELECT w, websearch_to_tsquery('english', w)::text FROM unnest(CAST(:ws AS text[])) AS w",
    pg_words=(f"SELECT id, {{ranks}} FROM kbarticle WHERE status = 'published' "  # noqa: S608
              f"AND {PG_DOCUMENT_COLUMN} @@ CAST(:any AS tsquery)"),
    pg_ids="SELECT id, {ranks} FROM kbarticle WHERE status = 'published' AND id = ANY(CAST(:ids AS integer[]))",
    # ts_rank's OR is a sum of the lexemes' shares (PG_RANK); ts_rank_cd's cover density is not.
    pg_rank=f"ts_rank({PG_DOCUMENT_COLUMN}, CAST(:{{param}} AS tsquery))",
    max_entries=0)


def translated_fulltext_ids(session: Session, query: str, lang: str, *, limit: int = CANDIDATES) -> list[int]:
    """Article ids whose translation into `lang` matches the question, best first: an FTS5 table
    without stemming on SQLite (light suffix stripping and prefix matching stand in for it), the
    language's own text search configuration ('german', 'french') on PostgreSQL."""
    if lang not in PG_CONFIGS:
        return []
    words = terms(query)
    weak = synonyms().weak
    words = [w for w in words if w not in weak] or words
    if not words:
        return []
    if _sqlite_fts(session):
        parts: list[str] = []
        for w in words:
            stem = light_stem(w, lang)
            part = f'"{stem}"*' if len(stem) >= _MIN_STEM else f'"{w}"'
            if part not in parts:
                parts.append(part)
        rows = session.execute(text(
            f"SELECT t.article_id FROM {INTL_FTS_TABLE} f "  # noqa: S608
            f"JOIN kbarticletranslation t ON t.id = f.rowid JOIN kbarticle a ON a.id = t.article_id "
            f"WHERE {INTL_FTS_TABLE} MATCH :q AND f.lang = :lang AND a.status = 'published' "
            f"ORDER BY bm25({INTL_FTS_TABLE}, 0.0, {TITLE_WEIGHT}, {SUMMARY_WEIGHT}, {BODY_WEIGHT}) LIMIT :n"),
            {"q": " OR ".join(parts), "lang": lang, "n": limit}).all()
    else:
        config = PG_CONFIGS[lang]  # a module constant, never what the client sent
        # The words as typed (accents kept: the French stemmer keeps them) and folded, ORed.
        stop = set(STOPWORDS)
        typed = [w for w in raw_words(query) if fold(w) not in stop and len(w) >= 2]
        ored = " or ".join(dict.fromkeys([*typed, *words]))
        rows = session.execute(text(
            f"SELECT t.article_id FROM kbarticletranslation t JOIN kbarticle a ON a.id = t.article_id, "  # noqa: S608
            f"websearch_to_tsquery('{config}', :q) AS q "
            f"WHERE t.lang = :lang AND a.status = 'published' AND t.{PG_DOCUMENT_COLUMN} @@ q "
            f"ORDER BY ts_rank_cd(t.{PG_DOCUMENT_COLUMN}, q) DESC, t.article_id LIMIT :n"),
            {"q": ored, "lang": lang, "n": limit}).all()
    return [int(r[0]) for r in rows]


class _Matrix:
    """Published articles' embeddings as one matrix (rows in id order), per worker. Built once;
    after that a change re-reads only the vectors of the articles added or changed since (by
    updated_at and embedding model) and drops those unpublished or removed."""

    def __init__(self) -> None:
        self.key: tuple[Any, ...] | None = None
        self.ids: list[int] = []
        self.row: dict[int, int] = {}
        self.vectors: Any = None
        self.stamps: dict[int, tuple[str, str]] = {}
        self.lock = threading.Lock()

    def get(self, session: Session, model: str, state: tuple[Any, ...] | None = None) -> tuple[list[int], Any]:
        key = state if state is not None and state[2] == model else _state.current(session, model)
        with self.lock:
            if key != self.key:
                self._sync(session, model, key)
            return self.ids, self.vectors

    def _sync(self, session: Session, model: str, key: tuple[Any, ...]) -> None:
        import numpy as np

        stamps = _published_stamps(session, key)
        if self.key is None or self.key[:3] != key[:3]:  # first use, another database or another model
            self.ids, self.row, self.stamps = [], {}, {}
            self.vectors = np.zeros((0, emb.DIM), dtype=np.float32)
        changed = [i for i, s in stamps.items() if self.stamps.get(i) != s]
        drop = set(changed) | (set(self.stamps) - set(stamps))
        wanted = {i for i in changed if stamps[i][1] == model}
        if len(wanted) > len(stamps) // 4:  # first build, or most rows changed: one query for all
            queries = [select(KbArticle.id, KbArticle.embedding).where(
                col(KbArticle.status) == ArticleStatus.PUBLISHED, col(KbArticle.embedding_model) == model)]
        else:
            queries = [select(KbArticle.id, KbArticle.embedding).where(col(KbArticle.id).in_(part))
                       for part in _chunks(sorted(wanted))]
        fetched: dict[int, Any] = {}
        for q in queries:
            for i, e in session.exec(q).all():
                if e and i is not None and int(i) in wanted:
                    fetched[int(i)] = emb.from_bytes(e)
        if fetched and drop == set(fetched) and all(i in self.row for i in fetched):
            # Only articles already there changed: one copy of the matrix, those rows replaced.
            vectors = self.vectors.copy()
            for i, v in fetched.items():
                vectors[self.row[i]] = v
            self.vectors = vectors
        elif drop or fetched:
            keep = [n for n, i in enumerate(self.ids) if i not in drop]
            ids = [self.ids[n] for n in keep] + list(fetched)
            parts = [self.vectors[keep]] + ([np.stack(list(fetched.values()))] if fetched else [])
            order = np.argsort(np.asarray(ids, dtype=np.int64), kind="stable")
            # A new array, never changed in place: a search still holding the old one is unaffected.
            self.vectors = np.ascontiguousarray(np.concatenate(parts)[order], dtype=np.float32)
            self.ids = [ids[n] for n in order]
            self.row = {i: n for n, i in enumerate(self.ids)}
        self.stamps, self.key = stamps, key

    def vectors_of(self, ids: Sequence[int]) -> dict[int, Any]:
        """The cached vectors of these articles (those that have one), as of the last get()."""
        with self.lock:
            return {i: self.vectors[self.row[i]] for i in ids if i in self.row}


_matrix = _Matrix()

# Questions repeat (popular ones, typeahead asking again): each worker keeps the vectors of the
# last QUESTION_CACHE_SIZE questions it embedded (384 float32 each, 1.5 KiB).
QUESTION_CACHE_SIZE = 1024


class _QuestionVectors:
    def __init__(self) -> None:
        self.items: OrderedDict[tuple[int, str, str], tuple[emb.Embedder, Any]] = OrderedDict()
        self.lock = threading.Lock()

    def clear(self) -> None:
        with self.lock:
            self.items.clear()

    def get(self, model: emb.Embedder, question: str) -> Any:
        # The model is kept with its vectors, so its id cannot be reused by another model meanwhile.
        key = (id(model), model.name, question)
        with self.lock:
            hit = self.items.get(key)
            if hit is not None:
                self.items.move_to_end(key)
                return hit[1]
        vec = model.encode([question])[0]
        with self.lock:
            self.items[key] = (model, vec)
            while len(self.items) > QUESTION_CACHE_SIZE:
                self.items.popitem(last=False)
        return vec


_questions = _QuestionVectors()
# Questions are embedded here, beside the search's full-text query (rank()): as many at once as
# there are cores, as when each search embedded its question on its own thread.
_embedding = ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2), thread_name_prefix="portal-kb-embed")


# From this many articles the vector scan is split in two, the second half on the embedding pool:
# each half's product runs on its own core and releases the interpreter lock. At 50,000 articles
# (73 MiB of vectors, read from memory once per search) it takes 2.9 ms instead of 6.0, with the
# same float32 results row for row (one BLAS matrix-vector product per half).
SPLIT_SCAN_ROWS = 16_384


def _similarities(matrix: Any, qvec: Any) -> Any:
    import numpy as np

    if len(matrix) < SPLIT_SCAN_ROWS:
        return matrix @ qvec
    # Cut at a multiple of 64 rows, so that BLAS takes the rows in the same blocks as in one product.
    half = len(matrix) // 128 * 64
    second = _embedding.submit(np.matmul, matrix[half:], qvec)
    first = matrix[:half] @ qvec
    return np.concatenate([first, second.result()])


def semantic_ids(session: Session, query: str, model: emb.Embedder, *, limit: int = CANDIDATES,
                 state: tuple[Any, ...] | None = None, vector: Any = None) -> list[int]:
    """Published articles by cosine similarity to the question (`vector`: the question's
    embedding when the caller has it already)."""
    import numpy as np

    ids, matrix = _matrix.get(session, model.name, state)
    if not ids or not normalize_query(query):
        return []
    qvec = _questions.get(model, normalize_query(query)) if vector is None else vector
    sims = _similarities(matrix, qvec)
    n = min(limit, len(ids))
    # The best n without sorting the rest, then those n by similarity (ties: the older article first).
    top = np.argpartition(-sims, n - 1)[:n]
    top = top[np.lexsort((top, -sims[top]))]
    return [ids[i] for i in top if sims[i] >= MIN_SIMILARITY]


def fuse(*rankings: Sequence[int], k: int = RRF_K, weights: Sequence[float] | None = None) -> list[int]:
    """Reciprocal rank fusion: each list adds weight/(k + rank) to an article's score."""
    scores: dict[int, float] = {}
    for n, ranking in enumerate(rankings):
        weight = weights[n] if weights is not None else 1.0
        for rank_, aid in enumerate(ranking, start=1):
            scores[aid] = scores.get(aid, 0.0) + weight / (k + rank_)
    return sorted(scores, key=lambda a: (-scores[a], a))


def _alike_words(session: Session, ids: Sequence[int]) -> dict[int, set[str]]:
    rows = session.exec(select(KbArticle.id, KbArticle.title, KbArticle.summary)
                        .where(col(KbArticle.id).in_(list(ids)))).all()
    return {int(i): set(terms(f"{t} {s}")) for i, t, s in rows if i is not None}


def spread_duplicates(session: Session, ids: Sequence[int], *, model: emb.Embedder | None = None,
                      top: int = TOP, window: int = 20) -> list[int]:
    """Keep near-identical articles from sharing the top three: a result too like one already
    placed there waits below it (it is not dropped). Alike means embeddings at least
    DUPLICATE_SIMILARITY apart by cosine, or, where an article has no embedding, at least
    DUPLICATE_WORD_OVERLAP of the title and summary words in common (Jaccard)."""
    head = list(ids[:window])
    if len(head) <= 1:
        return list(ids)
    vectors = _matrix.vectors_of(head) if model is not None else {}
    words = _alike_words(session, head) if len(vectors) < len(head) else {}

    def alike(a: int, b: int) -> bool:
        if a in vectors and b in vectors:
            return float(vectors[a] @ vectors[b]) >= DUPLICATE_SIMILARITY
        wa, wb = words.get(a, set()), words.get(b, set())
        return bool(wa and wb) and len(wa & wb) / len(wa | wb) >= DUPLICATE_WORD_OVERLAP

    placed: list[int] = []
    for aid in head:
        if len(placed) == top:
            break
        if not any(alike(aid, p) for p in placed):
            placed.append(aid)
    return placed + [i for i in ids if i not in placed]


# Searching in German or French: the translations' full-text ranking (the language's own index),
# fused with the English search's ranking over every article: its full-text index with the
# synonyms file (which maps common German and French words to the articles' English ones) and,
# with the model installed, the English articles' embeddings with the German/French question
# embedded as it is. all-MiniLM-L6-v2 is English-only, yet its sub-word vocabulary still carries
# some of a German or French question; bench/kb_languages_eval.py measures each part (design set
# and a second held-out set). Since the synonyms file has a German and French glossary for every
# article, the English ranking finds most articles too, and the translations' index at equal
# weight outvoted it: 0.3 was chosen on the design set (with 15 articles translated: 1.0 36/44,
# 0.5 41/44, 0.3 43/44, 0.1 42/44; with all 45: 42/44 at every weight, MRR best at 0.3).
INTL_TRANSLATED_WEIGHT = 0.3
INTL_ENGLISH_WEIGHT = 1.0
INTL_SEMANTIC = True


# Which language a question is written in, whatever the reader's own: a German or French customer
# often types in their language on a page shown in English (a shared or work computer, a browser
# set to English). The commonest function words of each language (ambiguous ones left out: "die",
# "was", "an", "in", "so", "a", "on", "me"), and letters only one of them uses.
_LANGUAGE_MARKER_TEXT = {
    "en": """the my i is are how what where when why which can could do does did to of and it
        for with you your have has not this that there be been get got from at by we our was were
        will would should""",
    "de": """ich du er sie es wir ihr mein meine meinen meiner meinem mir mich dein deine der
        das den dem des ein eine einen einem einer und oder aber ist sind bin hat habe haben nicht kein
        keine mit auf fur bei von vom zum zur wie wo wann warum bitte noch schon auch kann konnen muss
        wird werden wurde gibt euch euren eure ihre ihren sich seit nach uber wenn dass ob nur""",
    "fr": """je tu il elle nous vous ils elles mon ma mes ton ta tes le la les du des un une
        et est sont suis ai pas ne pour au aux ce cet cette qui que quoi quand comment pourquoi avec
        dans par peux peut puis veux faire votre vos notre nos mais deja encore quel quelle""",
}
_LANGUAGE_MARKERS = {lang: frozenset(text.split()) for lang, text in _LANGUAGE_MARKER_TEXT.items()}
_LANGUAGE_LETTERS = {"de": frozenset("äöüß"), "fr": frozenset("éèêëàâçîïôûùœ")}


def question_language(query: str) -> str:
    """"de" or "fr" when the question is clearly written in German or French, else "en": each
    language's function words counted (a letter only that language uses counts as one more), and
    German or French only when it outnumbers English."""
    raw = normalize_query(query).lower()
    words = words_of(raw)
    score = {lang: sum(w in markers for w in words) for lang, markers in _LANGUAGE_MARKERS.items()}
    for lang, letters in _LANGUAGE_LETTERS.items():
        score[lang] += any(ch in letters for ch in raw)
    best = max(("de", "fr"), key=lambda lang: score[lang])
    return best if score[best] > score["en"] else "en"


def rank(session: Session, query: str, *, embedder: emb.Embedder | bool | None = True,
         limit: int = 10, lang: str = "en", detect: bool = True) -> tuple[list[int], bool]:
    """Article ids best first, and whether semantic similarity took part. A question written in
    German or French is searched as a German or French reader's is, whatever `lang` says
    (`detect`; the English half of such a search does not ask again)."""
    model = semantic_embedder() if embedder is True else (embedder or None)
    if lang not in TRANSLATED and detect:
        lang = question_language(query)
    if lang in TRANSLATED:
        return _rank_translated(session, query, lang, model, limit)
    # Hybrid asks the articles' state (for the vectors) and shares it with the typo vocabulary.
    state = _state.current(session, model.name) if model is not None else None
    question = understand(session, query, state=state)
    # The question is embedded on another thread while the database runs the full-text query:
    # both release the interpreter lock, so on two cores a search takes the longer of the two.
    vector = _embedding.submit(_questions.get, model, normalize_query(question.semantic_text)) if model else None
    fts = fulltext_ids(session, question.text, words=question.words, state=state)
    if model is None or vector is None:
        return spread_duplicates(session, fts)[:limit], False
    fused = fuse(fts, semantic_ids(session, question.semantic_text, model, state=state, vector=vector.result()),
                 k=RRF_K, weights=(FULLTEXT_WEIGHT, SEMANTIC_WEIGHT))
    return spread_duplicates(session, fused, model=model)[:limit], True


def _rank_translated(session: Session, query: str, lang: str, model: emb.Embedder | None,
                     limit: int) -> tuple[list[int], bool]:
    """The translations' full-text ranking fused with the English search's own ranking (its
    full-text index, and the English embeddings when INTL_SEMANTIC and the model is installed)."""
    q = normalize_query(query)
    semantic = model is not None and INTL_SEMANTIC
    english, _ = rank(session, q, embedder=model if semantic else False, limit=CANDIDATES, lang="en", detect=False)
    fused = fuse(translated_fulltext_ids(session, q, lang), english, k=RRF_K,
                 weights=(INTL_TRANSLATED_WEIGHT, INTL_ENGLISH_WEIGHT))
    return spread_duplicates(session, fused, model=model if semantic else None)[:limit], semantic


def category_text(c: KbCategory, lang: str | None = None) -> tuple[str, str]:
    """A category's name and description in the reader's language where it has them, else in English."""
    mine = (c.translations or {}).get(reader_language(lang)) or {}
    return mine.get("name") or c.name, mine.get("description") or c.description


class _Titled(Protocol):
    slug: str
    title: str
    summary: str


def _card(a: _Titled, c: KbCategory, t: KbArticleTranslation | None) -> ArticleCard:
    category_name = category_text(c, t.lang if t is not None else None)[0]
    if t is not None:
        return ArticleCard(slug=a.slug, title=t.title, summary=t.summary, category_slug=c.slug,
                           category_name=category_name, lang=t.lang)
    return ArticleCard(slug=a.slug, title=a.title, summary=a.summary, category_slug=c.slug,
                       category_name=category_name)


def _cards(session: Session, ids: Sequence[int], lang: str | None = None) -> list[ArticleCard]:
    """Cards in the reader's language where a translation exists, else the English original's."""
    if not ids:
        return []
    # The card's columns only: an article's body and embedding are most of its row (PostgreSQL
    # reads them out of line, 2-3 ms for ten articles of the generated help center at 50,000).
    rows = session.execute(sa_select(col(KbArticle.id), col(KbArticle.slug), col(KbArticle.title),
                                     col(KbArticle.summary), KbCategory)
                           .join(KbCategory, col(KbCategory.id) == KbArticle.category_id)
                           .where(col(KbArticle.id).in_(list(ids)),
                                  col(KbArticle.status) == ArticleStatus.PUBLISHED)).all()
    translated = translations(session, list(ids), reader_language(lang))
    by_id = {int(r.id): _card(r, r.KbCategory, translated.get(int(r.id))) for r in rows}
    return [by_id[i] for i in ids if i in by_id]


def search(session: Session, *, principal: Principal | None, query: str, source: str = "help_center",
           limit: int = 10, embedder: emb.Embedder | bool | None = True,
           request: audit.RequestInfo = audit.NO_REQUEST, lang: str | None = None) -> SearchOutcome:
    """Search published articles and record what was asked (and whether anything was found).

    Searches typed into the help center count against a per-minute allowance, per person or, for
    strangers, per address (THROTTLED past it): each one is stored, and insights must show what
    people ask, not what a script sends."""
    q = normalize_query(query)
    lang = reader_language(lang)
    if not q:
        return SearchOutcome(query_id=None, hits=[], semantic=False, lang=lang)
    if source == "help_center":
        from portal.domain import throttle

        who = f"user:{principal.user_id}" if principal else throttle.address_key(request.ip_address)
        if who:
            throttle.require(session, f"rate:search:{who}", throttle.HELP_SEARCHES)
    limit = max(1, min(int(limit), 20))
    ids, semantic = rank(session, q, embedder=embedder, limit=limit, lang=lang)
    hits = _cards(session, ids, lang)
    row = SearchQuery(user_id=principal.user_id if principal else None, query=q,
                      normalized=" ".join(terms(q))[:500] or q.lower(), result_count=len(hits),
                      source=source if source in ("help_center", "ticket_form", "assistant") else "help_center")
    session.add(row)
    session.flush()
    return SearchOutcome(query_id=row.id, hits=hits, semantic=semantic, lang=lang)


def record_click(session: Session, *, principal: Principal | None, query_id: int, article_slug: str) -> None:
    """Note which result was opened. The query id comes from server-side state, never the client;
    it must also belong to the same person (or to nobody, for anonymous searches)."""
    row = session.get(SearchQuery, query_id)
    if row is None or row.user_id != (principal.user_id if principal else None) or row.clicked_article_id:
        return
    article = session.exec(select(KbArticle).where(KbArticle.slug == article_slug[:120],
                                                   KbArticle.status == ArticleStatus.PUBLISHED)).first()
    if article is not None:
        row.clicked_article_id = article.id
        session.add(row)


# ----- reading --------------------------------------------------------------------------------

def categories(session: Session, *, lang: str | None = None) -> list[CategoryCard]:
    """The help center's categories, named in the reader's language where translated."""
    counts = dict(session.exec(select(KbArticle.category_id, func.count())
                               .where(KbArticle.status == ArticleStatus.PUBLISHED)
                               .group_by(col(KbArticle.category_id))).all())
    rows = session.exec(select(KbCategory).order_by(col(KbCategory.position), col(KbCategory.name))).all()
    return [CategoryCard(slug=c.slug, name=name, description=description, article_count=int(counts.get(c.id or 0, 0)))
            for c in rows for name, description in (category_text(c, lang),)]


def category(session: Session, *, slug: str, lang: str | None = None) -> tuple[CategoryCard, list[ArticleCard]]:
    """A category's published articles, each in the reader's language where translated."""
    cat = session.exec(select(KbCategory).where(KbCategory.slug == str(slug)[:80])).first()
    if cat is None:
        raise NotFound("category")
    arts = session.exec(select(KbArticle).where(KbArticle.category_id == cat.id,
                                                KbArticle.status == ArticleStatus.PUBLISHED)
                        .order_by(col(KbArticle.position), col(KbArticle.title))).all()
    translated = translations(session, [a.id for a in arts if a.id is not None], reader_language(lang))
    cards = [_card(a, cat, translated.get(a.id or 0)) for a in arts]
    name, description = category_text(cat, lang)
    return CategoryCard(slug=cat.slug, name=name, description=description, article_count=len(cards)), cards


def _view(a: KbArticle, c: KbCategory, t: KbArticleTranslation | None = None, *, lang: str = "en") -> ArticleView:
    assert a.id is not None
    category_name = category_text(c, lang)[0]
    if t is not None:
        return ArticleView(id=a.id, slug=a.slug, title=t.title, summary=t.summary, body_md=t.body_md,
                           status=a.status, category_slug=c.slug, category_name=category_name,
                           updated_at=max(a.updated_at, t.updated_at), helpful_yes=a.helpful_yes,
                           helpful_no=a.helpful_no, lang=t.lang)
    return ArticleView(id=a.id, slug=a.slug, title=a.title, summary=a.summary, body_md=a.body_md, status=a.status,
                       category_slug=c.slug, category_name=category_name, updated_at=a.updated_at,
                       helpful_yes=a.helpful_yes, helpful_no=a.helpful_no, fallback=lang != "en")


def article(session: Session, *, principal: Principal | None, slug: str, lang: str | None = None) -> ArticleView:
    """A published article for anyone; drafts only for staff (preview). Otherwise NotFound.
    In the reader's language when it is translated into it, else the English original
    (`fallback` then says so)."""
    row = session.exec(select(KbArticle, KbCategory).join(KbCategory, col(KbCategory.id) == KbArticle.category_id)
                       .where(KbArticle.slug == str(slug)[:120])).first()
    if row is None:
        raise NotFound("article")
    a, c = row
    if a.status != ArticleStatus.PUBLISHED and not (principal and principal.is_staff):
        raise NotFound("article")
    lang = reader_language(lang)
    assert a.id is not None
    return _view(a, c, translations(session, [a.id], lang).get(a.id), lang=lang)


def related(session: Session, *, article_id: int, limit: int = 3, lang: str | None = None) -> list[ArticleCard]:
    """Nearest published articles by embedding; without embeddings, neighbours in the same category."""
    import_ok = True
    try:
        import numpy as np
    except ImportError:
        import_ok = False
    a = session.get(KbArticle, article_id)
    if a is None:
        return []
    if import_ok and a.embedding and a.embedding_model:
        ids, matrix = _matrix.get(session, a.embedding_model)
        if ids:
            sims = matrix @ emb.from_bytes(a.embedding)
            order = [ids[i] for i in np.argsort(-sims) if ids[i] != article_id]
            return _cards(session, order[:limit], lang)
    rows = session.exec(select(KbArticle.id).where(KbArticle.category_id == a.category_id,
                                                   KbArticle.id != article_id,
                                                   KbArticle.status == ArticleStatus.PUBLISHED)
                        .order_by(col(KbArticle.position), col(KbArticle.id)).limit(limit)).all()
    return _cards(session, [int(i) for i in rows if i is not None], lang)


# ----- feedback -------------------------------------------------------------------------------

def voter_key(*, principal: Principal | None, visitor: str) -> str:
    """Signed-in people vote once per account, anonymous visitors once per browser tab session."""
    basis = f"user:{principal.user_id}" if principal else f"visitor:{visitor}"
    return hashlib.sha256(f"{get_settings().portal_secret_key}|{basis}".encode()).hexdigest()


def vote(session: Session, *, principal: Principal | None, visitor: str, slug: str, helpful: bool,
         comment: str = "") -> bool:
    """Count a "was this helpful?" answer; False when this visitor already voted on the article."""
    if not principal and not visitor:
        raise Invalid("no visitor", field="visitor")
    a = session.exec(select(KbArticle).where(KbArticle.slug == str(slug)[:120],
                                             KbArticle.status == ArticleStatus.PUBLISHED)).first()
    if a is None:
        raise NotFound("article")
    key = voter_key(principal=principal, visitor=visitor)
    if session.exec(select(KbFeedback.id).where(KbFeedback.article_id == a.id, KbFeedback.voter == key)).first():
        return False
    assert a.id is not None
    session.add(KbFeedback(article_id=a.id, user_id=principal.user_id if principal else None, helpful=bool(helpful),
                           voter=key, comment=str(comment or "")[:1000]))
    counter = KbArticle.helpful_yes if helpful else KbArticle.helpful_no
    session.execute(update(KbArticle).where(col(KbArticle.id) == a.id).values({counter: counter + 1}))
    session.flush()
    return True


# ----- editing (staff) ------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True, slots=True)
class ArticleDraft:
    title: str
    summary: str
    body_md: str
    category_slug: str
    slug: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class StaffArticleRow:
    id: int
    slug: str
    title: str
    status: str
    category_name: str
    updated_at: datetime


def slugify(title: str) -> str:
    return "-".join(re.findall(r"[a-z0-9]+", title.lower()))[:120].strip("-")


def _article_texts(draft: ArticleDraft) -> tuple[str, str, str]:
    """The title, summary and body of an article or of a translation, tidied and within the limits."""
    title = " ".join(str(draft.title or "").split())
    summary = " ".join(str(draft.summary or "").split())
    body = str(draft.body_md or "").replace("\r\n", "\n")
    if not title or len(title) > 200:
        raise Invalid(tr("Give the article a title of at most 200 characters."), field="title")
    if len(summary) > 400:
        raise Invalid(tr("Keep the summary under 400 characters."), field="summary")
    if len(body) > 100_000:
        raise Invalid(tr("The article is too long (100,000 characters at most)."), field="body_md")
    return title, summary, body


def _validated(session: Session, draft: ArticleDraft) -> tuple[str, str, str, str, KbCategory]:
    title, summary, body = _article_texts(draft)
    slug = str(draft.slug or "").strip().lower() or slugify(title)
    if not SLUG_RE.match(slug) or len(slug) > 120:
        raise Invalid(tr("The address may use lowercase letters, digits and dashes."), field="slug")
    cat = session.exec(select(KbCategory).where(KbCategory.slug == str(draft.category_slug)[:80])).first()
    if cat is None:
        raise Invalid(tr("Choose a category."), field="category")
    return title, summary, body, slug, cat


def staff_articles(session: Session, *, principal: Principal) -> list[StaffArticleRow]:
    require_staff(principal)
    rows = session.exec(select(KbArticle, KbCategory).join(KbCategory, col(KbCategory.id) == KbArticle.category_id)
                        .order_by(col(KbCategory.position), col(KbArticle.position), col(KbArticle.title))).all()
    return [StaffArticleRow(id=a.id or 0, slug=a.slug, title=a.title, status=a.status, category_name=c.name,
                            updated_at=a.updated_at) for a, c in rows]


def staff_article(session: Session, *, principal: Principal, article_id: int) -> ArticleView:
    require_staff(principal)
    a = session.get(KbArticle, article_id)
    if a is None:
        raise NotFound("article")
    c = session.get(KbCategory, a.category_id)
    assert c is not None
    return _view(a, c)


def create_article(session: Session, *, principal: Principal, draft: ArticleDraft) -> KbArticle:
    p = require_staff(principal)
    title, summary, body, slug, cat = _validated(session, draft)
    if session.exec(select(KbArticle.id).where(KbArticle.slug == slug)).first():
        raise Invalid(tr("Another article already uses that address."), field="slug")
    now = utcnow()
    assert cat.id is not None
    a = KbArticle(slug=slug, title=title, summary=summary, body_md=body, category_id=cat.id,
                  status=ArticleStatus.DRAFT, author_user_id=p.user_id, created_at=now, updated_at=now)
    session.add(a)
    session.flush()
    index_article(session, a)
    audit.record(session, action="kb.article_created", principal=p, target_type="kb_article", target_id=a.id or "",
                 slug=slug)
    return a


def update_article(session: Session, *, principal: Principal, article_id: int, draft: ArticleDraft) -> KbArticle:
    p = require_staff(principal)
    a = session.get(KbArticle, article_id)
    if a is None:
        raise NotFound("article")
    title, summary, body, slug, cat = _validated(session, draft)
    if slug != a.slug and session.exec(select(KbArticle.id).where(KbArticle.slug == slug)).first():
        raise Invalid(tr("Another article already uses that address."), field="slug")
    assert cat.id is not None
    a.title, a.summary, a.body_md, a.slug, a.category_id = title, summary, body, slug, cat.id
    a.updated_at = utcnow()
    session.add(a)
    session.flush()
    index_article(session, a)
    audit.record(session, action="kb.article_updated", principal=p, target_type="kb_article", target_id=article_id)
    return a


def set_published(session: Session, *, principal: Principal, article_id: int, published: bool) -> KbArticle:
    p = require_staff(principal)
    a = session.get(KbArticle, article_id)
    if a is None:
        raise NotFound("article")
    a.status = ArticleStatus.PUBLISHED if published else ArticleStatus.DRAFT
    if published and a.published_at is None:
        a.published_at = utcnow()
    a.updated_at = utcnow()
    session.add(a)
    session.flush()
    index_article(session, a, embedder=a.embedding is None)
    audit.record(session, action="kb.article_published" if published else "kb.article_unpublished", principal=p,
                 target_type="kb_article", target_id=article_id)
    return a


def category_choices(session: Session) -> list[tuple[str, str]]:
    return [(c.slug, c.name) for c in session.exec(select(KbCategory).order_by(col(KbCategory.position))).all()]


# ----- translations (staff) -------------------------------------------------------------------

def save_translation(session: Session, *, principal: Principal, article_id: int, lang: str,
                     draft: ArticleDraft) -> KbArticleTranslation:
    """Write (or replace) an article's translation into German or French. It follows the English
    article's status, slug and category; the same length rules apply as to the original."""
    p = require_staff(principal)
    if lang not in TRANSLATED:
        raise Invalid(tr("Articles can be translated into German and French."), field="lang")
    a = session.get(KbArticle, article_id)
    if a is None or a.id is None:
        raise NotFound("article")
    title, summary, body = _article_texts(draft)
    now = utcnow()
    row = translations(session, [a.id], lang).get(a.id)
    if row is None:
        row = KbArticleTranslation(article_id=a.id, lang=lang, title=title, summary=summary, body_md=body,
                                   created_at=now, updated_at=now)
    else:
        row.title, row.summary, row.body_md, row.updated_at = title, summary, body, now
    session.add(row)
    session.flush()
    index_translation(session, row)
    audit.record(session, action="kb.translation_saved", principal=p, target_type="kb_article", target_id=a.id,
                 lang=lang)
    return row


def delete_translation(session: Session, *, principal: Principal, article_id: int, lang: str) -> bool:
    """Remove a translation (readers of that language then get the English original); False when
    there was none."""
    p = require_staff(principal)
    row = translations(session, [article_id], lang).get(article_id)
    if row is None or row.id is None:
        return False
    if _sqlite_fts(session):
        session.execute(text(f"DELETE FROM {INTL_FTS_TABLE} WHERE rowid = :id"), {"id": row.id})  # noqa: S608
    session.delete(row)
    session.flush()
    _state.changed()
    audit.record(session, action="kb.translation_deleted", principal=p, target_type="kb_article",
                 target_id=article_id, lang=lang)
    return True


def translation_languages(session: Session, *, article_id: int) -> list[str]:
    """The languages an article is translated into (for the editor's list)."""
    rows = session.exec(select(KbArticleTranslation.lang).where(KbArticleTranslation.article_id == article_id)
                        .order_by(col(KbArticleTranslation.lang))).all()
    return list(rows)
