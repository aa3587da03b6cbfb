"""Help-center search in German and French: hit@3 of the article that answers each question.

    .venv/bin/python bench/kb_languages_eval.py [--misses]

The questions (bench/kb_languages_eval.jsonl, 22 German and 22 French) were written before any
run and are not used for tuning: 19 of each ask about the 15 articles translated first, 3 about
articles that were in English only then (the size guide, two-factor authentication, discount
codes). Since 2026-12-06 every demo article is translated, so all 44 are about translated
articles. Each question is ranked with the reader's language set, by:

- english:        the search of a reader whose language is English; until 2026-12-06 the English
                  index and embeddings alone, since then a question written in German or French is
                  searched as a reader of that language's is (`kb.question_language`)
- translated:     the translations' full-text index alone
- translated+en.3: the translations' index fused with English full-text at weight 0.3 (first try)
- translated+en:  the translations' index fused with English full-text at the portal's weights
                  (INTL_TRANSLATED_WEIGHT, 0.3 since 2026-12-06; equal weight before)
- +semantic:      the translations' index fused with the English hybrid search (English full-text
                  and the English articles' embeddings, the German/French question embedded as
                  is; only with the model installed): the portal's default

Runs on its own SQLite file in a temporary directory (the help articles only, no demo data), or
with --database-url on a scratch PostgreSQL database.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
_TMP = Path(tempfile.mkdtemp(prefix="kb-lang-bench-"))
os.environ["PORTAL_DATA_DIR"] = str(_TMP)
# --database-url postgresql://… runs on PostgreSQL instead (its 'german'/'french' configurations);
# the database should be a scratch one: the help articles are loaded into it.
if "--database-url" in sys.argv:
    os.environ["DATABASE_URL"] = sys.argv[sys.argv.index("--database-url") + 1]
else:
    os.environ.pop("DATABASE_URL", None)

from sqlmodel import Session, select  # noqa: E402

from portal import db as portal_db  # noqa: E402
from portal.domain import kb  # noqa: E402
from portal.integrations import embeddings as emb  # noqa: E402
from portal.manage import migrate  # noqa: E402
from portal.models import KbArticle  # noqa: E402
from portal.models.kb import KbArticleTranslation  # noqa: E402
from portal.seed.kb_loader import load_kb  # noqa: E402
from portal.settings import get_settings, reset_settings_cache  # noqa: E402

CASES = HERE / "kb_languages_eval.jsonl"


def load_cases() -> list[dict[str, str]]:
    return [json.loads(line) for line in CASES.read_text(encoding="utf-8").splitlines() if line.strip()]


def ranked(session: Session, case: dict[str, str], variant: str, model: emb.Embedder | None) -> list[int]:
    lang = case["lang"]
    if variant == "english":
        return kb.rank(session, case["q"], embedder=model or False, lang="en")[0]
    if variant == "translated":
        return kb.translated_fulltext_ids(session, case["q"], lang)[:10]
    semantic = variant == "+semantic"
    saved = kb.INTL_SEMANTIC, kb.INTL_ENGLISH_WEIGHT
    kb.INTL_SEMANTIC = semantic
    if variant == "translated+en.3":
        kb.INTL_ENGLISH_WEIGHT = 0.3
    try:
        return kb.rank(session, case["q"], embedder=model if semantic else False, lang=lang)[0]
    finally:
        kb.INTL_SEMANTIC, kb.INTL_ENGLISH_WEIGHT = saved


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--misses", action="store_true", help="print the questions missed")
    parser.add_argument("--database-url", default="", help="a scratch PostgreSQL database instead of SQLite")
    args = parser.parse_args()
    reset_settings_cache()
    engine = portal_db.make_engine(get_settings().db_url)
    portal_db.set_engine(engine)
    migrate()
    model = emb.load_embedder()
    cases = load_cases()
    with Session(engine, expire_on_commit=False) as s:
        load_kb(s)
        s.commit()
        slugs = {a.id: a.slug for a in s.exec(select(KbArticle)).all()}
        translated = {slugs[t.article_id] for t in s.exec(select(KbArticleTranslation)).all()}
        variants = ["english", "translated", "translated+en.3", "translated+en"] + (["+semantic"] if model else [])
        print(f"model: {model.name if model else 'not installed (semantic variants skipped)'}")
        print(f"{'':24}" + "".join(f"{v:>16}" for v in variants))
        misses: list[str] = []
        groups = [(which, lang, subset, pick) for which in ("design", "final") for lang in ("de", "fr")
                  for subset, pick in (("transl.", True), ("En only", False))]
        for which, lang, subset, pick in groups:
            group = [c for c in cases if c["lang"] == lang and (c["slug"] in translated) == pick
                     and c.get("set", "design") == which]
            if not group:
                continue
            cells = []
            for v in variants:
                hits = 0
                for c in group:
                    top = [slugs[i] for i in ranked(s, c, v, model)[:3]]
                    hits += c["slug"] in top
                    if c["slug"] not in top and v == variants[-1]:
                        misses.append(f"  [{which} {lang}] {c['q']!r}: wanted {c['slug']}, got {', '.join(top) or '-'}")
                cells.append(f"{hits}/{len(group)} {hits / len(group):.2f}")
            print(f"{which + ' ' + lang + ' ' + subset + f' ({len(group)})':<24}" + "".join(f"{x:>16}" for x in cells))
        if args.misses:
            print(f"missed by {variants[-1]}:")
            print("\n".join(misses))
    engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
