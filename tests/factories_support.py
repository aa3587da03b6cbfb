"""Factories for the support area: files of real types, help articles, agents on duty."""

from __future__ import annotations

import itertools
import struct
import zlib
from datetime import timedelta
from typing import Any

from sqlmodel import Session

from portal.db import utcnow
from portal.domain import kb
from portal.models import AgentPresence, ArticleStatus, KbArticle, KbCategory, User

_seq = itertools.count(1)


def png_bytes(width: int = 2, height: int = 2) -> bytes:
    """A real, tiny PNG image."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


PDF_BYTES = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
# A Windows executable's header, as someone would rename it to look like a picture.
EXE_BYTES = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 64


def make_article(db: Session, *, title: str, summary: str = "", body: str = "",
                 status: ArticleStatus = ArticleStatus.PUBLISHED, **fields: Any) -> KbArticle:
    n = next(_seq)
    cat = KbCategory(slug=f"cat-{n}", name=f"Category {n}")
    db.add(cat)
    db.flush()
    art = KbArticle(slug=f"article-{n}", title=title, summary=summary, body_md=body, status=status,
                    category_id=cat.id or 0, **fields)
    db.add(art)
    db.flush()
    kb.index_article(db, art, embedder=False)  # into the help center's full-text index, as the editor does
    db.commit()
    return art


def on_duty(db: Session, agent: User, *, minutes_ago: int = 0, available: bool = True) -> None:
    db.merge(AgentPresence(user_id=agent.id or 0, available=available,
                           last_seen_at=utcnow() - timedelta(minutes=minutes_ago)))
    db.commit()
