"""Help-center search: quality on the evaluation set and latency over 5,000 articles, side by side.

    .venv/bin/python bench/kb_search_eval.py [--articles 5000] [--queries 300] [--quality-only]

Quality: recall@3 and mean reciprocal rank (over the top 10) of the article that answers each
question in bench/kb_eval.jsonl, for full-text alone and for hybrid (full-text fused with
all-MiniLM-L6-v2 similarity), on the real help articles, printed for the tuning half and the
held-out half side by side; the held-out half is the result (the split rule: bench/README.md).
Latency: the same domain search function the UI calls (which also records the query), over the
real articles plus generated variants of them (paragraphs shuffled, other articles' paragraphs
mixed in, new titles) up to --articles.
Runs on its own SQLite file in a temporary directory; hybrid needs `make semantic`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
_TMP = Path(tempfile.mkdtemp(prefix="kb-bench-"))
os.environ["PORTAL_DATA_DIR"] = str(_TMP)
os.environ.pop("DATABASE_URL", None)

from sqlmodel import Session, select  # noqa: E402

from portal import db as portal_db  # noqa: E402
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


def add_variants(session: Session, total: int, embedder: emb.Embedder | None, seed: int = 7) -> None:
    rnd = random.Random(seed)
    base = list(session.exec(select(KbArticle)).all())
    paragraphs = [p for a in base for p in a.body_md.split("\n\n") if p.strip()]
    made: list[KbArticle] = []
    for n in range(max(0, total - len(base))):
        src = base[n % len(base)]
        own = [p for p in src.body_md.split("\n\n") if p.strip()]
        rnd.shuffle(own)
        body = "\n\n".join(own + rnd.sample(paragraphs, 2))
        a = KbArticle(slug=f"{src.slug}-v{n}", title=f"{src.title} ({rnd.choice(VARIANT_WORDS)} {n})",
                      summary=src.summary, body_md=body, category_id=src.category_id, status=ArticleStatus.PUBLISHED)
        session.add(a)
        made.append(a)
    session.flush()
    kb.reindex_all(session, embedder=False)
    if embedder is not None:
        # Variants are embedded from their title, summary and first 200 characters, to keep the
        # run short on two cores; search latency depends on how many vectors there are, not on this.
        for start in range(0, len(made), 64):
            chunk = made[start:start + 64]
            vecs = embedder.encode([kb.article_text(a.title, a.summary, a.body_md[:200]) for a in chunk])
            for a, v in zip(chunk, vecs, strict=True):
                a.embedding, a.embedding_model = emb.to_bytes(v), embedder.name
            print(f"  embedded {min(start + 64, len(made))}/{len(made)} variants", end="\r", file=sys.stderr)
        print(file=sys.stderr)
    session.commit()


def latency(session: Session, queries: list[str], embedder: emb.Embedder | bool | None) -> tuple[float, float]:
    times = []
    for q in queries:
        start = time.perf_counter()
        kb.search(session, principal=None, query=q, embedder=embedder)
        times.append((time.perf_counter() - start) * 1000)
    session.rollback()  # the recorded queries are not kept
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=5000)
    parser.add_argument("--queries", type=int, default=300)
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
        load_kb(s)
        s.commit()
        print(f"evaluation set: {len(cases)} questions over {len(s.exec(select(KbArticle)).all())} articles; "
              f"embedding runtime: {type(model).__name__ if model is not None else 'not installed'}")
        if model is not None:  # articles loaded before the model's first use are embedded here
            kb.reindex_all(s, embedder=model)
            s.commit()
        quality_table(s, cases, model, args.tuning_misses)
        if args.quality_only:
            return 0
        t0 = time.perf_counter()
        add_variants(s, args.articles, model)
        count = len(s.exec(select(KbArticle.id)).all())
        print(f"\nlatency over {count} published articles (generated in {time.perf_counter() - t0:.0f} s), "
              f"{args.queries} searches each, milliseconds:")
        rnd = random.Random(11)
        queries = [rnd.choice(cases)["q"] for _ in range(args.queries)]
        kb.search(s, principal=None, query="warm up", embedder=model or False)  # load the vector matrix once
        print(f"(load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
        print(f"{'':24}{'p50':>10}{'p95':>8}")
        p50, p95 = latency(s, queries, False)
        print(f"{'full-text':24}{p50:>10.1f}{p95:>8.1f}")
        if model is not None:
            p50h, p95h = latency(s, queries, model)
            print(f"{'hybrid (RRF)':24}{p50h:>10.1f}{p95h:>8.1f}")
            # Where hybrid's time goes: embedding the question (once per search).
            times = []
            for q in queries:
                start = time.perf_counter()
                model.encode([q])
                times.append((time.perf_counter() - start) * 1000)
            times.sort()
            e50, e95 = statistics.median(times), times[int(0.95 * (len(times) - 1))]
            print(f"{'  of which: embed query':24}{e50:>10.1f}{e95:>8.1f}")
            print(f"hybrid / full-text p95 ratio: {p95h / p95:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
