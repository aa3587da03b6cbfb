"""Content gaps: the questions the help center has no good answer for, for the admin's insights.

Three signals in a date range:
- searches that found nothing (help center, ticket form suggestions, assistant);
- searches followed by a ticket on the same topic: a signed-in customer searched, and within a day
  their account opened a ticket whose subject or first message is about what they searched;
- articles voted unhelpful, with the readers' comments.

Questions are grouped so that fifty phrasings of one question make one row with a count: with the
sentence embedder, by cosine similarity to a group's centroid; always (and alone when the
embedder is off: KB_SEMANTIC=false, or installed with SEMANTIC_MODEL=0) by overlap of their
meaningful words, typos tolerated.

The work is bounded: the newest MAX_SEARCHES searches of the range are read (the report says
when it stopped there), at most MAX_EMBEDDED distinct questions are embedded (in one batch,
each text's vector kept for the next load).
"""

from __future__ import annotations

import dataclasses
import functools
import re
import secrets
import threading
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from portal.concurrency import heavy
from portal.db import utcnow
from portal.domain import kb
from portal.domain.errors import Invalid, NotFound
from portal.domain.insights import Range
from portal.domain.principal import Principal, require_admin, require_staff
from portal.integrations import embeddings as emb
from portal.models import KbArticle, KbFeedback, KbGapBrief, SearchQuery, Ticket, TicketMessage, User

MAX_SEARCHES = 5000  # the newest searches of the range that are read
MAX_TICKETS = 5000
MAX_EMBEDDED = 150  # distinct questions embedded per report (the most asked first; ~30 ms each)
MAX_TICKET_PAIRS = 100  # (search, ticket) pairs the words did not decide, embedded per report
MAX_ROWS = 30
EXAMPLES = 12  # phrasings shown per row, the most asked (a brief takes up to MAX_BRIEF_QUESTIONS)
MAX_COMMENTS = 10
FOLLOW_UP = timedelta(hours=24)
# Cosine similarity (MiniLM, unit vectors) to a group's centroid that joins a question to the
# group. Measured on the help center's own kind of questions: phrasings of one question score
# 0.31-0.9 against each other (typos lowest: "promo cod not wrking"), while different questions
# reach 0.60 ("cancel my order" / "where is my order"); so the embedding alone joins only above
# that, and the word overlap below (typo-tolerant) catches the paraphrases it scores low.
SEMANTIC_SAME = 0.66
# Shared meaningful words (typos and prefixes tolerated: "promo" ~ "promotion", "wrking" ~
# "working") over all the words of both, with the closest question already in a group.
WORDS_SAME = 0.5
# A ticket is about a search when half the search's words appear in its subject or first message
# (typos tolerated), or, with the embedder, when their cosine similarity reaches this (a short
# question against a longer text scores lower than two questions: 0.63 for a promo-code question
# and a ticket about a refused discount code, below 0.3 for unrelated ones).
TICKET_WORDS = 0.5
TICKET_SEMANTIC = 0.5
COMPARED_PER_WORD = 40  # earlier questions compared, per word of a question (bounded work) ...
COMPARED = 120  # ... and in all
LEADERS_PER_LETTER = 300  # words a new word may be a variant of, per first letter (the most used)
BRIEF_TTL = timedelta(days=1)
MAX_BRIEF_QUESTIONS = 50
_BRIEF_ID = re.compile(r"^[A-Za-z0-9_-]{16,32}$")

NO_RESULT, TICKET_AFTER, UNHELPFUL = "no_result", "ticket_after", "unhelpful"


@dataclasses.dataclass(frozen=True, slots=True)
class GapRow:
    key: str  # "q<n>" for a group of questions, "a<id>" for an article voted unhelpful
    question: str  # the phrasing asked most (or the article's title)
    count: int  # searches (or unhelpful votes)
    people: int  # distinct people (signed-in accounts; anonymous searches count once each)
    no_result: int
    ticket_after: int
    unhelpful: int
    phrasings: list[str]  # the group's phrasings, most asked first (all of them)
    comments: list[str]  # readers' comments on an unhelpful article, newest first
    last: datetime
    article_id: int | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class GapReport:
    rows: list[GapRow]
    scanned: int  # searches read
    capped: bool  # the range held more than MAX_SEARCHES searches: only the newest were read
    semantic: bool  # grouped with the embedder too


@dataclasses.dataclass(slots=True)
class _Search:
    id: int
    text: str
    user_id: int | None
    customer_id: int | None
    results: int
    at: datetime
    kinds: set[str] = dataclasses.field(default_factory=set)


# ----- words ----------------------------------------------------------------------------------

def _words(text: str) -> set[str]:
    return {w for w in kb.words_of(text) if len(w) >= 2 and w not in kb.STOPWORDS}


def _typos(a: str, b: str, limit: int) -> bool:
    """Whether a and b are at most `limit` typing slips apart (a letter missing, extra, wrong, or two
    swapped: optimal string alignment distance)."""
    if abs(len(a) - len(b)) > limit:
        return False
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
        if min(prev) > limit:
            return False
    return prev[-1] <= limit


@functools.lru_cache(maxsize=100_000)
def _alike(a: str, b: str) -> bool:
    """Two words for one thing: equal, one the start of the other ("promo", "promotion"; "cod",
    "code"), or a typing slip apart ("wrking", "working"; "cdoe", "code"; two slips from 7 letters)."""
    if a == b:
        return True
    if a[0] != b[0] or min(len(a), len(b)) < 3 or not (a.isalpha() and b.isalpha()):  # numbers: exact only
        return False
    if a.startswith(b) or b.startswith(a):
        return True
    if min(len(a), len(b)) < 4 or len(set(a) ^ set(b)) > 4:  # letters apart: no slip makes one the other
        return False
    return _typos(a, b, 2 if min(len(a), len(b)) >= 7 else 1)


def _matched(a: set[str], b: set[str]) -> int:
    """How many of a's words have a partner in b."""
    return sum(1 for w in a if w in b or any(_alike(w, x) for x in b))


def canonical_words(words: Sequence[set[str]]) -> dict[str, str]:
    """Each word to the word standing for it and its variants ("promotion", "promocode", "promoo"
    -> "promo"): the most used of them, checked once per distinct word (not per pair of questions)."""
    used = Counter(w for ws in words for w in ws)
    canon: dict[str, str] = {}
    leaders: dict[str, list[str]] = defaultdict(list)  # by first letter
    for w in sorted(used, key=lambda w: (-used[w], w)):
        canon[w] = next((c for c in leaders[w[0]] if _alike(w, c)), w)
        if canon[w] == w and len(leaders[w[0]]) < LEADERS_PER_LETTER:
            leaders[w[0]].append(w)
    return canon


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def _about(search_words: set[str], ticket_words: set[str]) -> bool:
    return bool(search_words) and _matched(search_words, ticket_words) / len(search_words) >= TICKET_WORDS


# ----- embeddings -----------------------------------------------------------------------------

_cache: OrderedDict[tuple[str, str], Any] = OrderedDict()
_cache_lock = threading.Lock()
_CACHE_MAX = 20_000


def _vectors(model: emb.Embedder, texts: Sequence[str]) -> list[Any]:
    """Unit vectors of these texts: those seen before from the cache, the others in one batch."""
    with _cache_lock:
        known = {t: _cache[(model.name, t)] for t in texts if (model.name, t) in _cache}
    todo = [t for t in dict.fromkeys(texts) if t not in known]
    if todo:
        with heavy():
            fresh = model.encode(todo)
        with _cache_lock:
            for t, v in zip(todo, fresh, strict=True):
                known[t] = v
                _cache[(model.name, t)] = v
            while len(_cache) > _CACHE_MAX:
                _cache.popitem(last=False)
    return [known[t] for t in texts]


# ----- grouping -------------------------------------------------------------------------------

def group_questions(texts: Sequence[str], model: emb.Embedder | None = None) -> list[list[int]]:
    """Indexes of `texts` (most asked first) in groups of one question, each group in the order
    given. Greedy: each text joins the closest group it is similar enough to, or starts one."""
    import numpy as np

    raw = [_words(t) for t in texts]
    canon = canonical_words(raw)
    words = [{canon[w] for w in ws} for ws in raw]
    embedded = min(len(texts), MAX_EMBEDDED) if model is not None else 0
    vecs = np.asarray(_vectors(model, list(texts[:embedded]))) if model is not None and embedded else None
    groups: list[list[int]] = []
    group_of: list[int] = []
    sums: list[Any] = []  # per group: sum of its members' vectors (the centroid's direction)
    by_word: dict[str, list[int]] = defaultdict(list)  # a (canonical) word -> earlier questions with it
    for i in range(len(texts)):
        best, best_score = -1, 0.0
        if vecs is not None and i < embedded and sums:
            centroids = np.asarray(sums)
            norms = np.linalg.norm(centroids, axis=1)
            sims = (centroids @ vecs[i]) / np.where(norms > 0, norms, 1.0)
            j = int(np.argmax(sims))
            if sims[j] >= SEMANTIC_SAME:
                best, best_score = j, 1.0 + float(sims[j])  # above any word score
        if best < 0:
            # The closest earlier question sharing a word (its variants and typos count as it): its group.
            for m in sorted({m for w in words[i] for m in by_word[w]})[:COMPARED]:
                score = jaccard(words[i], words[m])
                if score >= WORDS_SAME and score > best_score:
                    best, best_score = group_of[m], score
        if best < 0:
            groups.append([i])
            sums.append(vecs[i].copy() if vecs is not None and i < embedded else np.zeros(emb.DIM, np.float32))
            best = len(groups) - 1
        else:
            groups[best].append(i)
            if vecs is not None and i < embedded:
                sums[best] = sums[best] + vecs[i]
        group_of.append(best)
        for w in words[i]:
            if len(by_word[w]) < COMPARED_PER_WORD:
                by_word[w].append(i)
    return groups


# ----- the report -----------------------------------------------------------------------------

def _key(text: str) -> str:
    """One phrasing however it was typed: folded, punctuation gone."""
    return " ".join(kb.words_of(text)) or kb.fold(text)


def _searches(session: Session, rng: Range) -> tuple[list[_Search], bool]:
    rows = session.execute(
        sa_select(col(SearchQuery.id), col(SearchQuery.query), col(SearchQuery.user_id),
                  col(SearchQuery.result_count), col(SearchQuery.created_at), col(User.customer_id))
        .join(User, col(User.id) == col(SearchQuery.user_id), isouter=True)
        .where(col(SearchQuery.created_at) >= rng.start, col(SearchQuery.created_at) < rng.end)
        .order_by(col(SearchQuery.created_at).desc(), col(SearchQuery.id).desc()).limit(MAX_SEARCHES + 1)).all()
    out = [_Search(id=int(i or 0), text=kb.normalize_query(q), user_id=u, customer_id=c, results=int(n), at=at)
           for i, q, u, n, at, c in rows[:MAX_SEARCHES]]
    return out, len(rows) > MAX_SEARCHES


def _ticket_texts(session: Session, customers: set[int], rng: Range) -> dict[int, list[tuple[datetime, str]]]:
    """Per customer: their tickets opened in the range (and a day after), as subject and first message."""
    if not customers:
        return {}
    tickets = session.exec(
        select(Ticket.id, Ticket.customer_id, Ticket.created_at, Ticket.subject)
        .where(col(Ticket.customer_id).in_(sorted(customers)), col(Ticket.created_at) >= rng.start,
               col(Ticket.created_at) < rng.end + FOLLOW_UP)
        .order_by(col(Ticket.created_at).desc()).limit(MAX_TICKETS)).all()
    first: dict[int, str] = {}
    ids = [int(t[0] or 0) for t in tickets]
    for tid, body in session.exec(select(TicketMessage.ticket_id, TicketMessage.body)
                                  .where(col(TicketMessage.ticket_id).in_(ids), TicketMessage.author_kind == "customer")
                                  .order_by(col(TicketMessage.ticket_id), col(TicketMessage.created_at),
                                            col(TicketMessage.id))).all() if ids else []:
        first.setdefault(int(tid), str(body)[:1000])
    out: dict[int, list[tuple[datetime, str]]] = defaultdict(list)
    for ticket_id, cid, at, subject in tickets:
        out[int(cid)].append((at, f"{subject}. {first.get(int(ticket_id or 0), '')}"))
    return out


def _mark_ticket_after(searches: list[_Search], tickets: dict[int, list[tuple[datetime, str]]],
                       model: emb.Embedder | None) -> None:
    pairs: list[tuple[_Search, str]] = []
    for s in searches:
        for at, text in tickets.get(s.customer_id or -1, ()):
            if s.at <= at < s.at + FOLLOW_UP:
                pairs.append((s, text))
    if not pairs:
        return
    ticket_words = {text: _words(text) for _, text in pairs}
    undecided = []
    for s, text in pairs:
        if _about(_words(s.text), ticket_words[text]):
            s.kinds.add(TICKET_AFTER)
        elif model is not None:
            undecided.append((s, text))
    undecided = [(s, t) for s, t in undecided if TICKET_AFTER not in s.kinds][:MAX_TICKET_PAIRS]
    if undecided and model is not None:  # (only the model leaves pairs undecided)
        texts = list(dict.fromkeys([s.text for s, _ in undecided] + [t[:300] for _, t in undecided]))
        vec = dict(zip(texts, _vectors(model, texts), strict=True))
        for s, t in undecided:
            if float(vec[s.text] @ vec[t[:300]]) >= TICKET_SEMANTIC:
                s.kinds.add(TICKET_AFTER)


def _unhelpful_rows(session: Session, rng: Range) -> list[GapRow]:
    votes = session.execute(
        sa_select(col(KbFeedback.article_id), col(KbFeedback.comment), col(KbFeedback.created_at),
                  col(KbFeedback.voter), col(KbArticle.title))
        .join(KbArticle, col(KbArticle.id) == col(KbFeedback.article_id))
        .where(col(KbFeedback.helpful).is_(False), col(KbFeedback.created_at) >= rng.start,
               col(KbFeedback.created_at) < rng.end)
        .order_by(col(KbFeedback.created_at).desc()).limit(MAX_SEARCHES)).all()
    per: dict[int, list[Any]] = defaultdict(list)
    for row in votes:
        per[int(row[0])].append(row)
    out = []
    for aid, rows in per.items():
        comments = [kb.normalize_query(c) if len(c) <= 200 else c.strip()[:1000] for _, c, _, _, _ in rows
                    if c and c.strip()]
        out.append(GapRow(key=f"a{aid}", question=str(rows[0][4]), count=len(rows), people=len({r[3] for r in rows}),
                          no_result=0, ticket_after=0, unhelpful=len(rows), phrasings=[],
                          comments=comments[:MAX_COMMENTS], last=max(r[2] for r in rows), article_id=aid))
    return out


def content_gaps(session: Session, *, principal: Principal, rng: Range,
                 embedder: emb.Embedder | bool | None = True, limit: int = MAX_ROWS) -> GapReport:
    """The questions without a good answer in the range, most asked first."""
    require_admin(principal)
    model = kb.semantic_embedder() if embedder is True else (embedder or None)
    searches, capped = _searches(session, rng)
    for s in searches:
        if s.results == 0:
            s.kinds.add(NO_RESULT)
    signed_in = [s for s in searches if s.customer_id is not None]
    _mark_ticket_after(signed_in, _ticket_texts(session, {s.customer_id for s in signed_in if s.customer_id}, rng),
                       model)
    gaps = [s for s in searches if s.kinds and s.text]
    # Distinct phrasings, most asked first; the words as the most common typing of each.
    by_key: dict[str, list[_Search]] = defaultdict(list)
    for s in gaps:
        by_key[_key(s.text)].append(s)
    keys = sorted(by_key, key=lambda k: (-len(by_key[k]), k))
    rows: list[GapRow] = []
    for n, members in enumerate(group_questions(keys, model)):
        asked = [s for m in members for s in by_key[keys[m]]]
        shown = [Counter(s.text for s in by_key[keys[m]]).most_common(1)[0][0] for m in members]
        people = len({s.user_id for s in asked if s.user_id is not None}) + sum(1 for s in asked if s.user_id is None)
        rows.append(GapRow(key=f"q{n}", question=shown[0], count=len(asked), people=people,
                           no_result=sum(1 for s in asked if NO_RESULT in s.kinds),
                           ticket_after=sum(1 for s in asked if TICKET_AFTER in s.kinds), unhelpful=0,
                           phrasings=shown, comments=[], last=max(s.at for s in asked)))
    rows += _unhelpful_rows(session, rng)
    rows.sort(key=lambda r: (-r.count, -r.last.timestamp(), r.question))
    return GapReport(rows=rows[:max(1, min(limit, 200))], scanned=len(searches), capped=capped,
                     semantic=model is not None)


# ----- briefs for the editor ------------------------------------------------------------------

@dataclasses.dataclass(frozen=True, slots=True)
class Brief:
    id: str
    title: str
    questions: list[str]
    article_id: int | None


def create_brief(session: Session, *, principal: Principal, title: str, questions: Sequence[str],
                 article_id: int | None = None) -> str:
    """Keep the questions an article should answer for the editor; the answer is the brief's key."""
    p = require_admin(principal)
    if not isinstance(title, str) or not isinstance(questions, (list, tuple)):
        raise Invalid(field="brief")
    kept = [kb.normalize_query(q)[:500] for q in questions if isinstance(q, str) and q.strip()][:MAX_BRIEF_QUESTIONS]
    if not kept and article_id is None:
        raise Invalid(field="brief")
    if article_id is not None and session.get(KbArticle, article_id) is None:
        raise NotFound("article")
    now = utcnow()
    for old in session.exec(select(KbGapBrief).where(col(KbGapBrief.created_at) < now - BRIEF_TTL).limit(100)).all():
        session.delete(old)
    key = secrets.token_urlsafe(18)[:24]
    session.add(KbGapBrief(id=key, owner_user_id=p.user_id, title=kb.normalize_query(title)[:200],
                           article_id=article_id, questions=kept, created_at=now))
    session.flush()
    return key


def brief(session: Session, *, principal: Principal, brief_id: object) -> Brief | None:
    """The brief with this key, for the staff member who made it, while it is fresh; else None."""
    p = require_staff(principal)
    if not isinstance(brief_id, str) or not _BRIEF_ID.match(brief_id):
        return None
    row = session.get(KbGapBrief, brief_id)
    if row is None or row.owner_user_id != p.user_id or row.created_at < utcnow() - BRIEF_TTL:
        return None
    return Brief(id=row.id, title=row.title, questions=[str(q) for q in row.questions][:MAX_BRIEF_QUESTIONS],
                 article_id=row.article_id)
