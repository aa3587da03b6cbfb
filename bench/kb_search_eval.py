"""Help-center search: quality on the evaluation set, and latency at scale, side by side.

    .venv/bin/python bench/kb_search_eval.py [--articles 5000,50000] [--queries 300] [--quality-only]
        [--database-url postgresql://postgres@127.0.0.1:5432/<scratch>] [--embed-limit 1000]

Quality: recall@3 and mean reciprocal rank (over the top 10) of the article that answers each
question in bench/kb_eval.jsonl, for full-text alone and for hybrid (full-text fused with
all-MiniLM-L6-v2 similarity), on the real help articles, printed for the tuning half and the
held-out half side by side; the held-out half is the result (the split rule: bench/README.md).
Latency: the same domain search function the UI calls (which also records the query), over the
real articles plus generated variants of them (paragraphs shuffled, other articles' paragraphs
mixed in, new titles) up to each size of --articles: where each search's time goes (state check,
understanding the question, full-text, embedding the question, the vector scan, de-dup, cards),
the caches' cold build and memory, the first search after an edit, then p50 / p95 of full-text
(as it comes: words the first 100 questions did not have are scored for the first time; with no
word's scores kept, as after an edit; with every word's kept), hybrid with every question new
(its vector not cached) and with questions repeating, the question embedding alone, and the
memory of the kept word scores. The load average is printed with the figures.
Runs on its own SQLite file in a temporary directory, or with --database-url on a scratch
PostgreSQL database (the articles are loaded into it); hybrid needs the model (`make install`).
Generated variants' vectors are kept under KB_BENCH_CACHE (default ~/.cache/portal-kb-bench).
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
import portal  # noqa: E402, F401  (first, as in the server: it sets NumPy's BLAS threads before NumPy loads)

_TMP = Path(tempfile.mkdtemp(prefix="kb-bench-"))
os.environ["PORTAL_DATA_DIR"] = str(_TMP)
# --database-url postgresql://… runs on PostgreSQL instead: a scratch database (the articles are loaded into it).
if "--database-url" in sys.argv:
    os.environ["DATABASE_URL"] = sys.argv[sys.argv.index("--database-url") + 1]
else:
    os.environ.pop("DATABASE_URL", None)

import numpy as np  # noqa: E402
from sqlmodel import Session, col, select  # noqa: E402

from portal import db as portal_db  # noqa: E402
from portal.db import utcnow  # noqa: E402
from portal.domain import kb  # noqa: E402
from portal.integrations import embeddings as emb  # noqa: E402
from portal.manage import migrate  # noqa: E402
from portal.models import ArticleStatus, KbArticle  # noqa: E402
from portal.seed.kb_loader import load_kb  # noqa: E402
from portal.settings import get_settings, reset_settings_cache  # noqa: E402

VARIANT_WORDS = ["quick guide", "for members", "in winter", "for business customers", "step by step", "FAQ",
                 "for outlet orders", "when travelling", "for gift orders", "explained"]


HALVES = ("tune", "heldout")


def load_cases(path: Path = HERE / "kb_eval.jsonl") -> list[dict[str, str]]:
    """The evaluation set, checked against the split rule fixed before tuning: line n (from 1) is
    in the tuning half when n is odd and in the held-out half when n is even."""
    cases = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    for n, case in enumerate(cases, start=1):
        expected = "tune" if n % 2 else "heldout"
        if case.get("half") != expected:
            raise SystemExit(f"{path.name} line {n}: half is {case.get('half')!r}, the rule says {expected!r}")
    return cases


def quality(session: Session, cases: list[dict[str, str]], embedder: emb.Embedder | bool | None,
            misses: list[str] | None = None) -> tuple[float, float]:
    slugs = {a.id: a.slug for a in session.exec(select(KbArticle)).all()}
    recall = rr = 0.0
    for case in cases:
        ids, _ = kb.rank(session, case["q"], embedder=embedder, limit=10)
        ranked = [slugs[i] for i in ids]
        recall += case["slug"] in ranked[:3]
        rr += 1.0 / (ranked.index(case["slug"]) + 1) if case["slug"] in ranked else 0.0
        if misses is not None and case["slug"] not in ranked[:3]:
            misses.append(f"  {case['q']!r}: wanted {case['slug']}, got {', '.join(ranked[:3]) or 'nothing'}")
    return recall / len(cases), rr / len(cases)


def quality_table(session: Session, cases: list[dict[str, str]], model: emb.Embedder | None,
                  show_misses: bool) -> None:
    halves = {h: [c for c in cases if c["half"] == h] for h in HALVES}
    print(f"{'':16}{'tuning half (' + str(len(halves['tune'])) + ')':>24}"
          f"{'held-out half (' + str(len(halves['heldout'])) + ') = result':>34}")
    print(f"{'':16}{'recall@3':>12}{'MRR@10':>12}{'recall@3':>22}{'MRR@10':>12}")
    runs: list[tuple[str, emb.Embedder | bool | None]] = [("full-text", False)]
    if model is not None:
        runs.append(("hybrid", model))
    for label, embedder in runs:
        misses: list[str] = []
        rt, mt = quality(session, halves["tune"], embedder, misses)
        rh, mh = quality(session, halves["heldout"], embedder)
        print(f"{label:16}{rt:>12.3f}{mt:>12.3f}{rh:>22.3f}{mh:>12.3f}")
        if show_misses:  # the tuning half's only: held-out misses are not for looking at while tuning
            print(f"{label} misses on the tuning half ({len(misses)}):", *misses, sep="\n")


def variant_articles(base: list[KbArticle], start: int, stop: int, seed: int = 7) -> Iterator[tuple[int, KbArticle]]:
    """Generated variants number start..stop-1 of the real articles, the same every run (the
    random sequence starts at variant 0 whatever `start` is)."""
    rnd = random.Random(seed)
    paragraphs = [p for a in base for p in a.body_md.split("\n\n") if p.strip()]
    for n in range(stop):
        src = base[n % len(base)]
        own = [p for p in src.body_md.split("\n\n") if p.strip()]
        rnd.shuffle(own)
        body = "\n\n".join(own + rnd.sample(paragraphs, 2))
        title = f"{src.title} ({rnd.choice(VARIANT_WORDS)} {n})"
        if n >= start:
            yield n, KbArticle(slug=f"{src.slug}-v{n}", title=title, summary=src.summary, body_md=body,
                               category_id=src.category_id, status=ArticleStatus.PUBLISHED)


BASE_IDS: list[int] = []  # the real articles' ids (the variants are made from them)


def cache_dir() -> Path:
    configured = os.environ.get("KB_BENCH_CACHE", "").strip()
    return Path(configured) if configured else Path.home() / ".cache" / "portal-kb-bench"


def embed_cached(model: emb.Embedder, texts: list[str]) -> Any:
    """The model's vectors of these texts, kept on disk by content (KB_BENCH_CACHE, else
    ~/.cache/portal-kb-bench): a second run, or the PostgreSQL run after the SQLite one, embeds
    nothing again. The vectors are the model's own either way."""
    key = hashlib.sha256("\x00".join([model.name, *texts]).encode()).hexdigest()[:32]
    path = cache_dir() / f"{key}.npy"
    if path.is_file():
        return np.load(path)
    vecs = np.asarray(model.encode(texts), dtype=np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, vecs)
    tmp.replace(path)
    return vecs


def add_variants(session: Session, total: int, embedder: emb.Embedder | None, embed_limit: int) -> None:
    """Generated variants up to `total` published articles. The variants within `embed_limit`
    articles are embedded by the model (title, summary and the body's first 200 characters; the
    NumPy runtime does a few dozen a second on two cores); every later variant gets the vector of
    an embedded variant of the same real article plus small seeded noise (sigma 0.01 a component,
    cosine about 0.98 to it), normalised again. bench/README.md says so with the figures."""
    base = list(session.exec(select(KbArticle).where(col(KbArticle.id).in_(BASE_IDS))
                             .order_by(col(KbArticle.id))).all())
    have = len(session.exec(select(KbArticle.id)).all())
    start = have - len(base)
    # A whole number of rounds over the real articles, so variant n reuses a variant of its own source article.
    embedded_variants = max(0, embed_limit - len(base)) // len(base) * len(base)
    pool: Any = None
    chunk: list[tuple[int, KbArticle]] = []

    def flush() -> None:
        nonlocal pool
        if embedder is not None:
            honest = [(n, a) for n, a in chunk if n < embedded_variants]
            if honest:
                vecs = embed_cached(embedder, [kb.article_text(a.title, a.summary, a.body_md[:200]) for _, a in honest])
                for (_, a), v in zip(honest, vecs, strict=True):
                    a.embedding, a.embedding_model = emb.to_bytes(v), embedder.name
            for n, a in chunk:
                if n >= embedded_variants:
                    if pool is None:
                        rows = session.exec(select(KbArticle.embedding).where(col(KbArticle.id).not_in(BASE_IDS))
                                            .order_by(col(KbArticle.id)).limit(embedded_variants)).all()
                        pool = np.stack([emb.from_bytes(e) for e in rows])
                    noise = np.random.default_rng(n).normal(0.0, 0.01, emb.DIM).astype(np.float32)
                    v = pool[n % len(pool)] + noise
                    a.embedding, a.embedding_model = emb.to_bytes(v / np.linalg.norm(v)), embedder.name
        session.add_all([a for _, a in chunk])
        session.commit()
        session.expunge_all()
        chunk.clear()

    for n, a in variant_articles(base, start, max(0, total - len(base))):
        chunk.append((n, a))
        if len(chunk) == 64:
            flush()
            print(f"  {n + 1 + len(base)}/{total} articles", end="\r", file=sys.stderr)
    if chunk:
        flush()
    print(file=sys.stderr)
    kb.reindex_all(session, embedder=False)
    session.commit()
    # Committed now, more than a second after reindex_all said so at 50,000: the next search asks
    # for the new state itself instead of going on with the one held (kb._State).
    kb._state.changed()


def percentiles(times: list[float]) -> tuple[float, float]:
    times = sorted(times)
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


def forget_questions() -> None:
    cache = getattr(kb, "_questions", None)  # the per-process cache of question vectors, where there is one
    if cache is not None:
        cache.clear()


def latency(session: Session, queries: list[str], embedder: emb.Embedder | bool | None,
            fresh_questions: bool = True, fresh_words: bool = False) -> tuple[float, float]:
    times = []
    for q in queries:
        if fresh_questions:
            forget_questions()
        if fresh_words:
            kb._word_scores.clear()  # as after an article changed: every word's scores asked again
        start = time.perf_counter()
        kb.search(session, principal=None, query=q, embedder=embedder)
        times.append((time.perf_counter() - start) * 1000)
    session.rollback()  # the recorded queries are not kept
    return percentiles(times)


class Timed:
    """Wraps functions of the kb module (and the model) to add up the time spent in each."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = {}
        self.saved: list[tuple[Any, str, Any]] = []

    def wrap(self, owner: Any, attr: str, label: str) -> None:
        if not hasattr(owner, attr):
            return
        original = getattr(owner, attr)

        def timed(*a: Any, **k: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(*a, **k)
            finally:
                self.spent[label] = self.spent.get(label, 0.0) + (time.perf_counter() - start) * 1000

        self.saved.append((owner, attr, original))
        setattr(owner, attr, timed)

    def restore(self) -> None:
        for owner, attr, original in reversed(self.saved):
            setattr(owner, attr, original)


class TimedModel:
    def __init__(self, model: emb.Embedder, timer: Timed) -> None:
        self.name, self._model, self._timer = model.name, model, timer

    def encode(self, texts: list[str]) -> Any:
        start = time.perf_counter()
        try:
            return self._model.encode(texts)
        finally:
            self._timer.spent["embed question"] = (self._timer.spent.get("embed question", 0.0)
                                                   + (time.perf_counter() - start) * 1000)


# "embed question" runs on another thread beside the full-text query (kb.rank), so it is not one
# of the parts that add up to the search; "rest" holds what the search waited for it, if anything.
PARTS = ["published state", "understand (typos, synonyms)", "full-text query", "embed question",
         "vector scan", "de-dup", "load cards", "rest (wait for embedding, fuse, record query)"]


def breakdown(session: Session, queries: list[str], model: emb.Embedder | None) -> None:
    """Each search's time split by part, p50 / p95 per part over the same questions."""
    runs: list[tuple[str, emb.Embedder | bool | None]] = [("full-text", False)]
    if model is not None:
        runs.append(("hybrid", model))
    table: dict[str, dict[str, tuple[float, float]]] = {}
    for label, embedder in runs:
        per: dict[str, list[float]] = {p: [] for p in PARTS}
        for q in queries:
            timer = Timed()
            if hasattr(kb, "_state"):  # it calls published_state when it asks: wrap one, not both
                timer.wrap(kb._state, "current", "published state")
            else:
                timer.wrap(kb, "published_state", "published state")
            timer.wrap(kb, "understand", "understand (typos, synonyms)")
            timer.wrap(kb, "fulltext_ids", "full-text query")
            timer.wrap(kb, "semantic_ids", "semantic")
            timer.wrap(kb, "spread_duplicates", "de-dup")
            timer.wrap(kb, "_cards", "load cards")
            forget_questions()
            wrapped = TimedModel(model, timer) if embedder is not False and model is not None else embedder
            start = time.perf_counter()
            try:
                kb.search(session, principal=None, query=q, embedder=wrapped)
            finally:
                timer.restore()
            total = (time.perf_counter() - start) * 1000
            s = timer.spent
            s["vector scan"] = s.pop("semantic", 0.0)
            s[PARTS[-1]] = total - sum(s.get(p, 0.0) for p in PARTS[:-1] if p != "embed question")
            for p in PARTS:
                per[p].append(s.get(p, 0.0))
        session.rollback()
        table[label] = {p: percentiles(v) for p, v in per.items()}
    print(f"{'where the time goes, ms':30}" + "".join(f"{lab + ' p50 / p95':>24}" for lab, _ in runs))
    for p in PARTS:
        print(f"{'  ' + p:30}" + "".join(f"{table[lab][p][0]:>13.2f} / {table[lab][p][1]:>7.2f}" for lab, _ in runs))


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def rebuild_costs(session: Session, model: emb.Embedder | None) -> None:
    """The caches' cold build (a worker's first search) with the memory it takes, and the first
    search after one article changed (through this process, as the editor does)."""
    if model is None:
        return
    gc.collect()
    kb._matrix = kb._Matrix()
    gc.collect()
    before = rss_mb()
    start = time.perf_counter()
    ids, vectors = kb._matrix.get(session, model.name)
    cold = (time.perf_counter() - start) * 1000
    gc.collect()
    grown = rss_mb() - before
    print(f"vector matrix: {len(ids)} x {vectors.shape[1]} float32 = {vectors.nbytes / 2**20:.1f} MiB "
          f"(+ ids {sys.getsizeof(ids) / 2**20:.1f} MiB); worker RSS +{grown:.1f} MiB; cold build {cold:.0f} ms")
    kb._vocabulary = kb._Vocabulary()
    gc.collect()
    before = rss_mb()
    start = time.perf_counter()
    kb.understand(session, "warm up the vocabulary")
    cold_v = (time.perf_counter() - start) * 1000
    gc.collect()
    print(f"typo vocabulary: {len(kb._vocabulary.words)} words; worker RSS +{rss_mb() - before:.1f} MiB; "
          f"cold build {cold_v:.0f} ms")
    after: list[float] = []
    victims = session.exec(select(KbArticle).order_by(col(KbArticle.id).desc()).limit(5)).all()
    for n, a in enumerate(victims):
        a.title = f"{a.title} (edited {n})"
        a.updated_at = utcnow()
        session.add(a)
        session.flush()
        kb.index_article(session, a, embedder=model)
        session.commit()
        forget_questions()
        start = time.perf_counter()
        kb.search(session, principal=None, query="how do i return a parcel", embedder=model)
        after.append((time.perf_counter() - start) * 1000)
        session.rollback()
    print(f"first hybrid search after one article changed: {', '.join(f'{t:.0f}' for t in after)} ms "
          f"(5 edits; a search without a change: see the latency table)")


def measure(session: Session, cases: list[dict[str, str]], model: emb.Embedder | None, n_queries: int) -> None:
    count = len(session.exec(select(KbArticle.id).where(KbArticle.status == ArticleStatus.PUBLISHED)).all())
    rnd = random.Random(11)
    queries = [rnd.choice(cases)["q"] for _ in range(n_queries)]
    print(f"\n== {count} published articles on {session.get_bind().dialect.name}, {n_queries} searches each ==")
    rebuild_costs(session, model)
    kb.search(session, principal=None, query="warm up", embedder=model or False)
    session.rollback()
    print(f"(load average before the timed searches: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    breakdown(session, queries[:100], model)
    print(f"{'latency, ms':30}{'p50':>10}{'p95':>8}")
    p50, p95 = latency(session, queries, False)
    print(f"{'full-text':30}{p50:>10.1f}{p95:>8.1f}")
    p50, p95 = latency(session, queries, False)  # every word kept now
    print(f"{'full-text, every word kept':30}{p50:>10.1f}{p95:>8.1f}")
    if model is not None:
        p50h, p95h = latency(session, queries, model)
        print(f"{'hybrid (every question new)':30}{p50h:>10.1f}{p95h:>8.1f}")
        p50r, p95r = latency(session, queries, model, fresh_questions=False)
        print(f"{'hybrid (questions repeat)':30}{p50r:>10.1f}{p95r:>8.1f}")
        times = []
        for q in queries:
            start = time.perf_counter()
            model.encode([q])
            times.append((time.perf_counter() - start) * 1000)
        e50, e95 = percentiles(times)
        print(f"{'embed question alone':30}{e50:>10.1f}{e95:>8.1f}")
        print(f"hybrid (every question new) / full-text p95: {p95h / p95:.1f}x (every word kept in both)")
    kept = kb._word_scores
    print(f"kept word scores: {len(kept.words)} words, {kept.entries:,} (article, score) pairs, "
          f"{kept.memory() / 2**20:.1f} MiB (at most {kept.max_entries:,} pairs)")
    c50, c95 = latency(session, queries[:30], False, fresh_words=True)  # last: it drops what is kept
    print(f"{'full-text, no word kept (30)':30}{c50:>10.1f}{c95:>8.1f}")
    print(f"(load average after: {os.getloadavg()[0]:.1f})")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", default="5000", help="comma-separated sizes, ascending: 5000,50000")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--embed-limit", type=int, default=1000,
                        help="variants up to this many articles are embedded by the model; the rest reuse them")
    parser.add_argument("--database-url", default="", help="a scratch PostgreSQL database instead of SQLite")
    parser.add_argument("--quality-only", action="store_true", help="skip the latency part")
    parser.add_argument("--tuning-misses", action="store_true", help="list the tuning half's misses")
    args = parser.parse_args()
    reset_settings_cache()
    engine = portal_db.make_engine(get_settings().db_url)
    portal_db.set_engine(engine)
    migrate()
    cases = load_cases()
    model = emb.load_embedder()
    with Session(engine, expire_on_commit=False) as s:
        if s.exec(select(KbArticle.id).limit(1)).first() is not None:
            # An earlier run's articles (up to 50,000) would be measured at every size, and as the
            # evaluation set's corpus.
            print(f"{args.database_url} already holds help articles: give a new scratch database "
                  "(dropdb, then createdb)", file=sys.stderr)
            return 2
        load_kb(s)
        s.commit()
        BASE_IDS[:] = [int(i) for i in s.exec(select(KbArticle.id)).all() if i is not None]
        print(f"evaluation set: {len(cases)} questions over {len(s.exec(select(KbArticle)).all())} articles; "
              f"embedding runtime: {type(model).__name__ if model is not None else 'not installed'}")
        if model is not None:  # articles loaded before the model's first use are embedded here
            kb.reindex_all(s, embedder=model)
            s.commit()
        quality_table(s, cases, model, args.tuning_misses)
        if args.quality_only:
            return 0
        for size in sorted(int(x) for x in args.articles.split(",")):
            t0 = time.perf_counter()
            add_variants(s, size, model, args.embed_limit)
            print(f"\n(generated up to {size} articles in {time.perf_counter() - t0:.0f} s)")
            measure(s, cases, model, args.queries)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
