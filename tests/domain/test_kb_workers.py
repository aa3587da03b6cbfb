"""Two worker processes sharing one database: an article published or unpublished through one is
found (or gone) in the other's search within seconds, though each keeps its own caches (the
vector matrix, the typo vocabulary, the published articles' state: kb._State)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlmodel import Session, SQLModel

from portal.domain import kb
from portal.models import ArticleStatus, KbArticle, KbCategory
from tests.factories_kb import HashedWordsEmbedder

ROOT = Path(__file__).resolve().parents[2]

# One worker: reads commands on stdin, answers one JSON line each. Its own engine, its own caches.
WORKER = r"""
import json, sys
sys.path.insert(0, sys.argv[2])
from sqlalchemy import create_engine
from sqlmodel import Session
from portal.domain import kb
from portal.domain.principal import Principal
from tests.factories_kb import HashedWordsEmbedder

engine = create_engine(sys.argv[1])
model = HashedWordsEmbedder()
editor = Principal(user_id=1, role="admin", email="editor@example.com", name="Editor")
for line in sys.stdin:
    cmd, _, arg = line.strip().partition(" ")
    with Session(engine, expire_on_commit=False) as s:
        if cmd == "find":
            slugs = [h.slug for h in kb.search(s, principal=None, query=arg, embedder=model, source="assistant").hits]
            semantic = kb.semantic_ids(s, arg, model)
            s.rollback()
            print(json.dumps({"slugs": slugs, "semantic": semantic}), flush=True)
        elif cmd in ("publish", "unpublish"):
            kb.set_published(s, principal=editor, article_id=int(arg), published=cmd == "publish")
            s.commit()
            print(json.dumps({"ok": True}), flush=True)
"""


class Worker:
    def __init__(self, url: str) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen([sys.executable, "-c", WORKER, url, str(ROOT)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)

    def ask(self, line: str) -> dict[str, object]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline()
        assert answer, f"the worker died answering {line!r}"
        return dict(json.loads(answer))

    def stop(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture
def shared_db(tmp_path: Path) -> Iterator[tuple[str, int, int]]:
    """A database of its own (not the suite's): one published article, one draft about a word
    nothing else uses; both embedded by the test double."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    engine = create_engine(url)
    SQLModel.metadata.create_all(engine)
    model = HashedWordsEmbedder()
    with Session(engine, expire_on_commit=False) as s:
        cat = KbCategory(slug="parcels", name="Parcels", position=1)
        s.add(cat)
        s.flush()
        assert cat.id is not None
        made = []
        for slug, title, status in (("where-is-my-parcel", "Where is my parcel", ArticleStatus.PUBLISHED),
                                    ("zorblax-gift-wrap", "Zorblax gift wrapping", ArticleStatus.DRAFT)):
            a = KbArticle(slug=slug, title=title, summary=title, body_md=f"{title}.", category_id=cat.id,
                          status=status)
            s.add(a)
            s.flush()
            kb.index_article(s, a, embedder=model)
            made.append(a.id or 0)
        s.commit()
    engine.dispose()
    yield url, made[0], made[1]


def _until(worker: Worker, query: str, check: object, timeout: float = 10.0) -> float:
    """Ask until check(answer) holds; the seconds it took (fails after `timeout`)."""
    start = time.monotonic()
    while True:
        answer = worker.ask(f"find {query}")
        if check(answer):  # type: ignore[operator]
            return time.monotonic() - start
        assert time.monotonic() - start < timeout, f"not seen after {timeout} s: {answer}"
        time.sleep(0.05)


def test_an_article_published_through_one_worker_is_found_by_another(shared_db: tuple[str, int, int]) -> None:
    url, published_id, draft_id = shared_db
    editor, reader = Worker(url), Worker(url)
    try:
        # Both workers have built their caches; the draft is in neither (the positive control).
        for w in (editor, reader):
            first = w.ask("find zorblax gift wrapping")
            assert "zorblax-gift-wrap" not in first["slugs"] and draft_id not in first["semantic"]  # type: ignore[operator]
            assert published_id in w.ask("find where is my parcel")["semantic"]  # type: ignore[operator]

        editor.ask(f"publish {draft_id}")
        # The editor's own worker sees it at once; the other within its re-check interval.
        assert draft_id in editor.ask("find zorblax gift wrapping")["semantic"]  # type: ignore[operator]
        took = _until(reader, "zorblax gift wrapping",
                      lambda a: "zorblax-gift-wrap" in a["slugs"] and draft_id in a["semantic"])
        assert took <= kb.STATE_RECHECK_SECONDS + 3.0

        editor.ask(f"unpublish {draft_id}")
        took = _until(reader, "zorblax gift wrapping",
                      lambda a: "zorblax-gift-wrap" not in a["slugs"] and draft_id not in a["semantic"])
        assert took <= kb.STATE_RECHECK_SECONDS + 3.0
        assert published_id in reader.ask("find where is my parcel")["semantic"]  # type: ignore[operator]
    finally:
        editor.stop()
        reader.stop()
