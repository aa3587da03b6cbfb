"""Password login, server-side sessions, and the one-time hand-off from the login form
to the API route that sets the HttpOnly cookie."""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
from datetime import datetime, timedelta

from sqlmodel import Session, select

from portal.concurrency import hashing
from portal.db import utcnow
from portal.domain import audit, pwhash, throttle
from portal.domain.audit import RequestInfo
from portal.domain.errors import DomainError, ErrorCode
from portal.domain.principal import Principal
from portal.models import AuthSession, TokenPurpose, User, UserToken
from portal.settings import get_settings

# Set by the login page's script just before it follows the ticket link (see LoginState).
BINDING_COOKIE = "portal_login_binding"
# Writing last_seen_at on every event would turn reads into writes; a minute is precise enough.
_TOUCH_EVERY = timedelta(seconds=60)


def hash_password(password: str) -> str:
    return hashing(pwhash.make, password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """An unknown account (no hash) is checked against a hash all the same, so both answers take
    the same time."""
    return hashing(pwhash.check, password_hash, password)


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def normalize_email(email: str) -> str:
    return email.strip().lower()


def authenticate(session: Session, *, email: str, password: str, request: RequestInfo) -> User:
    """Check a password. Unknown user, inactive user and wrong password all answer AUTH_FAILED;
    repeated failures answer THROTTLED for a short while, for known and unknown emails alike. A
    closed account answers NOT_ALLOWED "account_closed", after the right password only."""
    email_n = normalize_email(email)
    acct, addr = throttle.account_key(email_n), throttle.address_key(request.ip_address)
    if throttle.is_blocked(session, acct, addr):
        throttle.failed_check(throttles=(), action="auth.login_failed", user_id=None, email=email_n[:320],
                              reason="throttled", request=request)
        raise DomainError(ErrorCode.THROTTLED)
    user = session.exec(select(User).where(User.email == email_n)).first()
    ok = verify_password(user.password_hash if user else None, password)
    if user is not None and ok and user.closed_at is not None:
        # Only said after the right password (the same check as any other), so it tells a stranger
        # nothing about which emails have accounts; the owner learns why signing in fails.
        throttle.failed_check(throttles=((acct, throttle.ACCOUNT), (addr, throttle.ADDRESS)),
                              action="auth.login_failed", user_id=user.id, email=email_n[:320], reason="closed",
                              request=request)
        raise DomainError(ErrorCode.NOT_ALLOWED, "account_closed")
    if not user or not ok or not user.is_active or user.closed_at is not None:
        throttle.failed_check(throttles=((acct, throttle.ACCOUNT), (addr, throttle.ADDRESS)),
                              action="auth.login_failed", user_id=user.id if user else None, email=email_n[:320],
                              reason="bad_credentials" if not ok else "inactive", request=request)
        raise DomainError(ErrorCode.AUTH_FAILED)
    if user.role == "customer" and user.email_verified_at is None:
        # Only said after the right password, so it reveals nothing to a stranger.
        raise DomainError(ErrorCode.NOT_ALLOWED, "email_unverified")
    throttle.clear(session, acct)
    if pwhash.needs_rehash(user.password_hash or ""):
        user.password_hash = hash_password(password)
        session.add(user)
    return user


def issue_mfa_pending(session: Session, *, user: User, auth_method: str) -> str:
    """The first factor passed (password or SSO); this token stands for it until a code is given."""
    raw = new_token()
    assert user.id is not None
    session.add(UserToken(user_id=user.id, purpose=TokenPurpose.MFA_PENDING, token_hash=hash_token(raw),
                          expires_at=utcnow() + timedelta(minutes=5), auth_method=auth_method))
    return raw


def peek_mfa_pending(session: Session, *, token: str) -> tuple[User, str] | None:
    tok = session.exec(select(UserToken).where(
        UserToken.token_hash == hash_token(token), UserToken.purpose == TokenPurpose.MFA_PENDING,
    )).first()
    if tok is None or tok.used_at is not None or tok.expires_at < utcnow():
        return None
    user = session.get(User, tok.user_id)
    if user is None or not user.is_active:
        return None
    return user, tok.auth_method


def consume_mfa_pending(session: Session, *, token: str) -> None:
    tok = session.exec(select(UserToken).where(UserToken.token_hash == hash_token(token))).first()
    if tok is not None:
        tok.used_at = utcnow()
        session.add(tok)


def issue_login_ticket(session: Session, *, user: User, auth_method: str = "password",
                       mfa_verified: bool = False, binding: str = "") -> str:
    """A short-lived, single-use ticket the browser trades for a session cookie at /api/auth/session.

    `binding` is a random value the signing-in browser also receives as a cookie; redeeming
    the ticket then needs that cookie too.
    """
    raw = new_token()
    assert user.id is not None
    session.add(UserToken(
        user_id=user.id, purpose=TokenPurpose.LOGIN_TICKET, token_hash=hash_token(raw),
        expires_at=utcnow() + timedelta(seconds=get_settings().login_ticket_seconds),
        auth_method=auth_method, mfa_verified=mfa_verified, binding_hash=hash_token(binding) if binding else "",
    ))
    return raw


@dataclasses.dataclass(frozen=True, slots=True)
class NewSession:
    raw_token: str
    session_id: int
    user_id: int


def redeem_login_ticket(session: Session, *, ticket: str, request: RequestInfo, binding: str = "") -> NewSession:
    now = utcnow()
    tok = session.exec(select(UserToken).where(
        UserToken.token_hash == hash_token(ticket), UserToken.purpose == TokenPurpose.LOGIN_TICKET,
    )).first()
    if tok is None or tok.used_at is not None or tok.expires_at < now:
        raise DomainError(ErrorCode.TOKEN_INVALID)
    if tok.binding_hash and not secrets.compare_digest(tok.binding_hash, hash_token(binding or "")):
        # Another browser than the one that signed in: refuse, and spend the ticket.
        tok.used_at = now
        session.add(tok)
        raise DomainError(ErrorCode.TOKEN_INVALID)
    tok.used_at = now
    session.add(tok)
    user = session.get(User, tok.user_id)
    if user is None or not user.is_active:
        raise DomainError(ErrorCode.TOKEN_INVALID)
    new = create_session(session, user=user, request=request, auth_method=tok.auth_method,
                         mfa_verified=tok.mfa_verified)
    audit.login_succeeded(session, user_id=user.id or 0, customer_id=user.customer_id,
                          method=tok.auth_method, request=request)
    return new


def create_session(session: Session, *, user: User, request: RequestInfo, auth_method: str,
                   mfa_verified: bool) -> NewSession:
    settings = get_settings()
    raw = new_token()
    now = utcnow()
    assert user.id is not None
    row = AuthSession(
        user_id=user.id, token_hash=hash_token(raw), created_at=now, last_seen_at=now,
        expires_at=now + timedelta(hours=settings.session_absolute_hours),
        user_agent=request.user_agent[:400], ip_address=request.ip_address[:64],
        auth_method=auth_method, mfa_verified=mfa_verified,
    )
    session.add(row)
    session.flush()
    assert row.id is not None
    return NewSession(raw_token=raw, session_id=row.id, user_id=user.id)


def resolve_session(session: Session, *, raw_token: str | None) -> Principal | None:
    """The principal behind a session cookie, or None when it is missing, revoked or timed out."""
    return resolve_session_until(session, raw_token=raw_token)[0]


def resolve_session_until(session: Session, *, raw_token: str | None,
                          touch: bool = True) -> tuple[Principal | None, datetime | None]:
    """The principal and the moment its session ends unless used again (idle) or at all
    (absolute), whichever comes first. A tab that keeps the principal must look again then.

    `touch`: this lookup is the person using the session (a request, an event of their tab),
    which records it as its last use. A live push to their tab is not: it looks without
    touching, or a busy account would keep its idle sessions alive for ever."""
    if not raw_token:
        return None, None
    row = session.exec(select(AuthSession).where(AuthSession.token_hash == hash_token(raw_token))).first()
    if row is None or row.revoked_at is not None:
        return None, None
    now = utcnow()
    idle = timedelta(minutes=get_settings().session_idle_minutes)
    if row.expires_at <= now or row.last_seen_at + idle <= now:
        return None, None
    user = session.get(User, row.user_id)
    if user is None or not user.is_active or user.closed_at is not None:
        return None, None
    if touch and now - row.last_seen_at >= _TOUCH_EVERY:
        row.last_seen_at = now
        session.add(row)
    assert user.id is not None
    from portal.domain.mfa import mfa_required_for

    setup_required = not user.mfa_enabled and mfa_required_for(session, role=user.role)
    principal = Principal(user_id=user.id, role=user.role, email=user.email, name=user.full_name,
                          customer_id=user.customer_id, session_id=row.id, mfa_setup_required=setup_required,
                          timezone=user.timezone or "", locale=user.locale or "")
    return principal, min(row.expires_at, row.last_seen_at + idle)


def end_session(session: Session, *, principal: Principal, request: RequestInfo, reason: str = "logout") -> None:
    """Logout: the session row is revoked, so the old cookie is worthless from now on."""
    if principal.session_id is None:
        return
    row = session.get(AuthSession, principal.session_id)
    if row is None or row.user_id != principal.user_id or row.revoked_at is not None:
        return
    row.revoked_at = utcnow()
    row.revoked_reason = reason
    session.add(row)
    audit.logged_out(session, principal=principal, request=request)


def revoke_by_token(session: Session, *, raw_token: str | None, request: RequestInfo) -> None:
    """Used by the logout route, which has the cookie but no principal yet."""
    principal = resolve_session(session, raw_token=raw_token)
    if principal is not None:
        end_session(session, principal=principal, request=request)
