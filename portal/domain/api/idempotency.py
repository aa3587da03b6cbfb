"""Idempotency-Key: the first answer to a write is stored with a hash of the request and
returned again for the same key and request; the same key with another request is refused."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlmodel import Session, select

from portal.domain.api.keys import ApiCaller
from portal.domain.errors import Invalid
from portal.models import IdempotencyRecord

MAX_KEY = 255


def request_hash(method: str, path: str, body: bytes) -> str:
    h = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), body):
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()


def check_key(key: str) -> str:
    key = key.strip()
    if not key or len(key) > MAX_KEY or not key.isprintable() or not key.isascii():
        raise Invalid("Idempotency-Key must be 1 to 255 printable ASCII characters", field="Idempotency-Key")
    return key


def lookup(session: Session, *, caller: ApiCaller, key: str, req_hash: str) -> tuple[int, dict[str, Any]] | None:
    row = session.exec(select(IdempotencyRecord).where(IdempotencyRecord.api_key_id == caller.key_id,
                                                       IdempotencyRecord.idempotency_key == key)).first()
    if row is None:
        return None
    if row.request_hash != req_hash:
        raise Invalid("this Idempotency-Key was used with a different request", field="Idempotency-Key",
                      reuse=True)
    return row.status_code, dict(row.response_body)


def remember(session: Session, *, caller: ApiCaller, key: str, req_hash: str, status_code: int,
             body: dict[str, Any]) -> None:
    session.add(IdempotencyRecord(api_key_id=caller.key_id, idempotency_key=key, request_hash=req_hash,
                                  status_code=status_code, response_body=body))
