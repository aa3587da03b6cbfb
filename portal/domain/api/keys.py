"""API keys: created, scoped, rotated and revoked by admins; stored as SHA-256 only."""

from __future__ import annotations

import dataclasses
import hashlib
import secrets

from sqlmodel import Session, col, select

from portal.db import utcnow
from portal.domain import audit
from portal.domain.audit import NO_REQUEST, RequestInfo
from portal.domain.errors import DomainError, ErrorCode, Invalid, NotFound
from portal.domain.principal import Principal, require_admin
from portal.models import ApiKey

RESOURCES = ("customers", "orders", "shipments", "invoices", "payments", "documents", "articles")
ACCESS = ("read", "write")
ALL_SCOPES = tuple(f"{r}:{a}" for r in RESOURCES for a in ACCESS)
KEY_PREFIX = "fhk_"


@dataclasses.dataclass(frozen=True, slots=True)
class ApiCaller:
    """Who calls the API: a key, and the principal its actions are recorded under."""

    key_id: int
    prefix: str
    name: str
    scopes: frozenset[str]
    principal: Principal

    def allows(self, resource: str, *, write: bool) -> bool:
        if f"{resource}:write" in self.scopes:
            return True
        return not write and f"{resource}:read" in self.scopes


def require_scope(caller: ApiCaller, resource: str, *, write: bool) -> None:
    if not caller.allows(resource, write=write):
        raise DomainError(ErrorCode.FORBIDDEN, f"This key lacks the {resource}:{'write' if write else 'read'} scope.",
                          scope=f"{resource}:{'write' if write else 'read'}")


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _new_raw() -> tuple[str, str]:
    # Visible id (prefix) + 256 bits of secret; the whole string is hashed.
    prefix = KEY_PREFIX + secrets.token_hex(6)
    return prefix, f"{prefix}_{secrets.token_urlsafe(32)}"


def _clean_scopes(scopes: list[str]) -> list[str]:
    chosen = sorted({s for s in scopes if isinstance(s, str)})
    bad = [s for s in chosen if s not in ALL_SCOPES]
    if bad or not chosen:
        raise Invalid("choose at least one known scope", field="scopes")
    return chosen


@dataclasses.dataclass(frozen=True, slots=True)
class KeyRow:
    id: int
    name: str
    prefix: str
    scopes: list[str]
    created_at: object
    last_used_at: object
    revoked: bool


def list_keys(session: Session, *, principal: Principal) -> list[KeyRow]:
    require_admin(principal)
    rows = session.exec(select(ApiKey).order_by(col(ApiKey.id).desc()).limit(500)).all()
    return [KeyRow(id=k.id or 0, name=k.name, prefix=k.prefix, scopes=list(k.scopes), created_at=k.created_at,
                   last_used_at=k.last_used_at, revoked=k.revoked_at is not None) for k in rows]


def create_key(session: Session, *, principal: Principal, name: str, scopes: list[str],
               request: RequestInfo = NO_REQUEST) -> tuple[ApiKey, str]:
    """Returns the row and the raw key, which is never retrievable again."""
    p = require_admin(principal)
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise Invalid("name is required (at most 100 characters)", field="name")
    prefix, raw = _new_raw()
    key = ApiKey(name=name, prefix=prefix, key_hash=hash_key(raw), scopes=_clean_scopes(scopes),
                 created_by_user_id=p.user_id)
    session.add(key)
    session.flush()
    audit.record(session, action="api_key.created", principal=p, target_type="api_key", target_id=key.id or "",
                 request=request, prefix=prefix, scopes=key.scopes)
    return key, raw


def _get(session: Session, key_id: int) -> ApiKey:
    key = session.get(ApiKey, key_id)
    if key is None:
        raise NotFound("api key")
    return key


def revoke_key(session: Session, *, principal: Principal, key_id: int, request: RequestInfo = NO_REQUEST) -> None:
    p = require_admin(principal)
    key = _get(session, key_id)
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        session.add(key)
        audit.record(session, action="api_key.revoked", principal=p, target_type="api_key", target_id=key_id,
                     request=request, prefix=key.prefix)


def rotate_key(session: Session, *, principal: Principal, key_id: int,
               request: RequestInfo = NO_REQUEST) -> tuple[ApiKey, str]:
    """A new key with the same name and scopes; the old one stops working at once."""
    p = require_admin(principal)
    old = _get(session, key_id)
    if old.revoked_at is not None:
        raise DomainError(ErrorCode.NOT_ALLOWED, "revoked keys cannot be rotated")
    new, raw = create_key(session, principal=p, name=old.name, scopes=list(old.scopes), request=request)
    old.revoked_at = utcnow()
    old.replaced_by_id = new.id
    session.add(old)
    audit.record(session, action="api_key.rotated", principal=p, target_type="api_key", target_id=key_id,
                 request=request, prefix=old.prefix, new_prefix=new.prefix)
    return new, raw


def authenticate(session: Session, *, raw_key: str) -> ApiCaller | None:
    """None for unknown, malformed, revoked or rotated keys (all answer the same)."""
    if not raw_key or len(raw_key) > 200 or not raw_key.startswith(KEY_PREFIX):
        return None
    key = session.exec(select(ApiKey).where(ApiKey.key_hash == hash_key(raw_key))).first()
    if key is None or key.revoked_at is not None or key.id is None:
        return None
    now = utcnow()
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        key.last_used_at = now
        session.add(key)
    # Actions are recorded as "api" on behalf of the admin who created the key; the role is
    # not a portal role, so no UI-side check ever treats a key as staff.
    principal = Principal(user_id=key.created_by_user_id or 0, role="api", email=f"api-key:{key.prefix}",
                          name=key.name, via="api")
    return ApiCaller(key_id=key.id, prefix=key.prefix, name=key.name, scopes=frozenset(key.scopes),
                     principal=principal)
