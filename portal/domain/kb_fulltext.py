"""Full-text ranking from each word's kept scores: the database's own ranking, without making it
score every matching article again on every search.

The question's words are ORed. Both databases' rankings of an OR are a sum over its words:
- SQLite's FTS5 `bm25()` adds, for each phrase of the query in turn, that phrase's idf times its
  term-frequency part in the row. A one-word query's bm25 is exactly that word's share, so the sum
  of the words' one-word scores, added in the query's order, is bit for bit the OR's score.
- PostgreSQL's `ts_rank()` has no idf: it scores one document alone, so a word most articles have
  ("order") would count as much as the word that names the topic. The portal's PostgreSQL ranking
  is each distinct lexeme's one-lexeme `ts_rank()` weighted by its bm25 idf among the published
  articles (`pg_idf`), summed: PG_IDF_RANKING_SQL in one statement, and here from the kept ranks
  (in float4, as ts_rank returns them, so articles whose scores are a float4's last bits apart
  may come in another order than the statement's).

So each word's scores in every published article that has it are asked once (SQLite: one query
per word; PostgreSQL: one query for all of a search's words not kept yet, which reads each matching
document once), kept per worker for the published articles' current state, and a search adds the kept
arrays up (NumPy, a few milliseconds at 50,000 articles) instead of asking the database to match
and score most of the help center (`bench/README.md`, "one query per word"). When the articles
change (here or on another worker, seen through `kb._state`), SQLite's kept scores are dropped: every
idf moved. PostgreSQL's ts_rank (normalization 0) is a function of one document and the query alone,
so there only the changed articles' ranks moved: the kept ranks of the articles that were removed,
unpublished or edited are taken out, and the edited and new ones' ranks for every kept lexeme are
asked in one query over just those articles (up to PG_CARRY_MAX_CHANGED of them; past that, all are
asked again). Order: best score first, ties by article id.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import text
from sqlmodel import Session

# Bytes a kept (article, score) pair takes: an int32 id and a float64 (bm25) or float32 (ts_rank).
PAIR_BYTES = 12
# On PostgreSQL, when the published articles change, the kept ranks are carried over to the new state
# by asking again for the changed articles alone, up to this many of them (an import of thousands of
# articles asks every word again instead).
PG_CARRY_MAX_CHANGED = 2_000
# Lexemes ranked per query when carrying the kept ranks over (one rank column each).
PG_CARRY_LEXEMES_PER_QUERY = 200


def driver_rows(session: Session, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
    """A query's rows as the DB-API cursor's plain tuples: for tens of thousands of rows, without a
    result Row made for each (whose many objects also set off the garbage collector's full passes)."""
    connection = session.connection()
    result = connection.exec_driver_sql(sql, params) if params else connection.exec_driver_sql(sql)
    try:
        return list(result.cursor.fetchall())
    finally:
        result.close()


class WordScores:
    """Each word's (article ids, scores), at most `max_entries` pairs kept (least recently used
    words dropped first)."""

    def __init__(self, *, sqlite_word: str, pg_lexeme: str, pg_words: str, pg_ids: str, pg_rank: str,
                 max_entries: int) -> None:
        self.sqlite_word = sqlite_word  # :q -> rowid, bm25 (lower is better)
        self.pg_lexeme = pg_lexeme  # :ws (words) -> each word, its tsquery as text ('' when a stop word)
        # {ranks} -> id, then one rank per lexeme (pg_rank with {param}); :any, the lexemes ORed
        self.pg_words = pg_words
        # {ranks} as pg_words, of the published articles among :ids
        self.pg_ids = pg_ids
        self.pg_rank = pg_rank
        self.max_entries = max_entries
        self.key: tuple[Any, ...] | None = None
        self.words: OrderedDict[str, tuple[Any, Any]] = OrderedDict()
        self.lexemes: dict[str, str | None] = {}
        self.entries = 0
        # PostgreSQL: each published article's stamp in the state `key` is of (kb._published_stamps)
        self.stamps: dict[int, Any] | None = None
        self.lock = threading.Lock()
        self.carrying = threading.Lock()  # one carry-over at a time; searches wait for it

    def clear(self) -> None:
        with self.lock:
            self.key, self.words, self.lexemes, self.entries, self.stamps = None, OrderedDict(), {}, 0, None

    def memory(self) -> int:
        """Bytes held by the kept arrays."""
        with self.lock:
            return sum(ids.nbytes + scores.nbytes for ids, scores in self.words.values())

    def _kept(self, key: tuple[Any, ...], word: str) -> tuple[Any, Any] | None:
        with self.lock:
            if key != self.key:  # (not carried over: the stamps no longer describe what is kept)
                self.key, self.words, self.entries, self.stamps = key, OrderedDict(), 0, None
            hit = self.words.get(word)
            if hit is not None:
                self.words.move_to_end(word)
            return hit

    def _keep(self, key: tuple[Any, ...], word: str, value: tuple[Any, Any]) -> None:
        with self.lock:
            if key != self.key or word in self.words:
                return
            self.words[word] = value
            self.entries += len(value[0])
            while self.entries > self.max_entries and self.words:
                _, (ids, _scores) = self.words.popitem(last=False)
                self.entries -= len(ids)

    def _sqlite_scores(self, session: Session, key: tuple[Any, ...], word: str) -> tuple[Any, Any]:
        import numpy as np

        hit = self._kept(key, word)
        if hit is not None:
            return hit
        # At 50,000 articles a common word is 32-53 ms this way, against 36-144 ms through Rows.
        rows = driver_rows(session, self.sqlite_word, {"q": word})
        table = np.array(rows, dtype=np.float64).reshape(len(rows), 2)
        ids = table[:, 0].astype(np.int32)
        scores = table[:, 1]
        order = np.argsort(ids, kind="stable")  # by id: the search sizes its arrays by the last
        value = (ids[order], scores[order])
        self._keep(key, word, value)
        return value

    def sqlite_ranked(self, session: Session, words: Sequence[str], key: tuple[Any, ...], limit: int) -> list[int]:
        """FTS5's `ORDER BY bm25(...)` of `"w1" OR "w2" OR ...`, best `limit` ids."""
        parts = [self._sqlite_scores(session, key, f'"{w}"') for w in words]
        # Added in the query's order, as FTS5 adds its phrases: the same float64 sums.
        return _best(parts, limit, lower_is_better=True)

    def _pg_fetch(self, session: Session, key: tuple[Any, ...], lexemes: Sequence[str]) -> dict[str, tuple[Any, Any]]:
        """The lexemes' one-lexeme ranks in one query: each matching document is read once, and
        ranked once per lexeme (a lexeme a document lacks ranks 0; one it has ranks above 0)."""
        found = self._pg_ranks(session, self.pg_words, lexemes, {"any": " | ".join(lexemes)})
        for lx, value in found.items():
            self._keep(key, lx, value)
        return found

    def _pg_ranks(self, session: Session, template: str, lexemes: Sequence[str],
                  params: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
        """Each lexeme's ranks above 0, by article id, from `template` (pg_words or pg_ids) with one
        rank column per lexeme."""
        import numpy as np

        params = {**params, **{f"q{n}": lx for n, lx in enumerate(lexemes)}}
        ranks = ", ".join(self.pg_rank.format(param=f"q{n}") for n in range(len(lexemes)))
        rows = session.execute(text(template.format(ranks=ranks)), params).all()
        ids = np.fromiter((int(r[0]) for r in rows), dtype=np.int32, count=len(rows))
        table = np.array([r[1:] for r in rows], dtype=np.float32).reshape(len(rows), len(lexemes))
        order = np.argsort(ids, kind="stable")
        ids, table = ids[order], table[order]
        found: dict[str, tuple[Any, Any]] = {}
        for n, lx in enumerate(lexemes):
            has = table[:, n] > 0
            found[lx] = (ids[has], np.ascontiguousarray(table[has, n]))
        return found

    def pg_lexemes_of(self, session: Session, words: Sequence[str]) -> dict[str, str | None]:
        """Each word's one-lexeme tsquery text (`'deliveri'`); '' for a stop word; None when the
        parser makes more than one lexeme of it. Words not seen before are parsed in one query."""
        with self.lock:
            known = {w: self.lexemes[w] for w in words if w in self.lexemes}
        new = [w for w in dict.fromkeys(words) if w not in known]
        if new:
            rows = session.execute(text(self.pg_lexeme), {"ws": new}).all()
            parsed = {str(w): str(found or "") for w, found in rows}
            found_now = {w: f if not f or (f.count("'") == 2 and f.startswith("'")) else None
                         for w, f in parsed.items()}
            with self.lock:
                if len(self.lexemes) > 50_000:
                    self.lexemes.clear()
                self.lexemes.update(found_now)
            known.update(found_now)
        return known

    def pg_carry(self, session: Session, key: tuple[Any, ...], stamps_of: Callable[[], dict[int, Any]]) -> None:
        """Bring the kept ranks to the published articles' state `key` (PostgreSQL): `stamps_of()`
        gives each published article's stamp in that state, which is compared with the stamps of the
        state the ranks were kept for. An article removed, unpublished or edited loses its kept ranks;
        the edited and new ones are ranked for every kept lexeme in one query over just them."""
        import numpy as np

        with self.lock:
            if key == self.key:
                return
        with self.carrying:
            with self.lock:
                if key == self.key:
                    return  # carried over by the search that held the lock before this one
                old_key, old_stamps, kept = self.key, self.stamps, dict(self.words)
            stamps = stamps_of()
            changed: list[int] = []
            gone: list[int] = []
            if old_stamps is not None and kept:
                changed = [i for i, stamp in stamps.items() if old_stamps.get(i) != stamp]
                gone = [i for i in old_stamps if i not in stamps]
            if old_stamps is None or not kept or len(changed) + len(gone) > PG_CARRY_MAX_CHANGED:
                with self.lock:
                    self.key, self.words, self.entries, self.stamps = key, OrderedDict(), 0, stamps
                return
            fresh: dict[str, tuple[Any, Any]] = {}
            lexemes = list(kept)
            for start in range(0, len(lexemes) if changed else 0, PG_CARRY_LEXEMES_PER_QUERY):
                fresh.update(self._pg_ranks(session, self.pg_ids, lexemes[start:start + PG_CARRY_LEXEMES_PER_QUERY],
                                            {"ids": changed}))
            drop = np.array(sorted({*changed, *gone}), dtype=np.int32)
            carried: OrderedDict[str, tuple[Any, Any]] = OrderedDict()
            entries = 0
            for lx, (ids, scores) in kept.items():
                stay = ~np.isin(ids, drop)
                if not stay.all():
                    ids, scores = ids[stay], scores[stay]
                new_ids, new_scores = fresh.get(lx, (ids[:0], scores[:0]))
                if len(new_ids):  # both by id: each new one put in its place
                    at = np.searchsorted(ids, new_ids)
                    ids, scores = np.insert(ids, at, new_ids), np.insert(scores, at, new_scores)
                carried[lx] = (ids, scores)
                entries += len(ids)
            with self.lock:
                if self.key == old_key:  # else cleared meanwhile (a test, or SQLite's key): nothing to carry
                    self.key, self.words, self.entries, self.stamps = key, carried, entries, stamps

    def pg_ranked(self, session: Session, words: Sequence[str], key: tuple[Any, ...], limit: int,
                  published: int, stamps_of: Callable[[], dict[int, Any]] | None = None) -> list[int] | None:
        """The order of PG_IDF_RANKING_SQL for the words ORed, best `limit` ids, from the kept ranks;
        None when a word is more than one lexeme. `published`: how many articles are published (each
        lexeme's idf, pg_idf). `stamps_of`: the published articles' stamps in the state `key`, with
        which the kept ranks are carried over from the state before (pg_carry)."""
        import numpy as np

        if stamps_of is not None:
            self.pg_carry(session, key, stamps_of)
        of = self.pg_lexemes_of(session, words)
        if any(of[w] is None for w in words):
            return None  # a word the parser makes several lexemes of
        lexemes = {lx for w in words if (lx := of[w])}
        if not lexemes:
            return []
        ordered = sorted(lexemes, key=lambda lx: lx.encode())
        kept: dict[str, tuple[Any, Any]] = {}
        for lx in ordered:
            hit = self._kept(key, lx)
            if hit is not None:
                kept[lx] = hit
        cold = [lx for lx in ordered if lx not in kept]
        if cold:
            kept.update(self._pg_fetch(session, key, cold))
        # A lexeme's kept ranks are exactly the published articles that contain it: their count is its n.
        weighted = [(ids, scores * np.float32(pg_idf(published, len(ids))))
                    for ids, scores in (kept[lx] for lx in ordered)]
        return _best(weighted, limit, lower_is_better=False, dtype="float32")


def pg_idf(published: int, containing: int) -> float:
    """A lexeme's weight on PostgreSQL: bm25's idf, ln(1 + (N - n + 0.5) / (n + 0.5)), of the n
    published articles (of N) that contain it. ts_rank scores one document alone, so without it a
    word most articles have ("order") counts as much as one that names the topic ("confirmation");
    FTS5's bm25 has it built in. Chosen on the evaluation set's tuning half (bench/README.md)."""
    return math.log(1.0 + (published - containing + 0.5) / (containing + 0.5))


# The idf-weighted ranking in one statement (what pg_ranked adds up from the kept ranks): :lexemes
# are the question's distinct lexemes as tsquery text ('deliveri'); {document} is the stored column.
PG_IDF_RANKING_SQL = """
WITH lexeme AS (SELECT CAST(x AS tsquery) AS q FROM unnest(CAST(:lexemes AS text[])) AS x),
     total AS (SELECT count(*) AS n FROM kbarticle WHERE status = 'published'),
     df AS (SELECT lexeme.q, count(a.id) AS n FROM lexeme JOIN kbarticle a
            ON a.status = 'published' AND a.{document} @@ lexeme.q GROUP BY lexeme.q)
SELECT a.id, sum(ln(1 + (total.n - df.n + 0.5) / (df.n + 0.5)) * ts_rank(a.{document}, df.q)) AS score
FROM kbarticle a JOIN df ON a.{document} @@ df.q, total
WHERE a.status = 'published'
GROUP BY a.id ORDER BY score DESC, a.id LIMIT :n"""


def _best(parts: Sequence[tuple[Any, Any]], limit: int, *, lower_is_better: bool,
          dtype: str = "float64") -> list[int]:
    import numpy as np

    parts = [p for p in parts if len(p[0])]
    if not parts or limit < 1:
        return []
    size = int(max(int(ids[-1]) for ids, _ in parts)) + 1
    total = np.zeros(size, dtype=dtype)
    hit = np.zeros(size, dtype=bool)
    for ids, scores in parts:
        total[ids] += scores
        hit[ids] = True
    found = np.flatnonzero(hit)
    scores = total[found]
    key = scores if lower_is_better else -scores
    n = min(limit, len(found))
    if n < len(found):
        # The best n, and every article tied with the last of them, then ordered by (score, id).
        edge = key[np.argpartition(key, n - 1)[:n]].max()
        top = np.flatnonzero(key <= edge)
    else:
        top = np.arange(len(found))
    top = top[np.lexsort((found[top], key[top]))][:n]
    return [int(found[i]) for i in top]
